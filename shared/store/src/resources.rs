//! One generic repository for workspace resources (agents, contacts, appointments...): an item
//! per resource in its collection's partition, a version for optimistic concurrency, guard
//! items for unique values, secondary-index entries, an optional counter on the workspace item
//! for plan limits, and the events of each change, all written in one transaction.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use switchboard_core::StoreError;
use switchboard_core::model::Event;
use switchboard_core::ports::{
    EventStore, ListQuery, Page, PageKey, PageRequest, Quota, Repository, TimelineItem, TimelineStore, Unique,
    Versioned,
};
use tracing::Instrument;

use super::keys::{self, entity};
use super::layout::{Guard, Index, IndexEntry, Layout, Reach, guard_of, timeline_sort};
use super::{DynamoStore, Item, NEW_ITEM, TransactError, from_item, get_s, item_of, n, s, sdk_error, start_key};

/// Items read per Query when a filter may drop some, and Queries per page at most: a page of a
/// filtered list may hold fewer items than asked, with a cursor to go on.
const FILTERED_BATCH: i32 = 100;
const MAX_QUERIES_PER_PAGE: usize = 5;
/// Events are kept this long in the table (the webhook issue delivers them).
const EVENT_RETENTION_SECS: i64 = 30 * 86_400;

/// The attribute beside a resource's own that holds its version.
const VERSION: &str = "version";

fn entity_of<T: Layout>() -> String {
    T::COLLECTION.to_ascii_lowercase()
}

fn index_keys(index: Index) -> (&'static str, &'static str, &'static str) {
    match index {
        Index::Gsi1 => (keys::GSI1, keys::GSI1PK, keys::GSI1SK),
        Index::Gsi2 => (keys::GSI2, keys::GSI2PK, keys::GSI2SK),
        Index::Timeline => (keys::GSI3, keys::GSI3PK, keys::GSI3SK),
    }
}

/// The index partition of an entry: a collection's, or for the timeline the contact's.
fn entry_partition(workspace_id: &str, collection: &str, index: Index, partition: &str) -> String {
    match index {
        Index::Timeline => keys::timeline(workspace_id, partition),
        _ => keys::index_partition(workspace_id, collection, partition),
    }
}

pub(crate) fn resource_item<T: Layout>(workspace_id: &str, value: &T, version: u64) -> Result<Item, StoreError> {
    let key = keys::resource(workspace_id, T::COLLECTION, value.id());
    let item = item_of(&key, &entity_of::<T>(), value)?;
    Ok(with_layout(
        workspace_id,
        T::COLLECTION,
        item,
        version,
        value.expires_at(),
        value.index_entries(),
    ))
}

fn with_layout(
    workspace_id: &str,
    collection: &str,
    mut item: Item,
    version: u64,
    expires_at: Option<DateTime<Utc>>,
    entries: Vec<IndexEntry>,
) -> Item {
    item.insert(VERSION.into(), n(version));
    if let Some(at) = expires_at {
        item.insert(keys::TTL.into(), n(at.timestamp()));
    }
    for entry in entries {
        let (_, pk, sk) = index_keys(entry.index);
        item.insert(
            pk.into(),
            s(entry_partition(workspace_id, collection, entry.index, &entry.partition)),
        );
        item.insert(sk.into(), s(entry.sort));
    }
    item
}

/// A version of a resource as the table stores it. The writes are built from rows, not from
/// the resource's type, so that the code of each write is compiled once rather than once per
/// collection.
pub(crate) struct Row {
    collection: &'static str,
    id: String,
    item: Item,
    guards: Vec<Guard>,
}

impl Row {
    pub(crate) fn of<T: Layout>(workspace_id: &str, value: &T, version: u64) -> Result<Self, StoreError> {
        Ok(Self {
            collection: T::COLLECTION,
            id: value.id().to_owned(),
            item: resource_item(workspace_id, value, version)?,
            guards: value.guards(),
        })
    }
}

fn guard_key(workspace_id: &str, unique: &Guard, owner_id: &str) -> keys::Key {
    match unique.reach {
        Reach::Workspace => keys::unique(workspace_id, unique.kind, &unique.value),
        Reach::Global => keys::global_unique(unique.kind, &unique.value),
        Reach::Listed => keys::listed(unique.kind, &unique.value, workspace_id, owner_id),
    }
}

// The version is read apart rather than through a `#[serde(flatten)]` wrapper, which would
// buffer every item into serde's generic map before decoding it, in code compiled per type.
pub(crate) fn decode<T: Layout>(mut item: Item) -> Result<Versioned<T>, StoreError> {
    let version = item
        .remove(VERSION)
        .and_then(|v| v.as_n().ok()?.parse().ok())
        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("a {} item without its version", T::COLLECTION)))?;
    Ok(Versioned {
        value: from_item(item)?,
        version,
    })
}

/// The page key of an item, for the cursor after it.
fn position(item: &Item, index: Option<Index>) -> PageKey {
    let mut names = vec![keys::PK, keys::SK];
    if let Some(index) = index {
        let (_, pk, sk) = index_keys(index);
        names.extend([pk, sk]);
    }
    names
        .into_iter()
        .filter_map(|k| Some((k.to_owned(), get_s(item, k)?.to_owned())))
        .collect()
}

impl DynamoStore {
    fn guard_put(&self, workspace_id: &str, unique: &Guard, owner_id: &str) -> Result<TransactWriteItem, StoreError> {
        let mut item = super::key_map(&guard_key(workspace_id, unique, owner_id));
        item.insert(keys::ENTITY.into(), s(entity::UNIQUE));
        item.insert("owner_id".into(), s(owner_id));
        item.insert("workspace_id".into(), s(workspace_id));
        self.tx_put(item, NEW_ITEM, Item::new())
    }

    fn guard_delete(
        &self,
        workspace_id: &str,
        unique: &Guard,
        owner_id: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        self.tx_delete(
            &guard_key(workspace_id, unique, owner_id),
            Some("owner_id = :owner"),
            HashMap::from([(":owner".into(), s(owner_id))]),
        )
    }

    fn quota_update(&self, workspace_id: &str, quota: Quota, delta: i64) -> Result<TransactWriteItem, StoreError> {
        let counter = quota.counter;
        let (update, condition, mut values) = if delta > 0 {
            (
                format!("ADD #{counter} :delta"),
                // A counter no write has touched yet counts nothing.
                Some(format!(
                    "attribute_exists(PK) AND (attribute_not_exists(#{counter}) OR #{counter} < :max)"
                )),
                HashMap::from([(":max".to_owned(), n(quota.max))]),
            )
        } else {
            (format!("ADD #{counter} :delta"), None, HashMap::new())
        };
        values.insert(":delta".into(), n(delta));
        self.tx_update(&keys::workspace(workspace_id), &update, condition.as_deref(), values)
    }

    /// The Put of an event, for the transaction of the change it records.
    pub(crate) fn event_put(&self, workspace_id: &str, event: &Event) -> Result<TransactWriteItem, StoreError> {
        let mut item = item_of(&keys::event(workspace_id, &event.id), entity::EVENT, event)?;
        item.insert("workspace_id".into(), s(workspace_id));
        item.insert("livemode".into(), livemode(workspace_id));
        item.insert(keys::TTL.into(), n(event.timestamp.timestamp() + EVENT_RETENTION_SECS));
        self.tx_put(item, NEW_ITEM, Item::new())
    }
}

/// The items of a page, and the page key after it.
type Found = (Vec<Item>, Option<PageKey>);

/// The writes of one change of a resource, `[resource, guards..., quota?, events...]`, for one
/// transaction (to which other writes may be appended), and what their failures mean.
pub(crate) struct Writes {
    pub(crate) items: Vec<TransactWriteItem>,
    /// Guards claimed, by their place in `items`.
    guards: Vec<(usize, Guard)>,
    quota_at: Option<usize>,
}

impl Writes {
    /// The domain error of a cancelled transaction of these writes (and what was appended).
    pub(crate) fn error(&self, e: TransactError) -> StoreError {
        if e.failed_at(0) {
            return StoreError::VersionMismatch;
        }
        if let Some((_, unique)) = self.guards.iter().find(|(i, _)| e.failed_at(*i)) {
            return StoreError::Conflict(unique.conflict);
        }
        if self.quota_at.is_some_and(|i| e.failed_at(i)) {
            return StoreError::LimitReached;
        }
        e.into_store()
    }
}

impl DynamoStore {
    pub(crate) fn insert_writes<T: Layout>(
        &self,
        workspace_id: &str,
        value: &T,
        quota: Option<Quota>,
        events: &[Event],
    ) -> Result<Writes, StoreError> {
        self.row_insert_writes(workspace_id, Row::of(workspace_id, value, 1)?, quota, events)
    }

    fn row_insert_writes(
        &self,
        workspace_id: &str,
        row: Row,
        quota: Option<Quota>,
        events: &[Event],
    ) -> Result<Writes, StoreError> {
        let mut items = vec![self.tx_put(row.item, NEW_ITEM, Item::new())?];
        let mut guards = Vec::new();
        for unique in row.guards {
            items.push(self.guard_put(workspace_id, &unique, &row.id)?);
            guards.push((items.len() - 1, unique));
        }
        let quota_at = quota.map(|_| items.len());
        if let Some(quota) = quota {
            items.push(self.quota_update(workspace_id, quota, 1)?);
        }
        for event in events {
            items.push(self.event_put(workspace_id, event)?);
        }
        Ok(Writes {
            items,
            guards,
            quota_at,
        })
    }

    pub(crate) fn update_writes<T: Layout>(
        &self,
        workspace_id: &str,
        previous: &Versioned<T>,
        value: &T,
        events: &[Event],
    ) -> Result<Writes, StoreError> {
        let row = Row::of(workspace_id, value, previous.version + 1)?;
        self.row_update_writes(workspace_id, previous.version, &previous.value.guards(), row, events)
    }

    fn row_update_writes(
        &self,
        workspace_id: &str,
        previous_version: u64,
        before: &[Guard],
        row: Row,
        events: &[Event],
    ) -> Result<Writes, StoreError> {
        let expected = HashMap::from([(":v".to_owned(), n(previous_version))]);
        let mut items = vec![self.tx_put(row.item, Some("version = :v"), expected)?];
        let mut guards = Vec::new();
        for unique in row.guards.iter().filter(|u| !before.contains(u)) {
            items.push(self.guard_put(workspace_id, unique, &row.id)?);
            guards.push((items.len() - 1, unique.clone()));
        }
        for unique in before.iter().filter(|u| !row.guards.contains(u)) {
            items.push(self.guard_delete(workspace_id, unique, &row.id)?);
        }
        for event in events {
            items.push(self.event_put(workspace_id, event)?);
        }
        Ok(Writes {
            items,
            guards,
            quota_at: None,
        })
    }

    fn insert_row<'a>(
        &'a self,
        workspace_id: &'a str,
        row: Row,
        quota: Option<Quota>,
        events: &'a [Event],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let span = tracing::info_span!("insert_row", collection = row.collection);
        Box::pin(
            async move {
                if row.guards.is_empty() && quota.is_none() && events.is_empty() {
                    if !self.put_new(row.item).await? {
                        return Err(StoreError::AlreadyExists);
                    }
                } else {
                    let writes = self.row_insert_writes(workspace_id, row, quota, events)?;
                    self.transact(writes.items.clone()).await.map_err(|e| writes.error(e))?;
                }
                Ok(())
            }
            .instrument(span),
        )
    }

    fn update_row<'a>(
        &'a self,
        workspace_id: &'a str,
        previous_version: u64,
        before: Vec<Guard>,
        row: Row,
        events: &'a [Event],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let span = tracing::info_span!("update_row", collection = row.collection);
        Box::pin(
            async move {
                if before == row.guards && events.is_empty() {
                    let expected = HashMap::from([(":v".to_owned(), n(previous_version))]);
                    let put = self.tx_put(row.item, Some("version = :v"), expected)?;
                    if !self.write(put).await? {
                        return Err(StoreError::VersionMismatch);
                    }
                } else {
                    let writes = self.row_update_writes(workspace_id, previous_version, &before, row, events)?;
                    self.transact(writes.items.clone()).await.map_err(|e| writes.error(e))?;
                }
                Ok(())
            }
            .instrument(span),
        )
    }

    fn delete_row<'a>(
        &'a self,
        workspace_id: &'a str,
        collection: &'static str,
        id: &'a str,
        version: u64,
        uniques: Vec<Guard>,
        quota: Option<Quota>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let span = tracing::info_span!("delete_row", collection);
        Box::pin(
            async move {
                let key = keys::resource(workspace_id, collection, id);
                let expected = HashMap::from([(":v".to_owned(), n(version))]);
                if uniques.is_empty() && quota.is_none() {
                    return match self
                        .write(self.tx_delete(&key, Some("version = :v"), expected)?)
                        .await?
                    {
                        true => Ok(()),
                        false => Err(StoreError::VersionMismatch),
                    };
                }
                let mut items = vec![self.tx_delete(&key, Some("version = :v"), expected)?];
                for unique in &uniques {
                    items.push(self.guard_delete(workspace_id, unique, id)?);
                }
                if let Some(quota) = quota {
                    items.push(self.quota_update(workspace_id, quota, -1)?);
                }
                self.transact(items).await.map_err(|e| {
                    if e.failed_at(0) {
                        StoreError::VersionMismatch
                    } else {
                        e.into_store()
                    }
                })
            }
            .instrument(span),
        )
    }

    /// The items of a page of a collection, read from the collection's partition or from the
    /// index partition `listed` names, between the sort keys `bounds`; and the page key after it.
    fn query_rows<'a>(
        &'a self,
        workspace_id: &'a str,
        collection: &'static str,
        listed: Option<(Index, String)>,
        bounds: Option<(String, String)>,
        query: &'a ListQuery,
    ) -> BoxFuture<'a, Result<Found, StoreError>> {
        Box::pin(async move {
            let index = listed.as_ref().map(|(index, _)| *index);
            let (index_name, pk_name, sk_name) = match index {
                None => (None, keys::PK, keys::SK),
                Some(index) => {
                    let (name, pk, sk) = index_keys(index);
                    (Some(name), pk, sk)
                }
            };
            let partition = match &listed {
                None => keys::collection(workspace_id, collection),
                Some((index, suffix)) => entry_partition(workspace_id, collection, *index, suffix),
            };
            let mut condition = "#pk = :pk".to_owned();
            let mut names = HashMap::from([("#pk".to_owned(), pk_name.to_owned())]);
            let mut values = HashMap::from([(":pk".to_owned(), s(partition))]);
            if let Some((low, high)) = bounds {
                condition.push_str(" AND #sk BETWEEN :low AND :high");
                names.insert("#sk".into(), sk_name.into());
                values.insert(":low".into(), s(low));
                values.insert(":high".into(), s(high));
            }
            let mut filter = Vec::new();
            for (i, (attribute, value)) in query.equals.iter().enumerate() {
                // `a.b` is the attribute `b` of the map `a`.
                let mut path = Vec::new();
                for (j, part) in attribute.split('.').enumerate() {
                    path.push(format!("#f{i}_{j}"));
                    names.insert(format!("#f{i}_{j}"), part.to_owned());
                }
                filter.push(format!("{} = :f{i}", path.join(".")));
                values.insert(format!(":f{i}"), s(value));
            }
            let filtered = !filter.is_empty();
            let wanted = query.limit as usize + 1;
            let mut found: Vec<Item> = Vec::new();
            let mut start = start_key(query.after.clone());
            for _ in 0..MAX_QUERIES_PER_PAGE {
                let out = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .set_index_name(index_name.map(str::to_owned))
                    .key_condition_expression(&condition)
                    .set_filter_expression(filtered.then(|| filter.join(" AND ")))
                    .set_expression_attribute_names(Some(names.clone()))
                    .set_expression_attribute_values(Some(values.clone()))
                    .scan_index_forward(query.ascending)
                    .limit(if filtered {
                        FILTERED_BATCH
                    } else {
                        (wanted - found.len()) as i32
                    })
                    .set_exclusive_start_key(start.take())
                    .set_consistent_read(index.is_none().then_some(true))
                    .send()
                    .await
                    .map_err(sdk_error)?;
                found.extend(out.items.unwrap_or_default());
                if found.len() >= wanted {
                    break;
                }
                match out.last_evaluated_key {
                    Some(last) if !last.is_empty() => start = Some(last),
                    _ => break,
                }
            }
            let next = if found.len() >= wanted {
                found.truncate(query.limit as usize);
                found.last().map(|last| position(last, index))
            } else {
                // The read budget ran out before the page filled: go on from where it stopped.
                start.map(|key| {
                    key.into_iter()
                        .filter_map(|(k, v)| Some((k, v.as_s().ok()?.clone())))
                        .collect()
                })
            };
            Ok((found, next))
        })
    }

    /// The id of the resource holding a unique value, read from its guard.
    fn unique_owner<'a>(
        &'a self,
        workspace_id: &'a str,
        unique: &'a Unique,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        Box::pin(async move {
            let guard = guard_of(unique);
            let Some(guard) = self
                .get_item(&keys::unique(workspace_id, guard.kind, &guard.value))
                .await?
            else {
                return Ok(None);
            };
            let owner = get_s(&guard, "owner_id")
                .ok_or_else(|| StoreError::Other(anyhow::anyhow!("unique guard without owner")))?;
            Ok(Some(owner.to_owned()))
        })
    }
}

// Each method turns the resource into a row (or reads one back) and leaves the rest to the
// row's methods above.
#[async_trait]
impl<T: Layout> Repository<T> for DynamoStore {
    async fn insert(
        &self,
        workspace_id: &str,
        value: &T,
        quota: Option<Quota>,
        events: &[Event],
    ) -> Result<Versioned<T>, StoreError> {
        let row = Row::of(workspace_id, value, 1)?;
        self.insert_row(workspace_id, row, quota, events).await?;
        Ok(Versioned {
            value: value.clone(),
            version: 1,
        })
    }

    async fn get(&self, workspace_id: &str, id: &str) -> Result<Option<Versioned<T>>, StoreError> {
        self.get_item(&keys::resource(workspace_id, T::COLLECTION, id))
            .await?
            .map(decode)
            .transpose()
    }

    async fn update(
        &self,
        workspace_id: &str,
        previous: &Versioned<T>,
        value: &T,
        events: &[Event],
    ) -> Result<Versioned<T>, StoreError> {
        let version = previous.version + 1;
        let row = Row::of(workspace_id, value, version)?;
        self.update_row(workspace_id, previous.version, previous.value.guards(), row, events)
            .await?;
        Ok(Versioned {
            value: value.clone(),
            version,
        })
    }

    async fn delete(&self, workspace_id: &str, current: &Versioned<T>, quota: Option<Quota>) -> Result<(), StoreError> {
        let guards = current.value.guards();
        self.delete_row(
            workspace_id,
            T::COLLECTION,
            current.value.id(),
            current.version,
            guards,
            quota,
        )
        .await
    }

    async fn query(&self, workspace_id: &str, query: &ListQuery) -> Result<Page<Versioned<T>>, StoreError> {
        let listed = T::list_index(&query.by)
            .ok_or_else(|| StoreError::Other(anyhow::anyhow!("{} are not listed by {:?}", T::COLLECTION, query.by)))?;
        let bounds = (query.from.is_some() || query.to.is_some()).then(|| T::sort_bounds(query.from, query.to));
        let (found, next) = self
            .query_rows(workspace_id, T::COLLECTION, listed, bounds, query)
            .await?;
        let items = found.into_iter().map(decode).collect::<Result<_, _>>()?;
        Ok(Page { items, next })
    }

    async fn find_unique(&self, workspace_id: &str, unique: &Unique) -> Result<Option<Versioned<T>>, StoreError> {
        match self.unique_owner(workspace_id, unique).await? {
            Some(owner) => Repository::<T>::get(self, workspace_id, &owner).await,
            None => Ok(None),
        }
    }
}

#[async_trait]
impl TimelineStore for DynamoStore {
    async fn timeline(
        &self,
        workspace_id: &str,
        contact_id: &str,
        before: Option<DateTime<Utc>>,
        page: PageRequest,
    ) -> Result<Page<TimelineItem>, StoreError> {
        let PageRequest { limit, after } = page;
        let (index, pk, sk) = index_keys(Index::Timeline);
        let mut condition = "#pk = :pk".to_owned();
        let mut names = HashMap::from([("#pk".to_owned(), pk.to_owned())]);
        let mut values = HashMap::from([(":pk".to_owned(), s(keys::timeline(workspace_id, contact_id)))]);
        if let Some(before) = before {
            condition.push_str(" AND #sk < :before");
            names.insert("#sk".into(), sk.into());
            values.insert(":before".into(), s(timeline_sort(before, "")));
        }
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(false)
            .limit(limit as i32 + 1)
            .set_exclusive_start_key(start_key(after))
            .send()
            .await
            .map_err(sdk_error)?;
        let mut found = out.items.unwrap_or_default();
        let next = (found.len() > limit as usize).then(|| {
            found.truncate(limit as usize);
            found.last().map(|last| position(last, Some(Index::Timeline)))
        });
        let items = found
            .into_iter()
            .map(|item| {
                let item = match get_s(&item, keys::ENTITY).unwrap_or_default() {
                    "call" => TimelineItem::Call(decode(item)?.value),
                    "conversation" => TimelineItem::Conversation(decode(item)?.value),
                    "appointment" => TimelineItem::Appointment(decode(item)?.value),
                    "approval" => TimelineItem::Approval(decode(item)?.value),
                    other => return Err(StoreError::Other(anyhow::anyhow!("{other} on a timeline"))),
                };
                Ok(item)
            })
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            next: next.flatten(),
        })
    }
}

#[async_trait]
impl EventStore for DynamoStore {
    async fn event(&self, workspace_id: &str, event_id: &str) -> Result<Option<Event>, StoreError> {
        self.get_as(&keys::event(workspace_id, event_id)).await
    }

    async fn keep_test_event(&self, workspace_id: &str, event: &Event) -> Result<(), StoreError> {
        let mut item = item_of(&keys::event(workspace_id, &event.id), entity::TEST_EVENT, event)?;
        item.insert("livemode".into(), livemode(workspace_id));
        item.insert(keys::TTL.into(), n(event.timestamp.timestamp() + EVENT_RETENTION_SECS));
        self.put(item).await
    }
}

/// Whether an event written in `workspace_id` is of live data.
fn livemode(workspace_id: &str) -> AttributeValue {
    AttributeValue::Bool(!switchboard_core::model::is_test_workspace(workspace_id))
}

/// The workspace and event a new item of the table's stream carries, if it is an event of the
/// log (test events are not routed).
pub fn streamed_event(image: &serde_dynamo::Item) -> Result<Option<(String, Event)>, StoreError> {
    let text = |name: &str| match image.get(name) {
        Some(serde_dynamo::AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    };
    if text(keys::ENTITY).as_deref() != Some(entity::EVENT) {
        return Ok(None);
    }
    let workspace_id =
        text("workspace_id").ok_or_else(|| StoreError::Other(anyhow::anyhow!("an event without its workspace")))?;
    let event: Event =
        serde_dynamo::from_item(image.clone()).map_err(|e| StoreError::Other(anyhow::anyhow!("decode event: {e}")))?;
    Ok(Some((workspace_id, event)))
}
