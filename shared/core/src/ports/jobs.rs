//! Background work and the queues that carry it: the calls' jobs (the simulator's steps, what
//! follows a call's end), the dialer's jobs (campaign ticks, audience chunks) and webhook
//! deliveries. Jobs are JSON messages, tagged by `type`.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::model::CallStatus;

/// The longest a queue holds a job back; a job due later is queued again when it comes
/// (chained delays).
pub const MAX_DELAY: Duration = Duration::from_secs(900);

/// A step of a simulated call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimStep {
    /// The network starts ringing the callee.
    Dial,
    /// The callee picks up, or the call ends busy, unanswered, failed or at voicemail.
    Outcome,
    /// The callee says its next line and the agent answers.
    Converse,
    /// The line drops.
    HangUp,
}

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
    /// A call's last chance: still not ended at `due_at` (unix s; its longest duration and a
    /// grace since it was placed or came in), its final report is taken to be lost, and the
    /// call ends as its provider saw it end, or failed, releasing its hold.
    Overdue {
        workspace_id: String,
        call_id: String,
        due_at: i64,
    },
    /// A campaign's call ended: settle its target, free its slot.
    CampaignCallEnded {
        workspace_id: String,
        call_id: String,
        /// What settling the target takes, carried so that nothing is read for it (absent
        /// from jobs queued before it was carried: the call is read then).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        end: Option<CampaignCallEnd>,
    },
}

/// How a campaign's call ended, as its target's settlement needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignCallEnd {
    pub campaign_id: String,
    /// The number called: the target's key in its campaign.
    pub to: String,
    pub status: CallStatus,
    /// Which of the target's attempts the call was (`None` for calls placed before calls
    /// carried it: the target is read then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
}

#[async_trait]
pub trait CallQueue: Send + Sync {
    async fn enqueue(&self, job: &CallJob, delay: Duration) -> anyhow::Result<()>;
}

/// Work of the dialer queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DialerJob {
    Tick {
        workspace_id: String,
        campaign_id: String,
        /// A scheduled tick (unix s); 0 for one that runs at once.
        #[serde(default)]
        not_before: i64,
    },
    /// Screen and write one chunk of an audience import.
    ImportChunk {
        workspace_id: String,
        campaign_id: String,
        import_id: String,
        chunk: usize,
    },
}

#[async_trait]
pub trait DialerQueue: Send + Sync {
    async fn enqueue(&self, jobs: &[DialerJob], delay: Duration) -> anyhow::Result<()>;
}

/// A delivery to attempt, carried by the webhook queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryJob {
    pub workspace_id: String,
    pub delivery_id: String,
    /// When the attempt is due (unix s): a retry waits longer than a queue's delay allows.
    #[serde(default)]
    pub not_before: i64,
}

#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    async fn enqueue(&self, jobs: &[DeliveryJob], delay: Duration) -> anyhow::Result<()>;
}

/// A step of a workflow run to make (or wait on), carried by the workflow queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowJob {
    pub workspace_id: String,
    pub execution_id: String,
    /// The step's index: a job for a step the run has moved past is stale.
    pub step: usize,
    /// When the step is due (unix s): waits and retries longer than a queue's delay allows
    /// are carried by a chain of jobs.
    #[serde(default)]
    pub not_before: i64,
}

#[async_trait]
pub trait WorkflowQueue: Send + Sync {
    async fn enqueue(&self, jobs: &[WorkflowJob], delay: Duration) -> anyhow::Result<()>;
}

/// Work of the weekly report mail, carried by the report queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum ReportJob {
    /// From the weekly schedule: a job for each workspace, for the week that ended at the
    /// last midnight (UTC).
    Start,
    /// Mails the workspace's owners its report of the seven days before `week_end` (UTC).
    Workspace {
        workspace_id: String,
        week_end: chrono::NaiveDate,
    },
}

#[async_trait]
pub trait ReportQueue: Send + Sync {
    async fn enqueue(&self, jobs: &[ReportJob]) -> anyhow::Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_tagged_json() {
        let job = CallJob::Simulate {
            workspace_id: "ws_1".into(),
            call_id: "call_1".into(),
            step: SimStep::Dial,
            turn: 0,
            elapsed: 0,
        };
        assert_eq!(
            serde_json::to_value(&job).unwrap(),
            serde_json::json!({"type": "simulate", "workspace_id": "ws_1", "call_id": "call_1", "step": "dial", "turn": 0, "elapsed": 0})
        );
    }
}
