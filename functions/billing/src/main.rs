//! The `billing` Lambda function.

use switchboard_runtime::config::PaymentsConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::http_function(PaymentsConfig::read, async |parts, config| {
        let payments = switchboard_runtime::payments(&parts.sdk, &config).await?;
        Ok(billing::service(parts.platform, &parts.store, payments))
    })
    .await
}
