//! The API's mailer: it puts each mail on the mail queue, which the `mailer` worker delivers
//! through a transport.

use anyhow::Context;
use async_trait::async_trait;
use serde_json::json;
use switchboard_core::ports::{Mail, Mailer};
use switchboard_https::aws::AwsApi;

/// Sends mail by putting it on the mail queue.
pub struct SqsMailer {
    api: AwsApi,
    queue_url: String,
}

impl SqsMailer {
    pub fn new(sdk: &aws_types::SdkConfig, endpoint: Option<&str>, queue_url: impl Into<String>) -> Self {
        Self {
            api: super::sqs(sdk, endpoint),
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl Mailer for SqsMailer {
    async fn send(&self, mail: &Mail) -> anyhow::Result<()> {
        let request = json!({"QueueUrl": self.queue_url, "MessageBody": serde_json::to_string(mail)?});
        self.api
            .call(super::PROTOCOL, "AmazonSQS.SendMessage", &request)
            .await
            .with_context(|| format!("enqueueing {} mail", mail.kind))?;
        Ok(())
    }
}
