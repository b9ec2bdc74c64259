//! The DynamoDB adapter: one [`DynamoStore`] implements every storage port over a single
//! table. Every key, index, sort-key encoding and guard item is decided here: keys in
//! [`keys`], where each resource lives in [`layout`], and each access pattern in
//! `ACCESS_PATTERNS.md` beside them.
//!
//! Storage failures become domain errors here: a failed condition is a conflict, a missing
//! item is "not found", throttling is worth a retry; callers never see SDK types.

mod accounts;
mod api_keys;
mod audit;
mod billing;
mod campaigns;
mod credentials;
mod customers;
mod directory;
mod erasure;
mod idempotency;
pub mod keys;
pub mod layout;
mod maintenance;
mod onboarding;
mod phone_lists;
mod pseudonyms;
mod reports;
mod resources;
mod team;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update};
use aws_smithy_types::error::display::DisplayErrorContext;
use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;

use switchboard_core::StoreError;

pub use self::keys::Key;
pub use self::pseudonyms::PseudonymKey;
pub use self::resources::streamed_event;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// The single-table store.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// Credential items as this instance's last request left them (see `credentials.rs`).
    seen_credentials: Arc<Mutex<HashMap<String, Item>>>,
    /// What numbers on the phone lists are stored under; functions that never touch the lists
    /// do not read it.
    pseudonyms: Option<Arc<PseudonymKey>>,
    /// Multiplies every plan's rate limits (1 but in load tests).
    rate_limit_scale: u32,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            seen_credentials: Arc::default(),
            pseudonyms: None,
            rate_limit_scale: 1,
        }
    }

    /// The store, counting requests against `scale` times each plan's rate limits.
    pub fn with_rate_limit_scale(mut self, scale: u32) -> Self {
        self.rate_limit_scale = scale.max(1);
        self
    }

    /// The store, storing numbers on the phone lists under pseudonyms made with `key`.
    pub fn with_pseudonyms(mut self, key: PseudonymKey) -> Self {
        self.pseudonyms = Some(Arc::new(key));
        self
    }

    /// `value`'s pseudonym in the workspace; an error when this store was built without the key.
    pub(crate) fn pseudonym(&self, workspace_id: &str, value: &str) -> Result<String, StoreError> {
        let key = self.pseudonyms.as_ref().ok_or_else(|| {
            StoreError::Other(anyhow::anyhow!(
                "this function reads no pseudonym key (PSEUDONYM_KEY_SECRET_ID), so it cannot use the phone lists"
            ))
        })?;
        Ok(key.of(workspace_id, value))
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

#[async_trait::async_trait]
impl switchboard_core::ports::Probe for DynamoStore {
    /// One cheap read, to tell whether the table answers.
    async fn probe(&self) -> Result<(), StoreError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_map(&Key {
                pk: "HEALTH".into(),
                sk: "HEALTH".into(),
            })))
            .send()
            .await
            .map(|_| ())
            .map_err(sdk_error)
    }
}

impl DynamoStore {
    // What the repository's generic code awaits (`get_item`, `transact`, `write` and the row
    // methods of `resources.rs`) hands back boxed futures: an `async fn`'s body awaited from
    // generic code is compiled again into each crate that instantiates it; behind a box, once.

    /// A consistent GetItem.
    fn get_item<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<Item>, StoreError>> {
        Box::pin(async move {
            // An id from input may be empty; no item has an empty key, and DynamoDB refuses to look.
            if key.pk.is_empty() || key.sk.is_empty() {
                return Ok(None);
            }
            let out = self
                .client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(key_map(key)))
                .consistent_read(true)
                .send()
                .await
                .map_err(sdk_error)?;
            Ok(out.item)
        })
    }

    /// Whether the partition `pk` holds any item (a consistent Query of one key): a bulk read
    /// of keys in a partition known to be empty is skipped.
    pub(crate) async fn any_in(&self, pk: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(pk))
            .projection_expression("PK")
            .limit(1)
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.count > 0)
    }

    /// A consistent GetItem, decoded.
    async fn get_as<T: DeserializeOwned>(&self, key: &Key) -> Result<Option<T>, StoreError> {
        self.get_item(key).await?.map(from_item).transpose()
    }

    /// Writes an item, over whatever had its key.
    async fn put(&self, item: Item) -> Result<(), StoreError> {
        self.write(self.tx_put(item, None, Item::new())?).await.map(|_| ())
    }

    /// Writes an item whose key must be new; whether it was (false: an item has the key).
    async fn put_new(&self, item: Item) -> Result<bool, StoreError> {
        self.write(self.tx_put(item, NEW_ITEM, Item::new())?).await
    }

    fn tx_put(&self, item: Item, condition: Option<&str>, values: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(attribute_names(&[condition]))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .build()
            .map_err(|e| StoreError::Other(e.into()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// An Update of a transaction; `values` are its `:placeholders`, and each `#name` in the
    /// expressions stands for the attribute `name` (for reserved words such as `status`).
    fn tx_update(
        &self,
        key: &Key,
        update: &str,
        condition: Option<&str>,
        values: Item,
    ) -> Result<TransactWriteItem, StoreError> {
        let names = attribute_names(&[Some(update), condition]);
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .update_expression(update)
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(names)
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .build()
            .map_err(|e| StoreError::Other(e.into()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    fn tx_delete(&self, key: &Key, condition: Option<&str>, values: Item) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(attribute_names(&[condition]))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .build()
            .map_err(|e| StoreError::Other(e.into()))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// A ConditionCheck of a transaction.
    fn tx_check(&self, key: &Key, condition: &str, values: Item) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .condition_expression(condition)
            .set_expression_attribute_names(attribute_names(&[Some(condition)]))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::Other(e.into()))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// Runs a transaction (with the request's audit entry, when it waits for a write), retrying
    /// when it collided with another one (`TransactionConflict`). A cancelled transaction
    /// returns the code of each item (`None` when that item was fine).
    fn transact(&self, mut items: Vec<TransactWriteItem>) -> BoxFuture<'_, Result<(), TransactError>> {
        Box::pin(async move {
            let audit = self.take_audit(&items).map_err(TransactError::Store)?;
            if let Some((_, put)) = &audit {
                items.push(put.clone());
            }
            let result = self.transact_items(items).await;
            if let (Err(_), Some((pending, _))) = (&result, audit) {
                switchboard_domain::audit::put_back(pending);
            }
            result
        })
    }

    async fn transact_items(&self, items: Vec<TransactWriteItem>) -> Result<(), TransactError> {
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(err) => err,
            };
            let reasons: Option<Vec<Option<String>>> = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(e)) => Some(
                    e.cancellation_reasons()
                        .iter()
                        .map(|r| r.code().filter(|c| *c != "None").map(str::to_owned))
                        .collect(),
                ),
                _ => None,
            };
            let conflicted = reasons
                .as_ref()
                .is_some_and(|r| r.iter().flatten().any(|c| c == "TransactionConflict"))
                || matches!(
                    err.as_service_error(),
                    Some(TransactWriteItemsError::TransactionInProgressException(_))
                );
            let only_conflicts = reasons
                .as_ref()
                .is_none_or(|r| r.iter().flatten().all(|c| c == "TransactionConflict"));
            if conflicted && only_conflicts && attempt < 6 {
                attempt += 1;
                tokio::time::sleep(backoff(attempt)).await;
                continue;
            }
            return Err(match reasons {
                Some(reasons) => TransactError::Cancelled(reasons),
                None => TransactError::Store(sdk_error(err)),
            });
        }
    }
}

impl DynamoStore {
    /// Every item of a partition whose sort key starts with `sk_prefix` (all, when empty),
    /// page after page: for partitions that stay small (a workspace's members, roles, sessions;
    /// the renewals of a day, the schedules due in a minute).
    async fn query_all(&self, pk: &str, sk_prefix: &str) -> Result<Vec<Item>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", s(pk));
        let query = if sk_prefix.is_empty() {
            query.key_condition_expression("PK = :pk")
        } else {
            query
                .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                .expression_attribute_values(":prefix", s(sk_prefix))
        };
        let items = query.consistent_read(true).into_paginator().items().send();
        items.try_collect().await.map_err(sdk_error)
    }
}

/// Batches a bulk read or write runs at once.
const BULK_CONCURRENCY: usize = 8;
/// Keys one BatchGetItem reads at most.
pub(crate) const BATCH_GET_KEYS: usize = 100;

impl DynamoStore {
    /// The items of `keys` that exist (BatchGetItem, 100 keys a request, several at once;
    /// unprocessed keys are asked again).
    pub(crate) async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        use futures::stream::{self, StreamExt, TryStreamExt};
        let keys: Vec<&Key> = keys.iter().filter(|k| !k.pk.is_empty() && !k.sk.is_empty()).collect();
        let requests: Vec<Vec<Item>> = keys
            .chunks(BATCH_GET_KEYS)
            .map(|chunk| chunk.iter().map(|k| key_map(k)).collect())
            .collect();
        let batches = stream::iter(requests)
            .map(|wanted: Vec<Item>| {
                until_processed(wanted, |wanted| async move {
                    let request = KeysAndAttributes::builder()
                        .set_keys(Some(wanted))
                        .consistent_read(true)
                        .build()
                        .map_err(|e| StoreError::Other(e.into()))?;
                    let out = self
                        .client
                        .batch_get_item()
                        .request_items(&self.table, request)
                        .send()
                        .await
                        .map_err(sdk_error)?;
                    let found = out.responses.and_then(|mut r| r.remove(&self.table));
                    let left = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table));
                    Ok((found.unwrap_or_default(), left.map(|k| k.keys).unwrap_or_default()))
                })
            })
            .buffer_unordered(BULK_CONCURRENCY)
            .try_collect::<Vec<Vec<Item>>>()
            .await?;
        Ok(batches.into_iter().flatten().collect())
    }

    /// Writes `items` (BatchWriteItem, 25 a request, several at once; unprocessed items are
    /// written again). No conditions: for items no one else writes meanwhile. The request's
    /// audit entry, when it waits, goes in the first batch: a bulk change that stops half-way
    /// has still happened.
    pub(crate) async fn put_many(&self, mut items: Vec<Item>) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        use futures::stream::{self, StreamExt, TryStreamExt};
        if !items.is_empty()
            && let Some(entry) = self.take_audit_item()?
        {
            items.insert(0, entry);
        }
        let requests: Vec<WriteRequest> = items
            .into_iter()
            .map(|item| {
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| StoreError::Other(e.into()))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<_, StoreError>>()?;
        let batches: Vec<Vec<WriteRequest>> = requests.chunks(25).map(<[WriteRequest]>::to_vec).collect();
        stream::iter(batches)
            .map(|pending: Vec<WriteRequest>| {
                until_processed(pending, |pending| async move {
                    let out = self
                        .client
                        .batch_write_item()
                        .request_items(&self.table, pending)
                        .send()
                        .await
                        .map_err(sdk_error)?;
                    let left = out.unprocessed_items.and_then(|mut u| u.remove(&self.table));
                    Ok((Vec::new(), left.unwrap_or_default()))
                })
            })
            .buffer_unordered(BULK_CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?;
        Ok(())
    }
}

/// Requests a batch gets at most: DynamoDB leaves part of one unprocessed when throttled (or
/// over a response's size), and what it leaves is asked again after a backoff.
const BATCH_ATTEMPTS: u32 = 10;

/// Sends `pending` by `send` (one BatchGetItem or BatchWriteItem, answering the items it read
/// and the requests it left unprocessed) until nothing is left, backing off between attempts:
/// the one retry policy of bulk reads and writes.
async fn until_processed<T, Fut>(mut pending: Vec<T>, send: impl Fn(Vec<T>) -> Fut) -> Result<Vec<Item>, StoreError>
where
    Fut: Future<Output = Result<(Vec<Item>, Vec<T>), StoreError>>,
{
    let mut read = Vec::new();
    let mut attempt = 0;
    while !pending.is_empty() {
        if attempt == BATCH_ATTEMPTS {
            return Err(StoreError::Throttled(anyhow::anyhow!(
                "a batch request left {} unprocessed after {BATCH_ATTEMPTS} attempts",
                pending.len()
            )));
        }
        if attempt > 0 {
            tokio::time::sleep(backoff(attempt - 1)).await;
        }
        let (items, left) = send(pending).await?;
        read.extend(items);
        pending = left;
        attempt += 1;
    }
    Ok(read)
}

/// `#name` → `name` for every `#name` in the expressions.
fn attribute_names(expressions: &[Option<&str>]) -> Option<HashMap<String, String>> {
    let mut names = HashMap::new();
    for expression in expressions.iter().flatten() {
        for (i, _) in expression.match_indices('#') {
            let name: String = expression[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            names.insert(format!("#{name}"), name);
        }
    }
    (!names.is_empty()).then_some(names)
}

/// Jittered exponential backoff for retries of contended writes.
fn backoff(attempt: u32) -> Duration {
    let base = 10u64 << attempt.min(6);
    Duration::from_millis(base + rand::random_range(0..base))
}

#[derive(Debug)]
enum TransactError {
    /// Per-item cancellation codes (`ConditionalCheckFailed`...), in the order of the items.
    Cancelled(Vec<Option<String>>),
    Store(StoreError),
}

impl TransactError {
    /// Whether the condition of item `index` failed.
    fn failed_at(&self, index: usize) -> bool {
        matches!(self, TransactError::Cancelled(r) if r.get(index).is_some_and(|c| c.as_deref() == Some("ConditionalCheckFailed")))
    }

    fn into_store(self) -> StoreError {
        match self {
            TransactError::Store(e) => e,
            TransactError::Cancelled(reasons) => {
                StoreError::Other(anyhow::anyhow!("transaction cancelled: {reasons:?}"))
            }
        }
    }
}

/// Operation errors that say when a write's condition failed (with the item as it was, when
/// the write asked for it).
pub(crate) trait ConditionFailure {
    fn condition_failed(&self) -> Option<Option<Item>>;
}

macro_rules! condition_failure {
    ($($error:ty),*) => {$(
        impl ConditionFailure for $error {
            fn condition_failed(&self) -> Option<Option<Item>> {
                match self {
                    Self::ConditionalCheckFailedException(e) => Some(e.item().cloned()),
                    _ => None,
                }
            }
        }
    )*};
}

condition_failure!(
    aws_sdk_dynamodb::operation::put_item::PutItemError,
    aws_sdk_dynamodb::operation::update_item::UpdateItemError,
    aws_sdk_dynamodb::operation::delete_item::DeleteItemError
);

/// The outcome of a single-item write with a condition: `Err(old item)` when the condition
/// failed, other failures as store errors.
pub(crate) fn conditional<O, E, R>(result: Result<O, SdkError<E, R>>) -> Result<Result<O, Option<Item>>, StoreError>
where
    E: ConditionFailure + ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(out) => Ok(Ok(out)),
        Err(err) => match err.as_service_error().and_then(ConditionFailure::condition_failed) {
            Some(old) => Ok(Err(old)),
            None => Err(sdk_error(err)),
        },
    }
}

/// Turns an SDK error into a store error, keeping the whole cause chain for the log.
pub(crate) fn sdk_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let throttled = matches!(
        err.code(),
        Some("ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded")
    );
    let cause = anyhow::anyhow!("{}", DisplayErrorContext(&err));
    if throttled {
        StoreError::Throttled(cause)
    } else {
        StoreError::Other(cause)
    }
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn key_map(key: &Key) -> Item {
    HashMap::from([(keys::PK.to_owned(), s(&key.pk)), (keys::SK.to_owned(), s(&key.sk))])
}

/// `value`'s attributes plus its key and entity.
pub(crate) fn item_of<T: Serialize>(key: &Key, entity: &str, value: &T) -> Result<Item, StoreError> {
    let mut item: Item =
        serde_dynamo::to_item(value).map_err(|e| StoreError::Other(anyhow::anyhow!("encode {entity}: {e}")))?;
    item.retain(|_, v| !matches!(v, AttributeValue::Null(_)));
    item.extend(key_map(key));
    item.insert(keys::ENTITY.to_owned(), s(entity));
    Ok(item)
}

/// Decodes the items a Query found; a malformed item is an error, never skipped.
pub(crate) fn from_items<T: DeserializeOwned>(items: Option<Vec<Item>>) -> Result<Vec<T>, StoreError> {
    items.unwrap_or_default().into_iter().map(from_item).collect()
}

/// Decodes an item; a malformed item is an error, never skipped.
pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    let entity = item
        .get(keys::ENTITY)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default();
    serde_dynamo::from_item(item).map_err(|e| StoreError::Other(anyhow::anyhow!("decode {entity}: {e}")))
}

/// An item to create: fails if the key exists.
pub(crate) const NEW_ITEM: Option<&str> = Some("attribute_not_exists(PK)");

pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// Whether `item` is the one at `key` (to tell apart the items of one BatchGetItem).
pub(crate) fn is_at(item: &Item, key: &keys::Key) -> bool {
    get_s(item, keys::PK) == Some(key.pk.as_str()) && get_s(item, keys::SK) == Some(key.sk.as_str())
}

pub(crate) fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

pub(crate) fn start_key(after: Option<switchboard_core::ports::PageKey>) -> Option<Item> {
    after.map(|key| key.into_iter().map(|(k, v)| (k, AttributeValue::S(v))).collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn item(n: u32) -> Item {
        Item::from([("n".to_owned(), AttributeValue::N(n.to_string()))])
    }

    #[tokio::test(start_paused = true)]
    async fn what_a_batch_leaves_unprocessed_is_sent_again_until_nothing_is_left() {
        let sent = Mutex::new(Vec::new());
        // Each request does only its first key and leaves the rest.
        let read = until_processed(vec![1, 2, 3], |pending: Vec<u32>| {
            sent.lock().unwrap().push(pending.clone());
            async move { Ok((vec![item(pending[0])], pending[1..].to_vec())) }
        })
        .await
        .unwrap();
        assert_eq!(read, vec![item(1), item(2), item(3)]);
        assert_eq!(*sent.lock().unwrap(), vec![vec![1, 2, 3], vec![2, 3], vec![3]]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_left_unprocessed_attempt_after_attempt_fails_as_throttled() {
        let attempts = Mutex::new(0);
        let result = until_processed(vec![1], |pending: Vec<u32>| {
            *attempts.lock().unwrap() += 1;
            async move { Ok((Vec::new(), pending)) }
        })
        .await;
        assert!(matches!(result, Err(StoreError::Throttled(_))), "{result:?}");
        assert_eq!(*attempts.lock().unwrap(), BATCH_ATTEMPTS);
    }

    #[tokio::test]
    async fn nothing_to_send_sends_nothing() {
        let read = until_processed(Vec::<u32>::new(), |_| async { panic!("nothing is sent") })
            .await
            .unwrap();
        assert!(read.is_empty());
    }
}
