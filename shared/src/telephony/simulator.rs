//! The telephony simulator: calls to numbers ending 0001 are busy, 0002 unanswered, 0003
//! failed, 0004 reach voicemail; any other number answers and talks with the agent. It runs
//! on the call queue (the `call-worker` function takes each step) and reports every status
//! through the same code path as a real provider's callbacks, after simulated delays that the
//! time scale compresses (0 in tests).

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ports::{OutboundCall, ProviderError, Telephony};

/// Work for the `call-worker`, carried by the call queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CallJob {
    /// The next step of a simulated call.
    Simulate {
        workspace_id: String,
        call_id: String,
        step: SimStep,
    },
    /// Store the transcript of an ended call and analyse it.
    PostCall { workspace_id: String, call_id: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimStep {
    /// The network starts ringing the callee.
    Dial,
    /// The callee picks up, or the call ends busy, unanswered, failed or at voicemail.
    Outcome,
    /// The agent and the simulated callee talk.
    Converse,
    /// The conversation is over: the line drops.
    HangUp,
}

/// Enqueues call jobs, with a delay.
#[async_trait]
pub trait CallQueue: Send + Sync {
    async fn enqueue(&self, job: &CallJob, delay: Duration) -> anyhow::Result<()>;
}

/// The SQS call queue. Delays beyond SQS's 15 minutes are not needed: no simulated step waits
/// that long (conversations end within `max_call_duration`, and the worker chains longer waits).
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

/// SQS's longest message delay.
pub const MAX_DELAY: Duration = Duration::from_secs(900);

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

/// The simulator as a telephony provider.
pub struct Simulator {
    queue: std::sync::Arc<dyn CallQueue>,
}

impl Simulator {
    pub fn new(queue: std::sync::Arc<dyn CallQueue>) -> Self {
        Self { queue }
    }
}

/// What happens to a call to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Busy,
    NoAnswer,
    Failed,
    Voicemail,
    Answered,
}

pub fn fate(to: &str) -> Fate {
    match &to[to.len().saturating_sub(4)..] {
        "0001" => Fate::Busy,
        "0002" => Fate::NoAnswer,
        "0003" => Fate::Failed,
        "0004" => Fate::Voicemail,
        _ => Fate::Answered,
    }
}

/// The simulator's id for a call.
pub fn provider_call_id(call_id: &str) -> String {
    format!("SIM-{call_id}")
}

#[async_trait]
impl Telephony for Simulator {
    fn provider(&self) -> &'static str {
        "simulator"
    }

    async fn attach_number(&self, _phone_e164: &str) -> Result<Option<String>, ProviderError> {
        Ok(None)
    }

    async fn place_call(&self, call: &OutboundCall) -> Result<String, ProviderError> {
        let job = CallJob::Simulate {
            workspace_id: call.workspace_id.clone(),
            call_id: call.call_id.clone(),
            step: SimStep::Dial,
        };
        self.queue
            .enqueue(&job, Duration::ZERO)
            .await
            .map_err(ProviderError::Unavailable)?;
        Ok(provider_call_id(&call.call_id))
    }

    async fn hang_up(&self, _provider_call_id: &str) -> Result<(), ProviderError> {
        // A simulated call ends by itself at its HangUp step; the status path ignores later reports.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_four_digits_decide_a_simulated_calls_fate() {
        assert_eq!(fate("+14155550001"), Fate::Busy);
        assert_eq!(fate("+14155550002"), Fate::NoAnswer);
        assert_eq!(fate("+14155550003"), Fate::Failed);
        assert_eq!(fate("+14155550004"), Fate::Voicemail);
        assert_eq!(fate("+14155550100"), Fate::Answered);
    }

    #[test]
    fn jobs_are_tagged_json() {
        let job = CallJob::Simulate {
            workspace_id: "ws_1".into(),
            call_id: "call_1".into(),
            step: SimStep::Dial,
        };
        assert_eq!(
            serde_json::to_value(&job).unwrap(),
            serde_json::json!({"type": "simulate", "workspace_id": "ws_1", "call_id": "call_1", "step": "dial"})
        );
    }
}
