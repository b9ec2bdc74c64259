//! What a function's `main.rs` does once per cold start: logging, configuration, the AWS SDK
//! configuration and secrets, and the adapters of the ports built from them. Endpoints come
//! from the standard `AWS_ENDPOINT_URL*` variables, so the same code reaches DynamoDB Local and
//! the moto server.
//!
//! Each adapter family is a feature (`http`, `sqs`, `telephony`, `llm`, `apigw`, `webhooks`),
//! so that a function links only the SDK clients and adapters it uses.

pub mod config;
pub mod telemetry;
pub mod worker;

#[cfg(feature = "aws")]
mod aws;
#[cfg(feature = "aws")]
pub use aws::*;
#[cfg(feature = "providers")]
pub mod providers;
