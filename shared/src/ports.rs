//! Ports: what the handlers need from the outside world, as traits. The DynamoDB, SQS and
//! Secrets Manager adapters in `store`, `mail` and `secrets` implement them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Serialize, de::DeserializeOwned};

use crate::error::{ApiError, ErrorCode};
use crate::model::{
    ApiKey, Appointment, Approval, Call, Conversation, DncEntry, DncList, Event, Plan, RateClass, Role, Scope,
    Screening, User, Workspace,
};

/// Failures of a store, already in domain terms.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness or state rule refused the write; the code says which.
    #[error("conflict: {0:?}")]
    Conflict(ErrorCode),
    /// The item changed since it was read (optimistic concurrency).
    #[error("version mismatch")]
    VersionMismatch,
    /// An item with this key exists already.
    #[error("already exists")]
    AlreadyExists,
    /// A plan limit guarded by a counter is reached.
    #[error("limit reached")]
    LimitReached,
    /// The store throttled us; worth a retry later.
    #[error("throttled: {0}")]
    Throttled(anyhow::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl StoreError {
    /// The API error for this failure, with `not_found` used for a missing item.
    pub fn into_api(self, not_found: ErrorCode) -> ApiError {
        match self {
            StoreError::NotFound => ApiError::new(not_found, not_found.description()),
            StoreError::Conflict(code) => ApiError::new(code, code.description()),
            StoreError::VersionMismatch => ApiError::new(
                ErrorCode::PreconditionFailed,
                ErrorCode::PreconditionFailed.description(),
            ),
            StoreError::AlreadyExists => ApiError::new(
                ErrorCode::ConcurrentModification,
                ErrorCode::ConcurrentModification.description(),
            ),
            StoreError::LimitReached => ApiError::new(ErrorCode::LimitReached, ErrorCode::LimitReached.description()),
            StoreError::Throttled(e) => ApiError::unavailable(e),
            StoreError::Other(e) => ApiError::internal(e),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Credentials: authentication, rate limiting and last-used tracking in one round trip.

/// One request about to use a credential.
#[derive(Debug, Clone)]
pub struct Usage {
    pub class: RateClass,
    pub now: DateTime<Utc>,
    pub client_ip: Option<String>,
}

/// Who a credential belongs to and what it may do.
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialRecord {
    pub workspace_id: String,
    pub plan: Plan,
    pub kind: CredentialKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CredentialKind {
    ApiKey {
        key_id: String,
        scope: Scope,
    },
    Session {
        session_id: String,
        user_id: String,
        role: Role,
        email: String,
        expires_at: DateTime<Utc>,
    },
}

/// The rate-limit window after a request: the `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds at which `remaining` next grows.
    pub reset: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CredentialCheck {
    Allowed {
        credential: CredentialRecord,
        rate: RateWindow,
    },
    /// Valid credential, but over its limit; nothing was counted.
    Limited {
        rate: RateWindow,
        retry_after: u64,
    },
    Unknown,
    Revoked,
    Expired,
}

#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Checks the API key whose secret hashes to `key_hash` and counts `usage` against it.
    async fn use_api_key(&self, key_hash: &str, usage: &Usage) -> Result<CredentialCheck, StoreError>;
    /// Checks a user session and counts `usage` against it.
    async fn use_session(
        &self,
        workspace_id: &str,
        session_id: &str,
        usage: &Usage,
    ) -> Result<CredentialCheck, StoreError>;
    /// Counts a request of an anonymous client (public endpoints) against `limit` per minute.
    async fn use_client_ip(
        &self,
        ip: &str,
        usage: &Usage,
        limit: u32,
    ) -> Result<Result<RateWindow, (RateWindow, u64)>, StoreError>;
}

// ---------------------------------------------------------------------------------------------
// Accounts, sessions, email verification.

/// Everything signup writes, in one transaction.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub workspace: Workspace,
    pub user: User,
    pub password_hash: String,
    pub verification_token_hash: String,
    pub verification_expires_at: DateTime<Utc>,
    pub trial_credit_minor: i64,
    pub currency: String,
    pub ledger_entry_id: String,
}

/// What login needs to check a password.
#[derive(Debug, Clone)]
pub struct LoginRecord {
    pub user_id: String,
    pub workspace_id: String,
    pub password_hash: String,
}

#[derive(Debug, Clone)]
pub struct Verification {
    pub workspace_id: String,
    pub user_id: String,
    pub email: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub session_id: String,
    pub workspace_id: String,
    pub plan: Plan,
    pub user_id: String,
    pub role: Role,
    pub email: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub client_ip: Option<String>,
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates workspace, owner, login, verification token and wallet; `Conflict(EmailTaken)`
    /// when the email is registered.
    async fn create_account(&self, account: &NewAccount) -> Result<(), StoreError>;
    async fn find_login(&self, email: &str) -> Result<Option<LoginRecord>, StoreError>;
    async fn get_workspace(&self, workspace_id: &str) -> Result<Option<Workspace>, StoreError>;
    async fn get_user_and_workspace(
        &self,
        workspace_id: &str,
        user_id: &str,
    ) -> Result<Option<(User, Workspace)>, StoreError>;
    async fn find_verification(&self, token_hash: &str) -> Result<Option<Verification>, StoreError>;
    /// Marks the email verified (once; later calls keep the first time) and returns the user.
    async fn mark_email_verified(
        &self,
        workspace_id: &str,
        user_id: &str,
        at: DateTime<Utc>,
    ) -> Result<User, StoreError>;
    async fn create_session(&self, session: &NewSession) -> Result<(), StoreError>;
    async fn end_session(&self, workspace_id: &str, session_id: &str) -> Result<(), StoreError>;
}

// ---------------------------------------------------------------------------------------------
// API keys.

/// A new key: its row and what authentication looks up by the secret's hash.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub key: ApiKey,
    pub workspace_id: String,
    pub plan: Plan,
    pub secret_hash: String,
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// The workspace's keys, newest first, with last-used data.
    async fn list_keys(
        &self,
        workspace_id: &str,
        limit: u32,
        after: Option<PageKey>,
    ) -> Result<Page<ApiKey>, StoreError>;
    /// `LimitReached` when `max_active` keys are active; expired keys are revoked on the way.
    async fn create_key(&self, key: &NewApiKey, max_active: u32) -> Result<(), StoreError>;
    /// Revokes the key (idempotent) and returns it as it now is.
    async fn revoke_key(
        &self,
        workspace_id: &str,
        key_id: &str,
        reason: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<ApiKey, StoreError>;
    /// Deletes a revoked key; `Conflict(KeyStillActive)` otherwise.
    async fn delete_key(&self, workspace_id: &str, key_id: &str) -> Result<(), StoreError>;
}

// ---------------------------------------------------------------------------------------------
// Plain workspace resources (agents, contacts): one generic repository.

/// A value that must be unique in the workspace (a contact's phone number) or across all
/// workspaces (a phone number the service answers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueValue {
    /// Names the kind of value (`CONTACT_PHONE`); part of the guard item's key.
    pub kind: &'static str,
    pub value: String,
    /// Answered when another resource holds the value.
    pub conflict: ErrorCode,
    /// Unique across workspaces; the guard then also says which workspace holds the value.
    pub global: bool,
}

/// A secondary index of the table (generic keys, all attributes projected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    Gsi1,
    Gsi2,
    /// GSI3: a contact's timeline across collections (calls, chats, appointments, approvals);
    /// its partition is the contact id, not a collection's.
    Timeline,
}

/// Where a resource appears in a secondary index: in the partition `<ws>#<COLLECTION>#<partition>`
/// at `sort`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub index: Index,
    pub partition: String,
    pub sort: String,
}

/// A resource stored as one item in its workspace's collection.
pub trait Resource: Serialize + DeserializeOwned + Send + Sync + Clone + 'static {
    /// The `entity` attribute and the collection name in keys (`AGENT`).
    const COLLECTION: &'static str;
    const ID_PREFIX: &'static str;
    const NOT_FOUND: ErrorCode;
    fn id(&self) -> &str;
    /// Values that no other resource of the workspace may share.
    fn unique_values(&self) -> Vec<UniqueValue> {
        Vec::new()
    }
    /// The resource's places in the secondary indexes (at most one per index).
    fn index_entries(&self) -> Vec<IndexEntry> {
        Vec::new()
    }
    /// When DynamoDB's TTL may delete the resource (logs kept for a while).
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        None
    }
}

/// A resource with the version its ETag is made from.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub value: T,
    pub version: u64,
}

/// A workspace counter that caps how many of a resource may exist.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub counter: &'static str,
    pub max: u32,
}

/// One page of a list; `next` is where the next page starts, when there are more.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<PageKey>,
}

/// Where a Query stopped, as the key attributes DynamoDB returned.
pub type PageKey = std::collections::BTreeMap<String, String>;

/// Which resources of a collection to list: the whole collection or one index partition,
/// optionally a range of sort keys, optionally only items whose attributes equal given values.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// An index partition (suffix, as in [`IndexEntry::partition`]); `None`: the collection.
    pub index: Option<(Index, String)>,
    /// Inclusive bounds on the sort key (ids in the collection, `sort` in an index).
    pub sort_between: Option<(String, String)>,
    /// `attribute = value` conditions (string values) on the items.
    pub equals: Vec<(&'static str, String)>,
    /// Oldest (lowest sort key) first; newest first by default.
    pub ascending: bool,
    pub limit: u32,
    pub after: Option<PageKey>,
}

#[async_trait]
pub trait Repository<T: Resource>: Send + Sync {
    /// Creates the resource with `events`, in one transaction.
    async fn insert(
        &self,
        workspace_id: &str,
        value: &T,
        quota: Option<Quota>,
        events: &[Event],
    ) -> Result<Versioned<T>, StoreError>;
    async fn get(&self, workspace_id: &str, id: &str) -> Result<Option<Versioned<T>>, StoreError>;
    /// Replaces `previous` (if still at its version) by `value`, with `events`.
    async fn update(
        &self,
        workspace_id: &str,
        previous: &Versioned<T>,
        value: &T,
        events: &[Event],
    ) -> Result<Versioned<T>, StoreError>;
    async fn delete(&self, workspace_id: &str, current: &Versioned<T>, quota: Option<Quota>) -> Result<(), StoreError>;
    async fn query(&self, workspace_id: &str, query: &ListQuery) -> Result<Page<Versioned<T>>, StoreError>;
    /// The resource holding a unique value.
    async fn find_unique(&self, workspace_id: &str, unique: &UniqueValue) -> Result<Option<Versioned<T>>, StoreError>;
}

// ---------------------------------------------------------------------------------------------
// Campaigns: targets, counters, audience imports.

/// What claiming targets for calls came to: all of them or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    Claimed,
    /// Fewer slots are free than targets were claimed.
    NoSlot,
    /// Another tick moved these targets (their indices) first.
    Taken(Vec<usize>),
}

/// Targets a transaction claims at most (with the campaign's counter, within DynamoDB's 100).
pub const MAX_CLAIM_BATCH: usize = 50;

/// How a target's call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// The call was placed and ended.
    Ended,
    /// The call was never placed (the worker stopped between the claim and the dial).
    NeverPlaced,
}

#[async_trait]
pub trait CampaignStore: Send + Sync {
    /// Counters of campaigns (zeros for those with none yet).
    async fn stats(
        &self,
        ws: &str,
        campaign_ids: &[String],
    ) -> Result<std::collections::HashMap<String, crate::model::CampaignStats>, StoreError>;
    /// The numbers among `phones` that are targets of the campaign already, with the import
    /// that added each.
    async fn existing_targets(
        &self,
        ws: &str,
        campaign_id: &str,
        phones: &[String],
    ) -> Result<std::collections::HashMap<String, String>, StoreError>;
    /// Writes new targets of an import (in batches); they count once their chunk is finished.
    async fn add_targets(&self, ws: &str, import_id: &str, targets: &[crate::model::Target]) -> Result<(), StoreError>;
    async fn target(
        &self,
        ws: &str,
        campaign_id: &str,
        phone: &str,
    ) -> Result<Option<crate::model::Target>, StoreError>;
    async fn targets(
        &self,
        ws: &str,
        campaign_id: &str,
        status: Option<crate::model::TargetStatus>,
        limit: u32,
        after: Option<PageKey>,
    ) -> Result<Page<crate::model::Target>, StoreError>;
    /// Pending targets due by `until`, or dialing ones whose lease ends by then, soonest first.
    async fn due_targets(
        &self,
        ws: &str,
        campaign_id: &str,
        status: crate::model::TargetStatus,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<crate::model::Target>, StoreError>;
    /// The pending target due first, or the dialing one whose lease ends first.
    async fn next_due(
        &self,
        ws: &str,
        campaign_id: &str,
        status: crate::model::TargetStatus,
    ) -> Result<Option<crate::model::Target>, StoreError>;
    /// Moves each target (as read) to its next state (dialing) and takes a slot for each, in
    /// one transaction (at most [`MAX_CLAIM_BATCH`] targets of one campaign).
    async fn claim(
        &self,
        ws: &str,
        claims: &[(crate::model::Target, crate::model::Target)],
        max_in_flight: u32,
    ) -> Result<Claim, StoreError>;
    /// Moves a dialing `target` (as read) to `next` and frees its slot; false when the target
    /// had moved on already (its call was settled before).
    async fn settle(
        &self,
        ws: &str,
        target: &crate::model::Target,
        next: &crate::model::Target,
        settlement: Settlement,
    ) -> Result<bool, StoreError>;
    /// Moves a pending `target` to `next`, skipped; false when it had moved on.
    async fn skip(
        &self,
        ws: &str,
        target: &crate::model::Target,
        next: &crate::model::Target,
    ) -> Result<bool, StoreError>;
    /// Moves a pending `target` to a later `next_attempt_at`; false when it had moved on.
    async fn defer(
        &self,
        ws: &str,
        target: &crate::model::Target,
        next: &crate::model::Target,
    ) -> Result<bool, StoreError>;
    /// Records that the campaign's next tick is due at `at` (unix s), unless one is due no
    /// later (and not before `lost_before`); whether the caller should queue it.
    async fn schedule_tick(&self, ws: &str, campaign_id: &str, at: i64, lost_before: i64) -> Result<bool, StoreError>;
    /// Forgets the scheduled tick of `at`, which ran.
    async fn tick_ran(&self, ws: &str, campaign_id: &str, at: i64) -> Result<(), StoreError>;
    /// Records an import and its chunks of rows (JSON) to screen and write; the campaign
    /// counts them pending.
    async fn create_import(
        &self,
        ws: &str,
        import: &crate::model::AudienceImport,
        chunks: &[Vec<String>],
    ) -> Result<(), StoreError>;
    async fn import_chunk(&self, ws: &str, import_id: &str, chunk: usize) -> Result<Option<Vec<String>>, StoreError>;
    /// Counts a chunk's outcome into its import and its accepted targets into the campaign,
    /// once, with the chunk's deletion; the import then (`None`: counted before).
    async fn finish_chunk(
        &self,
        ws: &str,
        campaign_id: &str,
        import_id: &str,
        chunk: usize,
        counts: &crate::model::AudienceCounts,
    ) -> Result<Option<crate::model::AudienceImport>, StoreError>;
    async fn audience_import(
        &self,
        ws: &str,
        import_id: &str,
    ) -> Result<Option<crate::model::AudienceImport>, StoreError>;
    /// The workspace's contacts with these numbers: id and time zone, by number.
    async fn contacts_by_phone(
        &self,
        ws: &str,
        phones: &[String],
    ) -> Result<std::collections::HashMap<String, (String, Option<String>)>, StoreError>;
    async fn complete_import(&self, ws: &str, import: &crate::model::AudienceImport) -> Result<(), StoreError>;
}

// ---------------------------------------------------------------------------------------------
// The event log.

#[async_trait]
pub trait EventStore: Send + Sync {
    /// An event of the log, or a test event.
    async fn event(&self, workspace_id: &str, event_id: &str) -> Result<Option<Event>, StoreError>;
    /// Keeps a test event where deliveries find it, but out of the log every subscriber gets.
    async fn keep_test_event(&self, workspace_id: &str, event: &Event) -> Result<(), StoreError>;
}

// ---------------------------------------------------------------------------------------------
// Contacts' timelines.

/// Something that happened with a contact.
#[derive(Debug, Clone)]
pub enum TimelineItem {
    Call(Call),
    /// A text chat.
    Conversation(Conversation),
    Appointment(Appointment),
    Approval(Approval),
}

#[async_trait]
pub trait TimelineStore: Send + Sync {
    /// What happened with a contact, newest first; only what happened before `before` (a
    /// timeline sort key, see `model::timeline_sort`) when given.
    async fn timeline(
        &self,
        workspace_id: &str,
        contact_id: &str,
        before: Option<String>,
        limit: u32,
        after: Option<PageKey>,
    ) -> Result<Page<TimelineItem>, StoreError>;
}

// ---------------------------------------------------------------------------------------------
// Live calls' relay connections (Twilio ConversationRelay over an API Gateway WebSocket API).

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

/// Sends messages down relay connections.
#[async_trait]
pub trait RelayConnections: Send + Sync {
    async fn send(&self, connection_id: &str, message: &str) -> anyhow::Result<()>;
}

// ---------------------------------------------------------------------------------------------
// Lookups that find a workspace before any credential says which (inbound calls).

#[async_trait]
pub trait Directory: Send + Sync {
    /// The workspace and owner id holding a globally unique value, e.g. an answered number.
    async fn owner_of(&self, kind: &str, value: &str) -> Result<Option<(String, String)>, StoreError>;
}

// ---------------------------------------------------------------------------------------------
// The do-not-call list.

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
        limit: u32,
        after: Option<PageKey>,
    ) -> Result<Page<DncEntry>, StoreError>;
    /// Adds the entries not on their lists yet (in batches); how many were added.
    async fn import_dnc(&self, workspace_id: &str, entries: &[DncEntry]) -> Result<usize, StoreError>;
    /// What the lists say about each number (in batches).
    async fn screen(
        &self,
        workspace_id: &str,
        phones: &[String],
        now: DateTime<Utc>,
    ) -> Result<std::collections::HashMap<String, Screening>, StoreError>;
    /// Starts a number's cool-down: `campaign_id` called it at `at`.
    async fn start_cooldown(
        &self,
        workspace_id: &str,
        phone_e164: &str,
        campaign_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

// ---------------------------------------------------------------------------------------------
// Idempotency records.

/// A response kept for replay.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum IdempotencyStart {
    /// This request owns the key: run it, then `complete` or `abandon`.
    Started,
    Replay(StoredResponse),
    InProgress,
    /// The key was used for a different request.
    Mismatch,
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    async fn begin(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<IdempotencyStart, StoreError>;
    async fn complete(
        &self,
        scope: &str,
        key: &str,
        response: &StoredResponse,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    async fn abandon(&self, scope: &str, key: &str) -> Result<(), StoreError>;
}

// ---------------------------------------------------------------------------------------------
// Health.

/// Something whose health can be checked cheaply.
#[async_trait]
pub trait Probe: Send + Sync {
    async fn probe(&self) -> Result<(), StoreError>;
}

// ---------------------------------------------------------------------------------------------
// Providers we reach over the network (telephony, LLM).

/// A provider's failure.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused the request (an invalid number, a bad request): retrying will not help.
    #[error("refused by the provider: {0}")]
    Rejected(String),
    /// The provider could not be reached or failed; worth a retry later.
    #[error("provider unavailable: {0}")]
    Unavailable(anyhow::Error),
}

/// An outbound call to place.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundCall {
    pub workspace_id: String,
    pub call_id: String,
    pub from: String,
    pub to: String,
    /// Seconds after which the provider ends the call.
    pub max_duration: u32,
}

/// The telephony provider: places calls and prepares numbers; its status reports come back
/// through the calls function's callback path.
#[async_trait]
pub trait Telephony: Send + Sync {
    /// `simulator` or `twilio`.
    fn provider(&self) -> &'static str;
    /// Points a number the workspace holds at the provider to this service; returns the
    /// provider's id for it.
    async fn attach_number(&self, phone_e164: &str) -> Result<Option<String>, ProviderError>;
    /// Starts a call; returns the provider's id for it.
    async fn place_call(&self, call: &OutboundCall) -> Result<String, ProviderError>;
    async fn hang_up(&self, provider_call_id: &str) -> Result<(), ProviderError>;
    /// What the provider says of a call now (to reconcile a call whose reports were lost);
    /// `None` from a provider that reports everything itself.
    async fn fetch_call(&self, provider_call_id: &str) -> Result<Option<ProviderCall>, ProviderError>;
}

/// A call as its provider sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderCall {
    pub status: crate::model::CallStatus,
    pub duration_seconds: Option<u32>,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// JSON Schema of the tool's input.
    pub input_schema: serde_json::Value,
}

/// The model asking to run a tool.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ToolUse {
    pub id: String,
    pub name: String,
    pub input: serde_json::Value,
}

/// One message of a model conversation.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum LlmMessage {
    User {
        text: String,
    },
    Assistant {
        text: String,
        tool_uses: Vec<ToolUse>,
    },
    /// What the tools the model called returned: `(tool_use_id, content)`.
    ToolResults {
        results: Vec<(String, String)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct LlmRequest {
    pub system: String,
    pub messages: Vec<LlmMessage>,
    pub tools: Vec<ToolSpec>,
    /// Makes the model answer by calling this tool (structured output).
    pub force_tool: Option<&'static str>,
    /// The time the conversation happens at, for "tomorrow" and the like.
    pub now: DateTime<Utc>,
    pub max_tokens: u32,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LlmReply {
    pub text: String,
    pub tool_uses: Vec<ToolUse>,
}

/// A language model.
#[async_trait]
pub trait Llm: Send + Sync {
    /// `offline` or `anthropic`.
    fn provider(&self) -> &'static str;
    async fn complete(&self, request: &LlmRequest) -> Result<LlmReply, ProviderError>;
}

// ---------------------------------------------------------------------------------------------
// Mail.

/// An email to send.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    /// What the mail is for (`verify_email`), for logs and tests.
    pub kind: String,
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &Mail) -> anyhow::Result<()>;
}
