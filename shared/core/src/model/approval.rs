//! Approvals: what an agent may not grant on its own (a concession, a refund waiver, a callback,
//! an escalation) waits for a human's decision.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::object_name;

object_name!(ApprovalObject, "approval");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProposedAction {
    Concession,
    RefundWaiver,
    Callback,
    Escalation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Denied,
    Expired,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Approval {
    #[schema(example = "apr_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: ApprovalObject,
    pub proposed_action: ProposedAction,
    pub proposed_value_minor: Option<i64>,
    pub currency: Option<String>,
    /// Why the agent proposes it.
    pub rationale: String,
    /// What was going on (the other party's words, the call).
    pub context: Option<String>,
    pub status: ApprovalStatus,
    pub expires_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The user or API key that decided.
    pub decided_by: Option<String>,
    pub decision_note: Option<String>,
    pub agent_id: Option<String>,
    pub conversation_id: Option<String>,
    pub call_id: Option<String>,
    pub campaign_id: Option<String>,
    /// The person the conversation was with, when known.
    #[serde(default)]
    pub contact_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Approval {
    /// `expired` once a pending approval's time is up.
    pub fn with_status_at(mut self, now: DateTime<Utc>) -> Self {
        if self.status == ApprovalStatus::Pending && self.expires_at <= now {
            self.status = ApprovalStatus::Expired;
        }
        self
    }
}

resource!(Approval, APPROVAL, ApprovalNotFound);
