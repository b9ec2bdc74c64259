//! The `webhook-dispatcher` Lambda function (SQS).

use switchboard_core::clock::Clock;
use switchboard_runtime::Parts;
use switchboard_runtime::config::WebhookConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let read = WebhookConfig::read;
    let compose = async |parts: Parts, config: WebhookConfig| {
        let key = switchboard_runtime::key_material(&parts.sdk, &config.key_secret_id).await?;
        let queue = switchboard_runtime::queue(&parts.sdk, &config.queue_url);
        Ok(webhook_dispatcher::dispatcher(
            &parts.store,
            queue,
            key.as_bytes(),
            &config,
            Clock::System,
        ))
    };
    switchboard_runtime::sqs_function(read, compose, webhook_dispatcher::handle).await
}
