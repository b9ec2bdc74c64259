//! Where each resource lives in the table: its collection, the guard items of values only one
//! resource may hold, its places in the secondary indexes, which index each way of listing it
//! reads, and how long it is kept. The rest of the code names none of this.

use chrono::{DateTime, Duration, Utc};
use switchboard_core::ErrorCode;
use switchboard_core::ids;
use switchboard_core::model::{
    Agent, Appointment, AppointmentStatus, Approval, AuditEntry, Call, Campaign, Channel, Connector, Contact,
    Conversation, Customer, DELIVERY_RETENTION_DAYS, Delivery, Direction, EventType, Execution, LedgerEntry,
    NumberStatus, PhoneNumber, SLOT_MINUTES, StoredConnection, StoredSecret, StoredTrigger, TriggerType,
    WebhookEndpoint, Workflow,
};
use switchboard_core::ports::{ListBy, Resource, Unique};

/// A secondary index of the table (generic keys, all attributes projected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    Gsi1,
    Gsi2,
    /// GSI3: a contact's timeline across collections (calls, chats, appointments, approvals);
    /// its partition is the contact's, not a collection's.
    Timeline,
}

/// Where a resource appears in a secondary index: in the partition `<ws>#<COLLECTION>#<partition>`
/// (the timeline's: `<ws>#TIMELINE#<contact>`) at `sort`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub index: Index,
    pub partition: String,
    pub sort: String,
}

/// An item written, moved and deleted with a resource, in the same transaction: a value only
/// one resource may hold, or the resource's entry in a global list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    /// Names the kind of value; part of the guard item's key.
    pub kind: &'static str,
    pub value: String,
    /// Answered when another resource holds the value.
    pub conflict: ErrorCode,
    pub reach: Reach,
}

/// Where a guard's item lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Unique among the workspace's values of its kind.
    Workspace,
    /// Unique among every workspace's; the item also leads from the value to its workspace.
    Global,
    /// Not unique: one of many entries in the global partition of the value (the triggers
    /// due in one minute), each keyed by its workspace and resource.
    Listed,
}

/// The kinds of guards.
pub const CONTACT_PHONE: &str = "CONTACT_PHONE";
pub const SECRET_NAME: &str = "SECRET_NAME";
pub const APPOINTMENT_SLOT: &str = "APPOINTMENT_SLOT";
pub const NUMBER: &str = "NUMBER";
pub const PROVIDER_CALL: &str = "PROVIDER_CALL";
/// The global guard of an inbound trigger's id, leading to its workspace.
pub const TRIGGER: &str = "TRIGGER";
/// The global guard of a customer's id, leading to its agency.
pub const CUSTOMER: &str = "CUSTOMER";
/// The global list of the schedule triggers due in a minute (`SCHEDULE#2026-12-03T05:31`).
pub const SCHEDULE: &str = "SCHEDULE";

/// The list a schedule trigger due at `at` is in.
pub fn schedule_minute(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M").to_string()
}

/// How a resource is stored.
pub trait Layout: Resource {
    /// The collection's name in keys (`AGENT`); lower-cased, the `entity` attribute.
    const COLLECTION: &'static str;

    fn guards(&self) -> Vec<Guard> {
        Vec::new()
    }

    /// The resource's places in the secondary indexes (at most one per index).
    fn index_entries(&self) -> Vec<IndexEntry> {
        Vec::new()
    }

    /// When DynamoDB's TTL may delete the resource.
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        None
    }

    /// The index partition a list reads (`None`: the collection itself), or `None` when the
    /// collection cannot be listed that way.
    fn list_index(by: &ListBy) -> Option<Option<(Index, String)>> {
        matches!(by, ListBy::All).then_some(None)
    }

    /// Sort-key bounds of a list's time range: ids, which sort by creation time.
    fn sort_bounds(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> (String, String) {
        ids::time_range(Self::ID_PREFIX, from, to)
    }
}

/// A time as sort keys hold it.
pub(crate) fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The timeline's sort key: when something happened, then its id.
pub(crate) fn timeline_sort(at: DateTime<Utc>, id: &str) -> String {
    format!("{}#{id}", stamp(at))
}

/// The longest `+<country calling code>`, what an erased call keeps of the other party.
const MAX_COUNTRY_CODE: usize = 4;

/// On the timeline of a contact (`con_...`) or, for a call with none, of a number (`+...`).
fn on_timeline(contact_id: &str, at: DateTime<Utc>, id: &str) -> IndexEntry {
    IndexEntry {
        index: Index::Timeline,
        partition: contact_id.to_owned(),
        sort: timeline_sort(at, id),
    }
}

/// The guard of a unique value a resource is found by.
pub(crate) fn guard_of(unique: &Unique) -> Guard {
    match unique {
        Unique::ContactPhone(phone) => Guard {
            kind: CONTACT_PHONE,
            value: phone.clone(),
            conflict: ErrorCode::PhoneNumberTaken,
            reach: Reach::Workspace,
        },
        Unique::SecretName(name) => Guard {
            kind: SECRET_NAME,
            value: name.clone(),
            conflict: ErrorCode::SecretNameTaken,
            reach: Reach::Workspace,
        },
    }
}

/// The global guard leading from a provider's id of a call to the call.
pub(crate) fn provider_call_value(provider: &str, provider_call_id: &str) -> String {
    format!("{provider}#{provider_call_id}")
}

impl Layout for Agent {
    const COLLECTION: &'static str = "AGENT";
}

impl Layout for Campaign {
    const COLLECTION: &'static str = "CAMPAIGN";
}

impl Layout for WebhookEndpoint {
    const COLLECTION: &'static str = "WEBHOOK";
}

impl Layout for StoredSecret {
    const COLLECTION: &'static str = "SECRET";

    fn guards(&self) -> Vec<Guard> {
        vec![guard_of(&Unique::SecretName(self.name.clone()))]
    }
}

impl Layout for Connector {
    const COLLECTION: &'static str = "CONNECTOR";
}

impl Layout for Workflow {
    const COLLECTION: &'static str = "WORKFLOW";
}

impl Layout for StoredTrigger {
    const COLLECTION: &'static str = TRIGGER;

    /// An inbound trigger is found from its URL, before its workspace is known; a schedule
    /// trigger, from the list of the minute it is next due in.
    fn guards(&self) -> Vec<Guard> {
        let inbound = (self.kind == TriggerType::Inbound).then(|| Guard {
            kind: TRIGGER,
            value: self.id.clone(),
            conflict: ErrorCode::ConcurrentModification,
            reach: Reach::Global,
        });
        let due = self.next_run_at.filter(|_| self.enabled).map(|at| Guard {
            kind: SCHEDULE,
            value: schedule_minute(at),
            conflict: ErrorCode::ConcurrentModification,
            reach: Reach::Listed,
        });
        inbound.into_iter().chain(due).collect()
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        self.event
            .iter()
            .map(|event| IndexEntry {
                index: Index::Gsi1,
                partition: format!("EVENT#{}", event_name(*event)),
                sort: self.id.clone(),
            })
            .collect()
    }

    fn list_index(by: &ListBy) -> Option<Option<(Index, String)>> {
        match by {
            ListBy::All => Some(None),
            ListBy::TriggerEvent(event) => Some(Some((Index::Gsi1, format!("EVENT#{}", event_name(*event))))),
            _ => None,
        }
    }
}

/// An event type's name (`call.ended`).
fn event_name(event: EventType) -> String {
    serde_json::to_value(event)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Layout for Execution {
    const COLLECTION: &'static str = "EXECUTION";

    fn index_entries(&self) -> Vec<IndexEntry> {
        vec![IndexEntry {
            index: Index::Gsi1,
            partition: format!("WORKFLOW#{}", self.workflow_id),
            sort: self.id.clone(),
        }]
    }

    fn list_index(by: &ListBy) -> Option<Option<(Index, String)>> {
        match by {
            ListBy::All => Some(None),
            ListBy::Workflow(workflow) => Some(Some((Index::Gsi1, format!("WORKFLOW#{workflow}")))),
            _ => None,
        }
    }
}

impl Layout for StoredConnection {
    const COLLECTION: &'static str = "CONNECTION";
}

impl Layout for Customer {
    const COLLECTION: &'static str = CUSTOMER;

    fn guards(&self) -> Vec<Guard> {
        vec![Guard {
            kind: CUSTOMER,
            value: self.id.clone(),
            conflict: ErrorCode::ConcurrentModification,
            reach: Reach::Global,
        }]
    }
}

impl Layout for Contact {
    const COLLECTION: &'static str = "CONTACT";

    fn guards(&self) -> Vec<Guard> {
        vec![guard_of(&Unique::ContactPhone(self.phone.clone()))]
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        self.email
            .iter()
            .map(|email| IndexEntry {
                index: Index::Gsi1,
                partition: format!("EMAIL#{email}"),
                sort: self.id.clone(),
            })
            .collect()
    }

    fn list_index(by: &ListBy) -> Option<Option<(Index, String)>> {
        match by {
            ListBy::All => Some(None),
            ListBy::Email(email) => Some(Some((Index::Gsi1, format!("EMAIL#{email}")))),
            _ => None,
        }
    }
}

/// Appointments sort by start time in both their indexes: `<start>#<id>`.
const APPOINTMENTS_BY_START: &str = "START";

impl Layout for Appointment {
    const COLLECTION: &'static str = "APPOINTMENT";

    /// A confirmed appointment holds every 5-minute slot it covers: no two overlap.
    fn guards(&self) -> Vec<Guard> {
        if self.status != AppointmentStatus::Confirmed {
            return Vec::new();
        }
        let mut slots = Vec::new();
        let mut slot = self.start_time;
        while slot < self.end_time {
            slots.push(Guard {
                kind: APPOINTMENT_SLOT,
                value: stamp(slot),
                conflict: ErrorCode::AppointmentConflict,
                reach: Reach::Workspace,
            });
            slot += Duration::minutes(SLOT_MINUTES);
        }
        slots
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        let by_start = timeline_sort(self.start_time, &self.id);
        vec![
            IndexEntry {
                index: Index::Gsi1,
                partition: APPOINTMENTS_BY_START.into(),
                sort: by_start.clone(),
            },
            IndexEntry {
                index: Index::Gsi2,
                partition: format!("CONTACT#{}", self.contact_id),
                sort: by_start,
            },
            on_timeline(&self.contact_id, self.created_at, &self.id),
        ]
    }

    fn list_index(by: &ListBy) -> Option<Option<(Index, String)>> {
        match by {
            ListBy::All => Some(Some((Index::Gsi1, APPOINTMENTS_BY_START.into()))),
            ListBy::Contact(contact) => Some(Some((Index::Gsi2, format!("CONTACT#{contact}")))),
            _ => None,
        }
    }

    /// "0" sorts below every time, "~" above every id of the same second.
    fn sort_bounds(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> (String, String) {
        (
            from.map_or_else(|| "0".into(), stamp),
            to.map_or_else(|| "~".into(), |t| format!("{}#~", stamp(t))),
        )
    }
}

/// Entries are read newest first, by id (creation time), optionally by kind (a filter).
impl Layout for LedgerEntry {
    const COLLECTION: &'static str = "LEDGER";
}

/// Audit entries: the workspace's log by time, and the same entries by resource (GSI1) and by
/// actor (GSI2); DynamoDB's TTL removes them after the plan's retention.
impl Layout for AuditEntry {
    const COLLECTION: &'static str = "AUDIT";

    fn index_entries(&self) -> Vec<IndexEntry> {
        let mut entries = vec![IndexEntry {
            index: Index::Gsi2,
            partition: format!("ACTOR#{}", self.actor.id),
            sort: self.id.clone(),
        }];
        if let Some(id) = &self.resource.id {
            entries.push(IndexEntry {
                index: Index::Gsi1,
                partition: format!("RESOURCE#{id}"),
                sort: self.id.clone(),
            });
        }
        entries
    }

    fn expires_at(&self) -> Option<DateTime<Utc>> {
        Some(self.expires_at)
    }

    fn list_index(by: &ListBy) -> Option<Option<(Index, String)>> {
        match by {
            ListBy::All => Some(None),
            ListBy::AuditResource(id) => Some(Some((Index::Gsi1, format!("RESOURCE#{id}")))),
            ListBy::Actor(actor) => Some(Some((Index::Gsi2, format!("ACTOR#{actor}")))),
            _ => None,
        }
    }
}

impl Layout for Approval {
    const COLLECTION: &'static str = "APPROVAL";

    fn index_entries(&self) -> Vec<IndexEntry> {
        self.contact_id
            .iter()
            .map(|contact| on_timeline(contact, self.created_at, &self.id))
            .collect()
    }
}

impl Layout for Conversation {
    const COLLECTION: &'static str = "CONVERSATION";

    /// Chats are on their contact's timeline; a call's conversation is there as the call.
    fn index_entries(&self) -> Vec<IndexEntry> {
        match (&self.contact_id, self.channel) {
            (Some(contact), Channel::Chat) => vec![on_timeline(contact, self.created_at, &self.id)],
            _ => Vec::new(),
        }
    }
}

impl Layout for PhoneNumber {
    const COLLECTION: &'static str = "NUMBER";

    /// An active number belongs to one workspace in the whole service.
    fn guards(&self) -> Vec<Guard> {
        match self.status {
            NumberStatus::Active => vec![Guard {
                kind: NUMBER,
                value: self.phone_number.clone(),
                conflict: ErrorCode::NumberInUse,
                reach: Reach::Global,
            }],
            NumberStatus::Released => Vec::new(),
        }
    }
}

impl Layout for Call {
    const COLLECTION: &'static str = "CALL";

    /// A provider's callbacks about a call it placed or took name it by the provider's id.
    fn guards(&self) -> Vec<Guard> {
        self.provider_call_id
            .iter()
            .map(|id| Guard {
                kind: PROVIDER_CALL,
                value: provider_call_value(&self.provider, id),
                conflict: ErrorCode::ConcurrentModification,
                reach: Reach::Global,
            })
            .collect()
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        let mut entries = vec![IndexEntry {
            index: Index::Gsi1,
            partition: format!("AGENT#{}", self.agent_id),
            sort: self.id.clone(),
        }];
        if let Some(campaign) = &self.campaign_id {
            entries.push(IndexEntry {
                index: Index::Gsi2,
                partition: format!("CAMPAIGN#{campaign}"),
                sort: self.id.clone(),
            });
        }
        // A call with no contact is on its number's timeline, so that what is asked of a number
        // (an export, an erasure) finds it. An erased call keeps only a country code (`+1`):
        // on no timeline.
        let theirs = match self.direction {
            Direction::Outbound => &self.to,
            Direction::Inbound => &self.from,
        };
        let timeline = self
            .contact_id
            .as_deref()
            .or((theirs.len() > MAX_COUNTRY_CODE).then_some(theirs.as_str()));
        if let Some(owner) = timeline {
            entries.push(on_timeline(owner, self.created_at, &self.id));
        }
        entries
    }

    fn list_index(by: &ListBy) -> Option<Option<(Index, String)>> {
        match by {
            ListBy::All => Some(None),
            ListBy::Agent(agent) => Some(Some((Index::Gsi1, format!("AGENT#{agent}")))),
            ListBy::Campaign(campaign) => Some(Some((Index::Gsi2, format!("CAMPAIGN#{campaign}")))),
            _ => None,
        }
    }
}

impl Layout for Delivery {
    const COLLECTION: &'static str = "DELIVERY";

    fn index_entries(&self) -> Vec<IndexEntry> {
        vec![IndexEntry {
            index: Index::Gsi1,
            partition: format!("WEBHOOK#{}", self.webhook_id),
            sort: self.id.clone(),
        }]
    }

    fn expires_at(&self) -> Option<DateTime<Utc>> {
        Some(self.created_at + Duration::days(DELIVERY_RETENTION_DAYS))
    }

    fn list_index(by: &ListBy) -> Option<Option<(Index, String)>> {
        match by {
            ListBy::Webhook(webhook) => Some(Some((Index::Gsi1, format!("WEBHOOK#{webhook}")))),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use switchboard_core::model::AppointmentObject;

    use super::*;

    #[test]
    fn confirmed_appointments_hold_every_slot_they_cover() {
        let start: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        let mut a = Appointment {
            id: "apt_1".into(),
            object: AppointmentObject,
            contact_id: "con_1".into(),
            start_time: start,
            end_time: start + Duration::minutes(30),
            title: "Demo".into(),
            notes: None,
            status: AppointmentStatus::Confirmed,
            agent_id: None,
            conversation_id: None,
            call_id: None,
            created_at: start,
            updated_at: start,
        };
        let slots: Vec<String> = a.guards().into_iter().map(|u| u.value).collect();
        assert_eq!(slots.len(), 6);
        assert_eq!(slots[0], "2026-12-01T10:00:00Z");
        assert_eq!(slots[5], "2026-12-01T10:25:00Z");
        a.status = AppointmentStatus::Cancelled;
        assert!(a.guards().is_empty(), "cancelled appointments free their time");
    }
}
