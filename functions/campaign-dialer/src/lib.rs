//! `campaign-dialer`: runs what the dialer queue carries: campaigns' ticks and the chunks of
//! large audience uploads (see `switchboard::service::campaigns`). A message that is not a
//! job fails on its own and ends in the dead-letter queue.

use anyhow::Context;
use aws_lambda_events::event::sqs::SqsMessage;
use switchboard::service::campaigns::{Dialer, DialerJob};

pub async fn handle(dialer: &Dialer, message: SqsMessage) -> anyhow::Result<()> {
    let body = message.body.context("message without a body")?;
    let job: DialerJob = serde_json::from_str(&body).context("message is not a dialer job")?;
    dialer.run(&job).await.map_err(|e| {
        let cause = e.source.map(|s| format!(": {s:#}")).unwrap_or_default();
        anyhow::anyhow!("{}{cause}", e.message)
    })
}
