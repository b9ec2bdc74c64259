//! `campaign-dialer`: runs what the dialer queue carries: campaigns' ticks and the chunks of
//! large audience uploads (see `switchboard_domain::campaigns`). A message that is not a job
//! fails on its own and ends in the dead-letter queue.

use anyhow::Context;
use aws_lambda_events::event::sqs::SqsMessage;
use switchboard_core::ports::DialerJob;
use switchboard_domain::campaigns::Dialer;

/// The function over its adapters: the dialer over the store, as the `campaigns` and
/// `call-worker` functions make it too.
pub use switchboard_runtime::dialer;

pub async fn handle(dialer: &Dialer, message: SqsMessage) -> anyhow::Result<()> {
    let body = message.body.context("message without a body")?;
    let job: DialerJob = serde_json::from_str(&body).context("message is not a dialer job")?;
    Ok(dialer.run(&job).await?)
}
