//! Plain workspace resources (agents, contacts, calls...): one generic repository, and the
//! ways to list them, named for what they mean rather than for how they are stored.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ErrorCode, StoreError};
use crate::model::Event;

/// A resource stored as one record of its workspace.
pub trait Resource: Serialize + DeserializeOwned + Send + Sync + Clone + 'static {
    const ID_PREFIX: &'static str;
    /// Answered when the resource does not exist.
    const NOT_FOUND: ErrorCode;
    fn id(&self) -> &str;
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

/// Where a list stopped, as the store's own position (opaque to everyone else; the HTTP edge
/// signs it into a cursor).
pub type PageKey = std::collections::BTreeMap<String, String>;

/// A page to read: how many, and where the previous page stopped.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<PageKey>,
}

/// Which of a collection's resources a list reads. Not every collection can be listed every
/// way: the store answers an error for a combination it does not keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ListBy {
    /// The whole collection, by creation time (appointments: by start time).
    #[default]
    All,
    /// An agent's calls.
    Agent(String),
    /// A campaign's calls.
    Campaign(String),
    /// A contact's appointments, by start time.
    Contact(String),
    /// Contacts with this (lower-case) email.
    Email(String),
    /// An endpoint's webhook deliveries.
    Webhook(String),
    /// Audit entries of one resource (by its id).
    AuditResource(String),
    /// Audit entries of one actor (a user's or an API key's id).
    Actor(String),
    /// A workflow's executions.
    Workflow(String),
    /// The event triggers of one type of event.
    TriggerEvent(crate::model::EventType),
}

/// Which resources to list: how, in what time range, filtered on which fields, in what order.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub by: ListBy,
    /// Inclusive bounds on the time the list is sorted by (creation time; appointments: start).
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// `field = value` conditions (string values) on the resources; `a.b` is field `b` of `a`.
    pub equals: Vec<(&'static str, String)>,
    /// Oldest first; newest first by default.
    pub ascending: bool,
    pub limit: u32,
    pub after: Option<PageKey>,
}

/// A value only one resource of a workspace may hold, to find that resource by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unique {
    /// A contact's phone number (E.164).
    ContactPhone(String),
    /// A secret's name.
    SecretName(String),
}

/// The page of a whole collection, newest first (set the other fields to narrow it).
impl From<PageRequest> for ListQuery {
    fn from(page: PageRequest) -> Self {
        Self {
            limit: page.limit,
            after: page.after,
            ..Self::default()
        }
    }
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
    async fn find_unique(&self, workspace_id: &str, unique: &Unique) -> Result<Option<Versioned<T>>, StoreError>;

    /// Every resource the query matches, page after page: for work that needs them all (a
    /// report, an erasure, routing an event), never for a list a client pages through.
    async fn query_all(&self, workspace_id: &str, mut query: ListQuery) -> Result<Vec<Versioned<T>>, StoreError> {
        let mut found = Vec::new();
        loop {
            let page = self.query(workspace_id, &query).await?;
            found.extend(page.items);
            match page.next {
                Some(next) => query.after = Some(next),
                None => return Ok(found),
            }
        }
    }
}
