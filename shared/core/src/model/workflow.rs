//! Workflows: ordered steps run when a trigger fires (an event, a schedule, an inbound URL, or
//! a run asked for through the API), each run an execution with its steps' log.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::object_name;

object_name!(WorkflowObject, "workflow");

/// Workflows a workspace may hold.
pub const MAX_WORKFLOWS: u32 = 100;
/// Steps a workflow may have.
pub const MAX_STEPS: usize = 25;
/// The longest wait: 30 days.
pub const MAX_WAIT_MINUTES: u32 = 30 * 24 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowStatus {
    /// Being written: runs only when asked through the API.
    Draft,
    /// Its triggers start runs.
    Live,
    /// Its triggers are held; runs already started finish.
    Paused,
    /// Done with: it starts no run and cannot be changed.
    Retired,
}

/// How a condition compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    Equals,
    NotEquals,
    Contains,
    Exists,
    GreaterThan,
    LessThan,
}

/// A step of a workflow. Strings in its fields may hold placeholders: `{{trigger.data...}}`
/// (what started the run) and `{{steps.<id>.output...}}` (what an earlier step gave).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Step {
    /// A request through a connection: one of its connector's actions, with `input`.
    Http(HttpStep),
    /// Places an outbound call (DNC, cool-down and billing checks apply).
    StartCall(StartCallStep),
    /// Adds a number to the do-not-call list.
    AddToDnc(AddToDncStep),
    /// Creates the contact of a phone number, or updates it.
    UpsertContact(UpsertContactStep),
    /// Sends a text message to an agent (a conversation of its own per run).
    SendAgentMessage(SendAgentMessageStep),
    /// Waits, from a minute to 30 days.
    Wait(WaitStep),
    /// Goes on when it holds; otherwise skips to a later step (or ends the run).
    Condition(ConditionStep),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpStep {
    /// Letters, digits and `_`, unique in the workflow: what later steps refer to.
    pub id: String,
    pub connection_id: String,
    /// One of the connection's connector's actions.
    pub action: String,
    /// The action's `{{input...}}` values.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    #[schema(value_type = Object)]
    pub input: Value,
    /// Attempts before the run fails (1 to 10, 5 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartCallStep {
    pub id: String,
    pub agent_id: String,
    pub phone_number_id: String,
    /// The number to call (E.164), usually a placeholder.
    pub to: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddToDncStep {
    pub id: String,
    pub phone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpsertContactStep {
    pub id: String,
    pub phone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Attributes to set (strings, placeholders allowed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendAgentMessageStep {
    pub id: String,
    pub agent_id: String,
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitStep {
    pub id: String,
    pub minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionStep {
    pub id: String,
    /// The value tested, usually a placeholder.
    pub value: String,
    pub comparison: Comparison,
    /// What `value` is compared with (not for `exists`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<Value>,
    /// The later step to go to when the condition does not hold; `null`: the run ends.
    pub otherwise: Option<String>,
}

impl Step {
    pub fn id(&self) -> &str {
        match self {
            Step::Http(s) => &s.id,
            Step::StartCall(s) => &s.id,
            Step::AddToDnc(s) => &s.id,
            Step::UpsertContact(s) => &s.id,
            Step::SendAgentMessage(s) => &s.id,
            Step::Wait(s) => &s.id,
            Step::Condition(s) => &s.id,
        }
    }
}

/// A workflow: its steps in order, at the revision its runs started with.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Workflow {
    #[schema(example = "wf_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: WorkflowObject,
    #[schema(example = "Booked calls to the CRM")]
    pub name: String,
    pub description: Option<String>,
    pub status: WorkflowStatus,
    /// Grows by one each time its steps change; a run keeps the revision it started with.
    pub revision: u32,
    pub steps: Vec<Step>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

resource!(Workflow, WORKFLOW, WorkflowNotFound);
