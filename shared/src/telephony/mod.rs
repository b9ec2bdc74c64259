//! Telephony adapters (the simulator, the local default, and Twilio) and the call queue that
//! carries the background work of calls: the simulator's steps and what follows a call's end.

pub mod relay;
pub mod simulator;
pub mod twilio;

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use self::simulator::SimStep;

/// Work for the `call-worker`, carried by the call queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CallJob {
    /// The next step of a simulated call.
    Simulate {
        workspace_id: String,
        call_id: String,
        step: SimStep,
        /// The callee's next line (Converse).
        #[serde(default)]
        turn: u32,
        /// Simulated seconds since the callee answered.
        #[serde(default)]
        elapsed: u32,
    },
    /// Store the transcript of an ended call and analyse it.
    PostCall { workspace_id: String, call_id: String },
}

/// Enqueues call jobs, with a delay.
#[async_trait]
pub trait CallQueue: Send + Sync {
    async fn enqueue(&self, job: &CallJob, delay: Duration) -> anyhow::Result<()>;
}

/// SQS's longest message delay; no call job waits longer (the simulator's steps are seconds
/// apart and a call ends within its agent's `max_call_duration`).
pub const MAX_DELAY: Duration = Duration::from_secs(900);

/// The SQS call queue.
pub struct SqsCallQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsCallQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }
}

#[async_trait]
impl CallQueue for SqsCallQueue {
    async fn enqueue(&self, job: &CallJob, delay: Duration) -> anyhow::Result<()> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(serde_json::to_string(job)?)
            .delay_seconds(delay.min(MAX_DELAY).as_secs() as i32)
            .send()
            .await
            .context("enqueueing a call job")?;
        Ok(())
    }
}
