//! The `calls` Lambda function.

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
    let (telephony_adapter, twilio) = switchboard::aws::telephony(&sdk, &telephony).await?;
    let state = calls::State {
        calls: Arc::new(store.clone()),
        agents: Arc::new(store.clone()),
        numbers: Arc::new(store.clone()),
        contacts: Arc::new(store.clone()),
        accounts: Arc::new(store.clone()),
        directory: Arc::new(store.clone()),
        dnc: Arc::new(store),
        telephony: telephony_adapter,
        jobs: switchboard::aws::call_queue(&sdk, &telephony),
        twilio,
    };
    switchboard::http::run(Service::new(platform, state, calls::routes())).await
}
