//! Triggers: what starts a workflow's runs besides `POST /v1/workflows/{id}/run` — an event of
//! the workspace (with a filter on its data), a schedule (cron in a time zone), or a signed
//! request to the trigger's own URL.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::event::EventType;
use super::execution::TriggerType;
use crate::object_name;

object_name!(TriggerObject, "trigger");

/// Triggers a workspace may hold.
pub const MAX_TRIGGERS: u32 = 200;

/// A trigger as stored: an inbound trigger's signing secret sealed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredTrigger {
    pub id: String,
    pub workflow_id: String,
    #[serde(rename = "type")]
    pub kind: TriggerType,
    pub event: Option<EventType>,
    #[serde(default)]
    pub filter: BTreeMap<String, Value>,
    pub enabled: bool,
    #[serde(default)]
    pub cron: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    /// For an enabled schedule: when it next starts a run.
    #[serde(default)]
    pub next_run_at: Option<DateTime<Utc>>,
    pub sealed_secret: Option<String>,
    pub secret_hint: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

resource!(StoredTrigger, TRIGGER, TriggerNotFound);

/// A trigger as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Trigger {
    #[schema(example = "trg_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: TriggerObject,
    pub workflow_id: String,
    /// `event`, `schedule` or `inbound`.
    #[serde(rename = "type")]
    pub kind: TriggerType,
    /// For `event`: the type of event that starts a run.
    pub event: Option<EventType>,
    /// For `event`: values the event's `data` must hold, by dotted path (`{"status": "completed"}`).
    #[schema(value_type = Object)]
    pub filter: BTreeMap<String, Value>,
    pub enabled: bool,
    /// For `schedule`: minute, hour, day of month, month, day of week (`0 9 * * MON-FRI`).
    #[schema(example = "0 9 * * MON-FRI")]
    pub cron: Option<String>,
    /// For `schedule`: the IANA time zone `cron` is read in.
    #[schema(example = "America/New_York")]
    pub timezone: Option<String>,
    /// For an enabled `schedule`: when it next starts a run.
    pub next_run_at: Option<DateTime<Utc>>,
    /// For `inbound`: the path a signed POST starts a run at.
    pub inbound_path: Option<String>,
    /// For `inbound`: the first characters of its signing secret.
    pub secret_hint: Option<String>,
    /// For `inbound`: the signing secret, in the answer to creating the trigger only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl StoredTrigger {
    pub fn view(&self) -> Trigger {
        Trigger {
            id: self.id.clone(),
            object: TriggerObject,
            workflow_id: self.workflow_id.clone(),
            kind: self.kind,
            event: self.event,
            filter: self.filter.clone(),
            enabled: self.enabled,
            cron: self.cron.clone(),
            timezone: self.timezone.clone(),
            next_run_at: self.next_run_at,
            inbound_path: (self.kind == TriggerType::Inbound).then(|| format!("/v1/triggers/{}/inbound", self.id)),
            secret_hint: self.secret_hint.clone(),
            secret: None,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// Whether `data` holds every value of the filter.
    pub fn matches(&self, data: &Value) -> bool {
        self.filter.iter().all(|(path, expected)| {
            let found = path.split('.').try_fold(data, |value, segment| value.get(segment));
            match (found, expected) {
                (Some(found), expected) if found == expected => true,
                (Some(Value::String(found)), Value::String(expected)) => found.eq_ignore_ascii_case(expected),
                _ => false,
            }
        })
    }
}
