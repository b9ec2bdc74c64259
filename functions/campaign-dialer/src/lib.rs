//! `campaign-dialer`: runs what the dialer queue carries: campaigns' ticks and the chunks of
//! large audience uploads (see `switchboard_domain::campaigns`). A message that is not a job
//! fails on its own and ends in the dead-letter queue.

use std::sync::Arc;

use anyhow::Context;
use aws_lambda_events::event::sqs::SqsMessage;
use switchboard_core::clock::Clock;
use switchboard_core::ports::{CallQueue, DialerJob, DialerQueue, Telephony};
use switchboard_domain::campaigns::Dialer;
use switchboard_store::DynamoStore;

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn dialer(
    store: &DynamoStore,
    telephony: Arc<dyn Telephony>,
    call_jobs: Arc<dyn CallQueue>,
    jobs: Arc<dyn DialerQueue>,
    clock: Clock,
) -> Dialer {
    switchboard_runtime::dialer(store, telephony, call_jobs, jobs, clock)
}

pub async fn handle(dialer: &Dialer, message: SqsMessage) -> anyhow::Result<()> {
    let body = message.body.context("message without a body")?;
    let job: DialerJob = serde_json::from_str(&body).context("message is not a dialer job")?;
    Ok(dialer.run(&job).await?)
}
