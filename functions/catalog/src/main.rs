//! The `catalog` Lambda function.

use std::sync::Arc;

use switchboard::config::{HttpConfig, Providers};
use switchboard::http::Service;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard::telemetry::init();
    let config = HttpConfig::from_env()?;
    let providers = Providers::from_env()?;
    let (_, store, platform) = switchboard::aws::http_platform(&config).await?;
    let state = catalog::State {
        store: Arc::new(store),
        providers,
    };
    switchboard::http::run(Service::new(platform, state, catalog::routes())).await
}
