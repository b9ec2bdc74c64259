//! The `approvals` Lambda function.

use std::sync::Arc;

use switchboard::config::{Env, HttpConfig, LlmConfig, TwilioConfig};
use switchboard::http::Service;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard::telemetry::init();
    let mut env = Env::process();
    let http = HttpConfig::read(&mut env);
    let llm = LlmConfig::read(&mut env);
    let twilio = TwilioConfig::read(&mut env);
    env.finish()?;
    let (sdk, store, platform) = switchboard::aws::http_platform(&http).await?;
    let engine = switchboard::aws::engine(&store, switchboard::aws::llm(&sdk, &llm).await?);
    let state = approvals::State {
        approvals: Arc::new(store.clone()),
        agents: Arc::new(store.clone()),
        engine,
        voice: twilio.map(|account| switchboard::aws::voice(&sdk, &store, &account)),
    };
    switchboard::http::run(Service::new(platform, state, approvals::routes())).await
}
