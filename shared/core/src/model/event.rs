//! Events: every state change records one, in the same transaction as the change.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{self, prefix};
use crate::object_name;

object_name!(EventObject, "event");

/// The types of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "call.started")]
    CallStarted,
    #[serde(rename = "call.ended")]
    CallEnded,
    #[serde(rename = "call.failed")]
    CallFailed,
    #[serde(rename = "transcript.ready")]
    TranscriptReady,
    #[serde(rename = "analysis.complete")]
    AnalysisComplete,
    #[serde(rename = "campaign.started")]
    CampaignStarted,
    #[serde(rename = "campaign.paused")]
    CampaignPaused,
    #[serde(rename = "campaign.completed")]
    CampaignCompleted,
    #[serde(rename = "appointment.created")]
    AppointmentCreated,
    #[serde(rename = "appointment.updated")]
    AppointmentUpdated,
    #[serde(rename = "approval.requested")]
    ApprovalRequested,
    #[serde(rename = "approval.decided")]
    ApprovalDecided,
    #[serde(rename = "billing.topup.succeeded")]
    BillingTopupSucceeded,
    #[serde(rename = "billing.low_balance")]
    BillingLowBalance,
    /// Everything held about a person was exported (`data`: the request, never the data).
    #[serde(rename = "dsr.exported")]
    DsrExported,
    /// A person was erased: receivers erase them too (`data.contact_ids`).
    #[serde(rename = "dsr.erased")]
    DsrErased,
    #[serde(rename = "workflow.execution.finished")]
    WorkflowExecutionFinished,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    #[schema(example = "evt_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: EventObject,
    pub event: EventType,
    pub timestamp: DateTime<Utc>,
    pub data: serde_json::Value,
    /// `false` for an event of test-mode data (see `livemode` on objects).
    #[serde(default = "super::account::live")]
    pub livemode: bool,
}

impl Event {
    /// An event about `data` (usually the resource as it now is).
    pub fn new(event: EventType, at: DateTime<Utc>, data: impl Serialize) -> Self {
        Self {
            id: ids::new_id_at(prefix::EVENT, at),
            object: EventObject,
            event,
            timestamp: crate::clock::api_time(at),
            data: serde_json::to_value(data).expect("event data serialises"),
            // The store sets it from the workspace the event is written in.
            livemode: true,
        }
    }
}
