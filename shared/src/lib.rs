//! Shared platform of the Switchboard functions.
//!
//! - [`model`]: the domain types; [`ports`]: the traits handlers depend on;
//! - [`store`]: the DynamoDB adapter of every storage port (keys and access patterns in
//!   `store/keys.rs` and `store/ACCESS_PATTERNS.md`); [`mail`]: SQS and outbox mailers;
//! - [`http`]: the request pipeline of SPEC.md §1 and the OpenAPI document;
//! - [`worker`]: SQS workers with partial batch failures;
//! - [`config`], [`aws`], [`telemetry`]: what each `main.rs` calls once per cold start.

pub mod auth;
pub mod aws;
pub mod clock;
pub mod config;
pub mod crud;
pub mod engine;
pub mod error;
pub mod http;
pub mod ids;
pub mod llm;
pub mod mail;
pub mod model;
pub mod ports;
pub mod queue;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod telephony;
pub mod validate;
pub mod webhooks;
pub mod worker;

pub use error::{ApiError, ErrorCode};
