//! The `webhooks` Lambda function.

use switchboard_core::clock::Clock;
use switchboard_runtime::config::WebhookConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::http_function(WebhookConfig::read, async |parts, config| {
        let key = switchboard_runtime::key_material(&parts.sdk, &config.key_secret_id).await?;
        let queue = switchboard_runtime::queue(&parts.sdk, &config.queue_url);
        let dispatcher = switchboard_runtime::dispatcher(&parts.store, queue, key.as_bytes(), &config, Clock::System);
        Ok(webhooks::service(parts.platform, &parts.store, dispatcher))
    })
    .await
}
