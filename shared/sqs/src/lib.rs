//! SQS adapters: a queue of JSON jobs (the call, dialer and webhook queues are each one) and
//! the mail queue. Sending is all functions ask of SQS (Lambda receives for them), so they sign
//! their two operations themselves rather than link the SDK's SQS client.

mod mail;

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use serde::Serialize;
use serde_json::json;
use switchboard_core::ports::{
    CallJob, CallQueue, DeliveryJob, DeliveryQueue, DialerJob, DialerQueue, MAX_DELAY, ReportJob, ReportQueue,
    WorkflowJob, WorkflowQueue,
};
use switchboard_https::aws::AwsApi;

pub use self::mail::SqsMailer;

/// The version of the AWS JSON protocol SQS speaks.
const PROTOCOL: &str = "1.0";

/// SQS's API at `endpoint` when one is given (a local server), else the region's.
fn sqs(sdk: &aws_types::SdkConfig, endpoint: Option<&str>) -> AwsApi {
    // The SDK gave sends no limit but the connect timeout; a send cut short and sent again
    // would be a duplicate job, so this limit is only against a hung connection.
    AwsApi::new(sdk, "sqs", endpoint, Duration::from_secs(30))
}

pub struct SqsQueue {
    api: AwsApi,
    url: String,
}

impl SqsQueue {
    pub fn new(sdk: &aws_types::SdkConfig, endpoint: Option<&str>, url: impl Into<String>) -> Self {
        Self {
            api: sqs(sdk, endpoint),
            url: url.into(),
        }
    }

    /// Sends `jobs` as JSON messages, visible after `delay` (at most 15 minutes).
    pub async fn send<T: Serialize>(&self, jobs: &[T], delay: Duration) -> anyhow::Result<()> {
        let bodies = jobs.iter().map(serde_json::to_string).collect::<Result<Vec<_>, _>>()?;
        self.send_bodies(&bodies, delay).await
    }

    async fn send_bodies(&self, bodies: &[String], delay: Duration) -> anyhow::Result<()> {
        let delay = delay.min(MAX_DELAY).as_secs();
        // SQS takes at most 10 messages a batch.
        for chunk in bodies.chunks(10) {
            let entries: Vec<_> = chunk
                .iter()
                .enumerate()
                .map(|(i, body)| json!({"Id": i.to_string(), "MessageBody": body, "DelaySeconds": delay}))
                .collect();
            let request = json!({"QueueUrl": self.url, "Entries": entries});
            let answer = self
                .api
                .call(PROTOCOL, "AmazonSQS.SendMessageBatch", &request)
                .await
                .with_context(|| format!("sending to {}", self.url))?;
            let failed = answer["Failed"].as_array().map_or(0, Vec::len);
            anyhow::ensure!(failed == 0, "SQS refused {failed} messages: {}", answer["Failed"]);
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
