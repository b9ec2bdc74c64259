//! The `appointments` Lambda function.

use switchboard_runtime::config::HttpConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::telemetry::init();
    let config = HttpConfig::from_env()?;
    let (_, store, platform) = switchboard_runtime::http_platform(&config).await?;
    switchboard_runtime::serve(appointments::service(platform, &store)).await
}
