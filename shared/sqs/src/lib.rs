//! SQS adapters: a queue of JSON jobs (the call, dialer and webhook queues are each one) and
//! the mail queue.

mod mail;

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use serde::Serialize;
use switchboard_core::ports::{
    CallJob, CallQueue, DeliveryJob, DeliveryQueue, DialerJob, DialerQueue, MAX_DELAY, ReportJob, ReportQueue,
    WorkflowJob, WorkflowQueue,
};

pub use self::mail::SqsMailer;

pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    /// Sends `jobs` as JSON messages, visible after `delay` (at most 15 minutes).
    pub async fn send<T: Serialize>(&self, jobs: &[T], delay: Duration) -> anyhow::Result<()> {
        let delay = delay.min(MAX_DELAY).as_secs() as i32;
        // SQS takes at most 10 messages a batch.
        for chunk in jobs.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, job)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(serde_json::to_string(job)?)
                        .delay_seconds(delay)
                        .build()
                        .context("a batch entry")
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .with_context(|| format!("sending to {}", self.url))?;
            anyhow::ensure!(
                out.failed.is_empty(),
                "SQS refused {} messages: {:?}",
                out.failed.len(),
                out.failed
            );
        }
        Ok(())
    }
}

#[async_trait]
impl CallQueue for SqsQueue {
    async fn enqueue(&self, job: &CallJob, delay: Duration) -> anyhow::Result<()> {
        self.send(std::slice::from_ref(job), delay).await
    }
}

#[async_trait]
impl DialerQueue for SqsQueue {
    async fn enqueue(&self, jobs: &[DialerJob], delay: Duration) -> anyhow::Result<()> {
        self.send(jobs, delay).await
    }
}

#[async_trait]
impl DeliveryQueue for SqsQueue {
    async fn enqueue(&self, jobs: &[DeliveryJob], delay: Duration) -> anyhow::Result<()> {
        self.send(jobs, delay).await
    }
}

#[async_trait]
impl WorkflowQueue for SqsQueue {
    async fn enqueue(&self, jobs: &[WorkflowJob], delay: Duration) -> anyhow::Result<()> {
        self.send(jobs, delay).await
    }
}

#[async_trait]
impl ReportQueue for SqsQueue {
    async fn enqueue(&self, jobs: &[ReportJob]) -> anyhow::Result<()> {
        self.send(jobs, Duration::ZERO).await
    }
}
