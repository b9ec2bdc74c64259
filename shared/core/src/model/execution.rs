//! Executions: one run of a workflow, with the steps it started with and each step's log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::workflow::Step;
use crate::object_name;

object_name!(ExecutionObject, "execution");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    /// A step is being run, retried or waited on.
    Running,
    /// Every step ran (or was skipped by a condition).
    Succeeded,
    /// A step failed on its last attempt.
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    /// Failed an attempt; the next is due at `retry_at`.
    Retrying,
    /// A wait step, until `resume_at`.
    Waiting,
    Succeeded,
    Failed,
    /// Passed over by a condition that did not hold.
    Skipped,
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TriggerType {
    /// `POST /v1/workflows/{id}/run`.
    Manual,
    Event,
    Schedule,
    Inbound,
}

/// One attempt of a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StepAttempt {
    pub number: u32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    /// The outside API's HTTP status, for HTTP steps that got an answer.
    pub status_code: Option<u16>,
    pub error: Option<String>,
}

/// A step of a run: what it was given, what it gave, and each attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StepRun {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: StepStatus,
    /// The step's fields with its placeholders filled.
    #[schema(value_type = Option<Object>)]
    pub input: Option<Value>,
    /// What the step gave (an HTTP step: the action's outputs, or the API's JSON answer).
    pub output: Option<Value>,
    pub attempts: Vec<StepAttempt>,
    pub retry_at: Option<DateTime<Utc>>,
    pub resume_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// One run of a workflow.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Execution {
    #[schema(example = "exe_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: ExecutionObject,
    pub workflow_id: String,
    /// The workflow's revision the run started with, whose steps it runs.
    pub workflow_revision: u32,
    pub trigger: TriggerType,
    /// What started the run, as `{{trigger...}}` placeholders read it (`data`, and for events
    /// `event` and `event_id`).
    #[schema(value_type = Object)]
    pub input: Value,
    pub status: ExecutionStatus,
    /// The step running next (its index); the number of steps once the run is over.
    pub cursor: usize,
    pub steps: Vec<StepRun>,
    /// Why the run failed.
    pub error: Option<String>,
    /// The workflow's steps as the run started with them.
    pub definition: Vec<Step>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

resource!(Execution, EXECUTION, ExecutionNotFound);
