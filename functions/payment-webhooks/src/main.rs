//! The `payment-webhooks` Lambda function.

use switchboard_runtime::config::PaymentsConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::http_function(PaymentsConfig::read, async |parts, config| {
        let secret = switchboard_runtime::payment_webhook_secret(&parts.sdk, &config).await?;
        Ok(payment_webhooks::service(parts.platform, &parts.store, secret))
    })
    .await
}
