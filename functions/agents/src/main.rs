//! The `agents` Lambda function.

use std::sync::Arc;

use switchboard::config::{Env, HttpConfig, LlmConfig};
use switchboard::http::Service;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard::telemetry::init();
    let mut env = Env::process();
    let http = HttpConfig::read(&mut env);
    let llm = LlmConfig::read(&mut env);
    env.finish()?;
    let (sdk, store, platform) = switchboard::aws::http_platform(&http).await?;
    let engine = switchboard::aws::engine(&store, switchboard::aws::llm(&sdk, &llm).await?);
    let state = agents::State {
        agents: Arc::new(store.clone()),
        contacts: Arc::new(store),
        engine,
    };
    switchboard::http::run(Service::new(platform, state, agents::routes())).await
}
