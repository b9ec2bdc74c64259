//! Telephony adapters (the simulator, the local default, and Twilio) and the call queue that
//! carries the background work of calls: the simulator's steps and what follows a call's end.

pub mod relay;
pub mod simulator;
pub mod twilio;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::queue::SqsQueue;

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
    /// A campaign's call ended: settle its target, free its slot.
    CampaignCallEnded { workspace_id: String, call_id: String },
}

/// Enqueues call jobs, with a delay.
#[async_trait]
pub trait CallQueue: Send + Sync {
    async fn enqueue(&self, job: &CallJob, delay: Duration) -> anyhow::Result<()>;
}

#[async_trait]
impl CallQueue for SqsQueue {
    async fn enqueue(&self, job: &CallJob, delay: Duration) -> anyhow::Result<()> {
        self.send(std::slice::from_ref(job), delay).await
    }
}
