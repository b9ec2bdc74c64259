//! Calls: one record per phone call, outbound or inbound, from the moment it is placed or rings
//! until its transcript and analysis are stored.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::conversation::Message;
use crate::object_name;

object_name!(CallObject, "call");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// Where a call is. The first three move forward only; the others are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CallStatus {
    Queued,
    Ringing,
    InProgress,
    Completed,
    Busy,
    NoAnswer,
    Voicemail,
    Failed,
    Canceled,
}

impl CallStatus {
    pub const ALL: [CallStatus; 9] = [
        CallStatus::Queued,
        CallStatus::Ringing,
        CallStatus::InProgress,
        CallStatus::Completed,
        CallStatus::Busy,
        CallStatus::NoAnswer,
        CallStatus::Voicemail,
        CallStatus::Failed,
        CallStatus::Canceled,
    ];

    pub fn is_final(self) -> bool {
        self.stage() == 3
    }

    /// Reports only move a call to a later stage: queued, ringing, in progress, final.
    pub fn stage(self) -> u8 {
        match self {
            CallStatus::Queued => 0,
            CallStatus::Ringing => 1,
            CallStatus::InProgress => 2,
            _ => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Queued => "queued",
            CallStatus::Ringing => "ringing",
            CallStatus::InProgress => "in-progress",
            CallStatus::Completed => "completed",
            CallStatus::Busy => "busy",
            CallStatus::NoAnswer => "no-answer",
            CallStatus::Voicemail => "voicemail",
            CallStatus::Failed => "failed",
            CallStatus::Canceled => "canceled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sentiment {
    Positive,
    Neutral,
    Negative,
}

/// What a call costs: every started minute of conversation at the plan's rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CallCost {
    pub amount_minor: i64,
    #[schema(example = "USD")]
    pub currency: String,
    pub billed_minutes: u32,
    pub per_minute_minor: i64,
}

/// A kept recording of a call: both sides, as one audio file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CallRecording {
    #[schema(example = "audio/wav")]
    pub content_type: String,
    pub duration_seconds: u32,
    pub size_bytes: u64,
    pub created_at: DateTime<Utc>,
    /// When the plan's retention deletes it.
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Call {
    #[schema(example = "call_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: CallObject,
    pub direction: Direction,
    pub status: CallStatus,
    pub agent_id: String,
    /// The workspace's number the call is from (outbound) or to (inbound).
    pub phone_number_id: String,
    /// E.164.
    #[schema(example = "+14155550199")]
    pub from: String,
    /// E.164.
    #[schema(example = "+14155550100")]
    pub to: String,
    /// The contact on the other end, when the workspace has one for the number.
    pub contact_id: Option<String>,
    pub campaign_id: Option<String>,
    /// The conversation the agent held on the call.
    pub conversation_id: Option<String>,
    /// `simulator` or `twilio`.
    pub provider: String,
    pub provider_call_id: Option<String>,
    /// Your own key-value pairs, returned as given.
    pub metadata: BTreeMap<String, String>,
    /// What was said and done, once the call has ended (`transcript.ready`).
    pub transcript: Vec<Message>,
    /// Set with `analysis.complete`.
    pub summary: Option<String>,
    pub sentiment: Option<Sentiment>,
    /// What the call achieved, in a few words (`appointment booked`, `asked not to be called`).
    pub outcome: Option<String>,
    /// A link to the recording's audio, valid for an hour from the read that returned it; null
    /// until the recording is kept, after it expires, and in events (fetch the call for a link).
    pub recording_url: Option<String>,
    /// The recording, when the agent records its calls (`record_calls`) and the callee did not
    /// decline it.
    #[serde(default)]
    pub recording: Option<CallRecording>,
    /// Seconds from answer to hang-up.
    pub duration_seconds: Option<u32>,
    pub cost: Option<CallCost>,
    /// Why the call ended (`hangup`, `max_duration`, `do_not_call`, or the provider's reason).
    pub ended_reason: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

resource!(Call, CALL, CallNotFound);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_written_as_providers_write_them() {
        for status in CallStatus::ALL {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
            assert_eq!(CallStatus::parse(status.as_str()), Some(status));
        }
        assert!(CallStatus::NoAnswer.is_final() && !CallStatus::InProgress.is_final());
    }
}
