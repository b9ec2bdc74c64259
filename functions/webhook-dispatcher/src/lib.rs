//! `webhook-dispatcher`: delivers what the webhook queue carries (see
//! `switchboard_domain::webhooks::delivery`). A message that is not a delivery fails on its
//! own, is retried by SQS and ends in the dead-letter queue; a receiver that fails is retried
//! on the schedule by new messages, so its message succeeds.

use anyhow::Context;
use aws_lambda_events::event::sqs::SqsMessage;
use switchboard_core::ports::DeliveryJob;
use switchboard_domain::webhooks::delivery::Dispatcher;

/// The function over its adapters: delivery over the store, as the `webhooks` function makes
/// it too (for test deliveries).
pub use switchboard_runtime::dispatcher;

pub async fn handle(dispatcher: &Dispatcher, message: SqsMessage) -> anyhow::Result<()> {
    let body = message.body.context("message without a body")?;
    let job: DeliveryJob = serde_json::from_str(&body).context("message is not a delivery")?;
    dispatcher.run(&job).await.map(|_| ())
}
