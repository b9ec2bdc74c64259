//! Records the domain reads and writes besides resources: the event log, contacts'
//! timelines, live calls' relay sessions, global lookups, the do-not-call lists, idempotency
//! records, and the store's health.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Page, PageRequest};
use crate::error::StoreError;
use crate::model::{Appointment, Approval, AuditEntry, Call, Conversation, DncEntry, DncList, Event, Screening};

#[async_trait]
pub trait EventStore: Send + Sync {
    /// An event of the log, or a test event.
    async fn event(&self, workspace_id: &str, event_id: &str) -> Result<Option<Event>, StoreError>;
    /// Keeps a test event where deliveries find it, but out of the log every subscriber gets.
    async fn keep_test_event(&self, workspace_id: &str, event: &Event) -> Result<(), StoreError>;
}

/// Something that happened with a contact.
#[derive(Debug, Clone)]
// A page of a timeline holds at most 200 of them, made and dropped within a request.
#[allow(clippy::large_enum_variant)]
pub enum TimelineItem {
    Call(Call),
    /// A text chat.
    Conversation(Conversation),
    Appointment(Appointment),
    Approval(Approval),
}

#[async_trait]
pub trait TimelineStore: Send + Sync {
    /// What happened with a contact, newest first; only what happened before `before` when
    /// given.
    async fn timeline(
        &self,
        workspace_id: &str,
        contact_id: &str,
        before: Option<DateTime<Utc>>,
        page: PageRequest,
    ) -> Result<Page<TimelineItem>, StoreError>;
}

/// Which relay connection (Twilio ConversationRelay over a WebSocket API) carries which live
/// call.
#[async_trait]
pub trait RelaySessions: Send + Sync {
    /// Records that the connection carries the call, both ways, until `until`.
    async fn bind(
        &self,
        connection_id: &str,
        workspace_id: &str,
        call_id: &str,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The workspace and call a connection carries.
    async fn call_of(&self, connection_id: &str) -> Result<Option<(String, String)>, StoreError>;
    /// The connection carrying a call.
    async fn connection_of(&self, workspace_id: &str, call_id: &str) -> Result<Option<String>, StoreError>;
}

/// Lookups that find a workspace before any credential says which (inbound calls, provider
/// callbacks).
#[async_trait]
pub trait Directory: Send + Sync {
    /// The workspace answering a phone number (E.164), and the number's id.
    async fn number_owner(&self, phone_e164: &str) -> Result<Option<(String, String)>, StoreError>;
    /// The workspace and id of the call a provider knows by `provider_call_id`.
    async fn provider_call(
        &self,
        provider: &str,
        provider_call_id: &str,
    ) -> Result<Option<(String, String)>, StoreError>;
    /// The workspace of the inbound trigger `trigger_id`.
    async fn trigger_owner(&self, trigger_id: &str) -> Result<Option<String>, StoreError>;
}

/// The schedule triggers due, across workspaces, as the scheduler's tick reads them.
#[async_trait]
pub trait DueSchedules: Send + Sync {
    /// The (workspace, trigger id) of each enabled schedule trigger next due in the minute
    /// that begins at `minute`.
    async fn due_in(&self, minute: DateTime<Utc>) -> Result<Vec<(String, String)>, StoreError>;
    /// The last minute ticks have read through.
    async fn read_through(&self) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Records that ticks have read through `minute`; never moves it back.
    async fn set_read_through(&self, minute: DateTime<Utc>) -> Result<(), StoreError>;
}

#[async_trait]
pub trait DncStore: Send + Sync {
    /// Adds the number to the entry's list, or refreshes its reason and time (idempotent);
    /// whether it is new there.
    async fn add_dnc(&self, workspace_id: &str, entry: &DncEntry) -> Result<bool, StoreError>;
    async fn dnc_entry(
        &self,
        workspace_id: &str,
        list: DncList,
        phone_e164: &str,
    ) -> Result<Option<DncEntry>, StoreError>;
    /// Whether the number was on the list.
    async fn remove_dnc(&self, workspace_id: &str, list: DncList, phone_e164: &str) -> Result<bool, StoreError>;
    async fn list_dnc(
        &self,
        workspace_id: &str,
        list: DncList,
        page: PageRequest,
    ) -> Result<Page<DncEntry>, StoreError>;
    /// Adds the entries not on their lists yet (in batches); how many were added.
    async fn import_dnc(&self, workspace_id: &str, entries: &[DncEntry]) -> Result<usize, StoreError>;
    /// What the lists say about each number (in batches).
    async fn screen(
        &self,
        workspace_id: &str,
        phones: &[String],
        now: DateTime<Utc>,
    ) -> Result<HashMap<String, Screening>, StoreError>;
    /// Starts a number's cool-down: `campaign_id` called it at `at`.
    async fn start_cooldown(
        &self,
        workspace_id: &str,
        phone_e164: &str,
        campaign_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// What erasing a person needs besides the resource repositories: the records that hold
/// their number or mention them without being resources of their own.
#[async_trait]
pub trait ErasureStore: Send + Sync {
    /// `value`'s pseudonym in the workspace: stable, and not reversible without the store's key.
    fn pseudonym(&self, workspace_id: &str, value: &str) -> Result<String, StoreError>;
    /// Takes the number (and the reason, which may name the person) out of its entries on
    /// both lists, which go on blocking it; how many entries held it.
    async fn erase_list_entries(&self, workspace_id: &str, phone_e164: &str) -> Result<u32, StoreError>;
    /// Removes a campaign's target (already out of the dialer's queues): its key holds the number.
    async fn remove_target(&self, workspace_id: &str, campaign_id: &str, phone_e164: &str) -> Result<(), StoreError>;
    /// Replaces the data of the workspace's events that mention any of `needles` by what
    /// names the resource only (`object`, `id`, `erased`); how many were replaced.
    async fn erase_events(&self, workspace_id: &str, needles: &[String]) -> Result<u32, StoreError>;
    /// Writes an audit entry anew (pseudonymised); its places in the indexes follow.
    async fn rewrite_audit_entry(&self, workspace_id: &str, entry: &AuditEntry) -> Result<(), StoreError>;
    /// Records an event that no change of a resource carries (a data-subject request's).
    async fn record_event(&self, workspace_id: &str, event: &Event) -> Result<(), StoreError>;
}

/// A response kept for replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum IdempotencyStart {
    /// This request owns the key: run it, then `complete` or `abandon`.
    Started,
    /// The sealed answer of the request that used the key first.
    Replay(String),
    InProgress,
    /// The key was used for a different request.
    Mismatch,
    /// The key was used by another credential.
    InUse,
}

/// Idempotency records, per workspace (`None`: requests made before any credential, such as
/// signups), each bound to the credential (`owner`) whose request claimed it. Answers are
/// stored sealed by the caller, under a key only that credential's requests can derive.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    async fn begin(
        &self,
        workspace_id: Option<&str>,
        key: &str,
        owner: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<IdempotencyStart, StoreError>;
    async fn complete(
        &self,
        workspace_id: Option<&str>,
        key: &str,
        sealed_response: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    async fn abandon(&self, workspace_id: Option<&str>, key: &str) -> Result<(), StoreError>;
}

/// Something whose health can be checked cheaply.
#[async_trait]
pub trait Probe: Send + Sync {
    async fn probe(&self) -> Result<(), StoreError>;
}
