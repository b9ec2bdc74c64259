//! `mailer`: delivers the mail the API queues (SQS `MailQueue`) through the mail transport
//! (`switchboard-mail`). A message that is not a mail fails on its own, is retried by SQS and
//! ends in the DLQ.

use anyhow::Context;
use aws_lambda_events::event::sqs::SqsMessage;
use switchboard_core::ports::{Mail, Mailer};

/// Delivers one queued mail.
pub async fn deliver(mailer: &dyn Mailer, message: SqsMessage) -> anyhow::Result<()> {
    let body = message.body.context("message without a body")?;
    let mail: Mail = serde_json::from_str(&body).context("message is not a mail")?;
    mailer.send(&mail).await
}
