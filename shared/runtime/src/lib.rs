//! What a function's `main.rs` does once per cold start: logging, configuration, the AWS SDK
//! configuration and secrets, and the adapters of the ports built from them. Endpoints come
//! from the standard `AWS_ENDPOINT_URL*` variables, so the same code reaches DynamoDB Local and
//! the moto server.
//!
//! Each adapter family is a feature (`http`, `sqs`, `telephony`, `llm`, `apigw`, `webhooks`),
//! so that a function links only the SDK clients and adapters it uses.

pub mod config;
#[cfg(feature = "local-bridge")]
mod runtime_api;
pub mod telemetry;
pub mod worker;

/// What every function's `main` does first: JSON logging, and under the local stack the bridge
/// that keeps `cargo lambda watch` from losing answers.
pub fn init() {
    telemetry::init();
    #[cfg(feature = "local-bridge")]
    runtime_api::install_if_asked();
    // Without the bridge the local stack would lose answers now and then: fail at once instead.
    #[cfg(not(feature = "local-bridge"))]
    if std::env::var("LOCAL_RUNTIME_API_BRIDGE").as_deref() == Ok("1") {
        panic!("LOCAL_RUNTIME_API_BRIDGE=1 asks for a bridge this build lacks (-F switchboard-runtime/local-bridge)");
    }
}

#[cfg(feature = "aws")]
mod aws;
#[cfg(feature = "aws")]
pub use aws::*;
#[cfg(feature = "providers")]
pub mod providers;
