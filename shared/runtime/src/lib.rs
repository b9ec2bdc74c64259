//! What a function's `main.rs` does once per cold start: logging, configuration, the AWS SDK
//! configuration and secrets, and the adapters of the ports built from them. Endpoints come
//! from the standard `AWS_ENDPOINT_URL*` variables, so the same code reaches DynamoDB Local and
//! the moto server.
//!
//! Each adapter family is a feature (`http`, `sqs`, `telephony`, `llm`, `apigw`, `webhooks`),
//! so that a function links only the SDK clients and adapters it uses.

pub mod config;
mod runtime_api;
pub mod telemetry;
pub mod worker;

/// What every function's `main` does first: JSON logging, and under the local stack the bridge
/// that keeps `cargo lambda watch` from losing answers.
pub fn init() {
    telemetry::init();
    runtime_api::install_if_asked();
}

#[cfg(feature = "aws")]
mod aws;
#[cfg(feature = "aws")]
pub use aws::*;
#[cfg(feature = "providers")]
pub mod providers;
