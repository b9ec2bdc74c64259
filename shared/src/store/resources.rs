//! One generic repository for plain workspace resources (agents, contacts): an item per
//! resource in its collection's partition, a version for optimistic concurrency, guard items
//! for unique values and an optional counter on the workspace item for plan limits.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};

use super::keys::{self, entity};
use super::{DynamoStore, Item, NEW_ITEM, TransactError, from_item, get_s, item_of, n, s, sdk_error, start_key};
use crate::ports::{Page, PageKey, Quota, Repository, Resource, StoreError, UniqueValue, Versioned};

#[derive(Serialize, Deserialize)]
#[serde(bound = "T: Resource")]
struct Stored<T> {
    #[serde(flatten)]
    value: T,
    version: u64,
}

fn entity_of<T: Resource>() -> String {
    T::COLLECTION.to_ascii_lowercase()
}

fn resource_item<T: Resource>(workspace_id: &str, value: &T, version: u64) -> Result<Item, StoreError> {
    let key = keys::resource(workspace_id, T::COLLECTION, value.id());
    let mut item = item_of(
        &key,
        &entity_of::<T>(),
        &Stored {
            value: value.clone(),
            version,
        },
    )?;
    if let Some(lookup) = value.lookup_value() {
        item.insert(
            keys::GSI1PK.into(),
            s(keys::lookup(workspace_id, T::COLLECTION, &lookup)),
        );
        item.insert(keys::GSI1SK.into(), s(value.id()));
    }
    Ok(item)
}

fn decode<T: Resource>(item: Item) -> Result<Versioned<T>, StoreError> {
    let stored: Stored<T> = from_item(item)?;
    Ok(Versioned {
        value: stored.value,
        version: stored.version,
    })
}

/// The page key of an item, for the cursor after it.
fn position(item: &Item, index: bool) -> PageKey {
    let mut names = vec![keys::PK, keys::SK];
    if index {
        names.extend([keys::GSI1PK, keys::GSI1SK]);
    }
    names
        .into_iter()
        .filter_map(|k| Some((k.to_owned(), get_s(item, k)?.to_owned())))
        .collect()
}

impl DynamoStore {
    fn guard_put(
        &self,
        workspace_id: &str,
        unique: &UniqueValue,
        owner_id: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut item = super::key_map(&keys::unique(workspace_id, unique.kind, &unique.value));
        item.insert(keys::ENTITY.into(), s(entity::UNIQUE));
        item.insert("owner_id".into(), s(owner_id));
        self.tx_put(item, NEW_ITEM, Item::new())
    }

    fn guard_delete(
        &self,
        workspace_id: &str,
        unique: &UniqueValue,
        owner_id: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        self.tx_delete(
            &keys::unique(workspace_id, unique.kind, &unique.value),
            Some("owner_id = :owner"),
            HashMap::from([(":owner".into(), s(owner_id))]),
        )
    }

    fn quota_update(&self, workspace_id: &str, quota: Quota, delta: i64) -> Result<TransactWriteItem, StoreError> {
        let counter = quota.counter;
        let (update, condition, mut values) = if delta > 0 {
            (
                format!("ADD #{counter} :delta"),
                Some(format!("attribute_exists(PK) AND #{counter} < :max")),
                HashMap::from([(":max".to_owned(), n(quota.max))]),
            )
        } else {
            (format!("ADD #{counter} :delta"), None, HashMap::new())
        };
        values.insert(":delta".into(), n(delta));
        self.tx_update(&keys::workspace(workspace_id), &update, condition.as_deref(), values)
    }

    async fn query_page<T: Resource>(
        &self,
        index: Option<&str>,
        pk: (&str, String),
        limit: u32,
        after: Option<PageKey>,
    ) -> Result<Page<Versioned<T>>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", pk.0)
            .expression_attribute_values(":pk", s(pk.1))
            .scan_index_forward(false)
            .limit(limit as i32 + 1)
            .set_exclusive_start_key(start_key(after))
            .set_consistent_read(index.is_none().then_some(true))
            .send()
            .await
            .map_err(sdk_error)?;
        let mut items = out.items.unwrap_or_default();
        let has_more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next = if has_more {
            items.last().map(|last| position(last, index.is_some()))
        } else {
            None
        };
        let items = items.into_iter().map(decode).collect::<Result<_, _>>()?;
        Ok(Page { items, next })
    }
}

/// Maps a cancelled write of `[resource, guards..., quota?]` to its domain error.
fn write_error(e: TransactError, guards: &[(usize, &UniqueValue)], quota_at: Option<usize>) -> StoreError {
    if e.failed_at(0) {
        return StoreError::VersionMismatch;
    }
    if let Some((_, unique)) = guards.iter().find(|(i, _)| e.failed_at(*i)) {
        return StoreError::Conflict(unique.conflict);
    }
    if quota_at.is_some_and(|i| e.failed_at(i)) {
        return StoreError::LimitReached;
    }
    e.into_store()
}

#[async_trait]
impl<T: Resource> Repository<T> for DynamoStore {
    #[tracing::instrument(skip_all, fields(collection = T::COLLECTION, workspace_id))]
    async fn insert(&self, workspace_id: &str, value: &T, quota: Option<Quota>) -> Result<Versioned<T>, StoreError> {
        let item = resource_item(workspace_id, value, 1)?;
        let uniques = value.unique_values();
        if uniques.is_empty() && quota.is_none() {
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(PK)")
                .send()
                .await
                .map_err(sdk_error)?;
        } else {
            let mut items = vec![self.tx_put(item, NEW_ITEM, Item::new())?];
            let mut guards = Vec::new();
            for unique in &uniques {
                guards.push((items.len(), unique));
                items.push(self.guard_put(workspace_id, unique, value.id())?);
            }
            let quota_at = quota.map(|_| items.len());
            if let Some(quota) = quota {
                items.push(self.quota_update(workspace_id, quota, 1)?);
            }
            self.transact(items)
                .await
                .map_err(|e| write_error(e, &guards, quota_at))?;
        }
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

    #[tracing::instrument(skip_all, fields(collection = T::COLLECTION, workspace_id))]
    async fn update(&self, workspace_id: &str, previous: &Versioned<T>, value: &T) -> Result<Versioned<T>, StoreError> {
        let version = previous.version + 1;
        let item = resource_item(workspace_id, value, version)?;
        let before = previous.value.unique_values();
        let after = value.unique_values();
        let released: Vec<&UniqueValue> = before.iter().filter(|u| !after.contains(u)).collect();
        let claimed: Vec<&UniqueValue> = after.iter().filter(|u| !before.contains(u)).collect();
        let expected = HashMap::from([(":v".to_owned(), n(previous.version))]);
        if released.is_empty() && claimed.is_empty() {
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("version = :v")
                .set_expression_attribute_values(Some(expected))
                .send()
                .await;
            match result {
                Ok(_) => {}
                Err(err)
                    if matches!(
                        err.as_service_error(),
                        Some(PutItemError::ConditionalCheckFailedException(_))
                    ) =>
                {
                    return Err(StoreError::VersionMismatch);
                }
                Err(err) => return Err(sdk_error(err)),
            }
        } else {
            let mut items = vec![self.tx_put(item, Some("version = :v"), expected)?];
            let mut guards = Vec::new();
            for unique in claimed {
                guards.push((items.len(), unique));
                items.push(self.guard_put(workspace_id, unique, value.id())?);
            }
            for unique in released {
                items.push(self.guard_delete(workspace_id, unique, value.id())?);
            }
            self.transact(items).await.map_err(|e| write_error(e, &guards, None))?;
        }
        Ok(Versioned {
            value: value.clone(),
            version,
        })
    }

    #[tracing::instrument(skip_all, fields(collection = T::COLLECTION, workspace_id))]
    async fn delete(&self, workspace_id: &str, current: &Versioned<T>, quota: Option<Quota>) -> Result<(), StoreError> {
        let key = keys::resource(workspace_id, T::COLLECTION, current.value.id());
        let expected = HashMap::from([(":v".to_owned(), n(current.version))]);
        let uniques = current.value.unique_values();
        if uniques.is_empty() && quota.is_none() {
            let result = self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(super::key_map(&key)))
                .condition_expression("version = :v")
                .set_expression_attribute_values(Some(expected))
                .send()
                .await;
            return match result {
                Ok(_) => Ok(()),
                Err(err)
                    if matches!(
                        err.as_service_error(),
                        Some(DeleteItemError::ConditionalCheckFailedException(_))
                    ) =>
                {
                    Err(StoreError::VersionMismatch)
                }
                Err(err) => Err(sdk_error(err)),
            };
        }
        let mut items = vec![self.tx_delete(&key, Some("version = :v"), expected)?];
        for unique in &uniques {
            items.push(self.guard_delete(workspace_id, unique, current.value.id())?);
        }
        if let Some(quota) = quota {
            items.push(self.quota_update(workspace_id, quota, -1)?);
        }
        self.transact(items).await.map_err(|e| write_error(e, &[], None))
    }

    async fn list(
        &self,
        workspace_id: &str,
        limit: u32,
        after: Option<PageKey>,
    ) -> Result<Page<Versioned<T>>, StoreError> {
        self.query_page(
            None,
            (keys::PK, keys::collection(workspace_id, T::COLLECTION)),
            limit,
            after,
        )
        .await
    }

    async fn find_unique(&self, workspace_id: &str, unique: &UniqueValue) -> Result<Option<Versioned<T>>, StoreError> {
        let Some(guard) = self
            .get_item(&keys::unique(workspace_id, unique.kind, &unique.value))
            .await?
        else {
            return Ok(None);
        };
        let owner = get_s(&guard, "owner_id")
            .ok_or_else(|| StoreError::Other(anyhow::anyhow!("unique guard without owner")))?;
        Repository::<T>::get(self, workspace_id, owner).await
    }

    async fn find_by_lookup(
        &self,
        workspace_id: &str,
        value: &str,
        limit: u32,
        after: Option<PageKey>,
    ) -> Result<Page<Versioned<T>>, StoreError> {
        self.query_page(
            Some(keys::GSI1),
            (keys::GSI1PK, keys::lookup(workspace_id, T::COLLECTION, value)),
            limit,
            after,
        )
        .await
    }
}
