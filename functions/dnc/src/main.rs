//! The `dnc` Lambda function.

use std::sync::Arc;

use switchboard::config::HttpConfig;
use switchboard::http::Service;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard::telemetry::init();
    let config = HttpConfig::from_env()?;
    let (_, store, platform) = switchboard::aws::http_platform(&config).await?;
    let state = dnc::State {
        dnc: Arc::new(store.clone()),
        accounts: Arc::new(store),
    };
    switchboard::http::run(Service::new(platform, state, dnc::routes())).await
}
