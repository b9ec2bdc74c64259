//! The `numbers` Lambda function.

use std::sync::Arc;

use switchboard::config::{Env, HttpConfig, TelephonyConfig};
use switchboard::http::Service;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard::telemetry::init();
    let mut env = Env::process();
    let http = HttpConfig::read(&mut env);
    let telephony = TelephonyConfig::read(&mut env);
    env.finish()?;
    let (sdk, store, platform) = switchboard::aws::http_platform(&http).await?;
    let state = numbers::State {
        numbers: Arc::new(store.clone()),
        agents: Arc::new(store.clone()),
        accounts: Arc::new(store),
        telephony: switchboard::aws::telephony(&sdk, &telephony).await?.0,
    };
    switchboard::http::run(Service::new(platform, state, numbers::routes())).await
}
