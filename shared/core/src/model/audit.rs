//! The audit log: one entry for each state change a credential makes — who, what, when and
//! from where — written with the change itself and never changed afterwards.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::object_name;

object_name!(AuditEntryObject, "audit_entry");

/// Who made a change: a person signed in, or an API key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Actor {
    #[serde(rename = "type")]
    pub kind: ActorKind,
    /// The user's id (`usr_...`) or the API key's (`key_...`).
    #[schema(example = "usr_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    /// The signed-in person's email; null for an API key.
    pub email: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    ApiKey,
}

/// What a change was made to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditSubject {
    #[serde(rename = "type")]
    #[schema(example = "agent")]
    pub kind: String,
    /// Null when the change is to the workspace's settings rather than to one resource.
    #[schema(example = "agt_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: Option<String>,
}

/// Where a change came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditOrigin {
    /// The `X-Request-Id` of the request that made the change.
    #[schema(example = "req_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub request_id: String,
    #[schema(example = "PATCH")]
    pub method: String,
    #[schema(example = "/v1/agents/agt_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub path: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    #[schema(example = "aud_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: AuditEntryObject,
    pub occurred_at: DateTime<Utc>,
    pub actor: Actor,
    /// `<resource type>.<verb>`: `agent.create`, `agent.update`, `campaign.start`...
    #[schema(example = "agent.update")]
    pub action: String,
    pub resource: AuditSubject,
    /// Names of the fields the request set (never their values).
    #[schema(example = json!(["name", "voice"]))]
    pub changes: Vec<String>,
    pub request: AuditOrigin,
    /// When the entry leaves the log: the plan's audit retention after it was made.
    pub expires_at: DateTime<Utc>,
}

resource!(AuditEntry, AUDIT_ENTRY, AuditEntryNotFound);
