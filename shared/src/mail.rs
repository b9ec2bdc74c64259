//! Mail adapters. The API enqueues mail ([`SqsMailer`]); the `mailer` worker delivers it
//! through a transport. Offline ([`OutboxMailer`]) is the local default: it writes each mail
//! as a JSON file into a folder and logs that it did.

use std::path::PathBuf;

use anyhow::Context;
use async_trait::async_trait;

use crate::ports::{Mail, Mailer};

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

/// Delivers mail into a local folder (or only the log when none is set).
pub struct OutboxMailer {
    dir: Option<PathBuf>,
}

impl OutboxMailer {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: &Mail) -> anyhow::Result<()> {
        if let Some(dir) = &self.dir {
            tokio::fs::create_dir_all(dir)
                .await
                .with_context(|| format!("creating {}", dir.display()))?;
            let name = format!(
                "{}-{}.json",
                chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"),
                crate::auth::secret::sha256_hex(&mail.to)[..12].to_owned()
            );
            let path = dir.join(name);
            tokio::fs::write(&path, serde_json::to_vec_pretty(mail)?)
                .await
                .with_context(|| format!("writing {}", path.display()))?;
            tracing::info!(kind = %mail.kind, path = %path.display(), "mail written to outbox");
        } else {
            tracing::info!(kind = %mail.kind, "mail accepted (offline mailer without outbox folder)");
        }
        Ok(())
    }
}
