//! The API's mailer: it puts each mail on the mail queue, which the `mailer` worker delivers
//! through a transport.

use anyhow::Context;
use async_trait::async_trait;
use switchboard_core::ports::{Mail, Mailer};

/// Sends mail by putting it on the mail queue.
pub struct SqsMailer {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsMailer {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl Mailer for SqsMailer {
    async fn send(&self, mail: &Mail) -> anyhow::Result<()> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(serde_json::to_string(mail)?)
            .send()
            .await
            .with_context(|| format!("enqueueing {} mail", mail.kind))?;
        Ok(())
    }
}
