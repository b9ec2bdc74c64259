//! API keys: the workspace's key rows and the global lookup items authentication reads.
//!
//! The row (`<ws>`, `APIKEY#<key>`) is what users list; the lookup (`APIKEY#<sha256>`) is what
//! a request finds by hashing its secret. Both are written in one transaction with the
//! workspace's `active_api_keys` counter, which caps active keys.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::billing::Opening;
use super::credentials::{GRANTS, credential_attributes, grants_value};
use super::keys::{self, entity};
use super::{DynamoStore, Item, NEW_ITEM, from_items, get_s, item_of, key_map, n, s, sdk_error};
use switchboard_core::ErrorCode;
use switchboard_core::StoreError;
use switchboard_core::ids;
use switchboard_core::model::{ApiKey, ApiKeyStatus, KeyMode, Scope, TEST_CREDIT_MINOR, Workspace, test_workspace_id};
use switchboard_core::ports::{ApiKeyStore, NewApiKey, Page, PageKey, PageRequest};

/// How long a revoked key's lookup stays, so its holder is told "revoked" rather than "invalid".
const REVOKED_LOOKUP_DAYS: i64 = 30;

#[derive(Serialize, Deserialize)]
struct KeyRow {
    #[serde(flatten)]
    key: ApiKey,
    secret_hash: String,
}

fn iso(at: DateTime<Utc>) -> AttributeValue {
    s(switchboard_core::clock::api_time(at).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

impl DynamoStore {
    async fn key_row(&self, workspace_id: &str, key_id: &str) -> Result<Option<KeyRow>, StoreError> {
        self.get_as(&keys::api_key(workspace_id, key_id)).await
    }

    /// Last-used time and address of each lookup, by secret hash.
    async fn last_used(&self, hashes: &[&str]) -> Result<HashMap<String, Item>, StoreError> {
        if hashes.is_empty() {
            return Ok(HashMap::new());
        }
        let wanted: Vec<keys::Key> = hashes.iter().map(|hash| keys::api_key_lookup(hash)).collect();
        Ok(self
            .get_many(&wanted)
            .await?
            .into_iter()
            .filter_map(|item| {
                Some((
                    get_s(&item, keys::PK)?
                        .trim_start_matches(keys::API_KEY_PREFIX)
                        .to_owned(),
                    item,
                ))
            })
            .collect())
    }

    /// Makes the test-mode twin of the workspace `live` (its workspace item, and a wallet of
    /// test money) unless it exists. On its own, before the key that needs it: the twin is
    /// not the change the request makes, and a second maker finds it made.
    async fn ensure_test_workspace(&self, live: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let twin = test_workspace_id(live);
        if self.get_item(&keys::workspace(&twin)).await?.is_some() {
            return Ok(());
        }
        let Some(workspace) = self.get_as::<Workspace>(&keys::workspace(live)).await? else {
            return Err(StoreError::Conflict(ErrorCode::AccountInactive));
        };
        let twin = Workspace {
            id: twin,
            name: format!("{} (test mode)", workspace.name),
            created_at: at,
            updated_at: at,
            ..workspace
        };
        let mut items = vec![self.tx_put(
            item_of(&keys::workspace(&twin.id), entity::WORKSPACE, &twin)?,
            NEW_ITEM,
            Item::new(),
        )?];
        let entry_id = ids::new_id_at(ids::prefix::LEDGER_ENTRY, at);
        let opening = Opening {
            credit_minor: TEST_CREDIT_MINOR,
            entry_id: &entry_id,
            owner_verified: false,
            allowed_countries: twin.country.iter().cloned().collect(),
        };
        items.extend(self.new_wallet_writes(&twin, opening)?);
        match self.transact_items(items).await {
            Err(e) if e.failed_at(0) => Ok(()),
            made => made.map_err(|e| e.into_store()),
        }
    }

    async fn insert_key(&self, new: &NewApiKey, max_active: u32) -> Result<(), StoreError> {
        // A test key's requests act in the workspace's test-mode twin.
        let credential_workspace = if new.key.mode == KeyMode::Live {
            new.workspace_id.clone()
        } else {
            self.ensure_test_workspace(&new.workspace_id, new.key.created_at)
                .await?;
            test_workspace_id(&new.workspace_id)
        };
        let row = item_of(
            &keys::api_key(&new.workspace_id, &new.key.id),
            entity::API_KEY,
            &KeyRow {
                key: new.key.clone(),
                secret_hash: new.secret_hash.clone(),
            },
        )?;
        let mut lookup = credential_attributes(&credential_workspace, new.plan, new.key.expires_at);
        lookup.extend(key_map(&keys::api_key_lookup(&new.secret_hash)));
        lookup.insert(keys::ENTITY.into(), s(entity::API_KEY_LOOKUP));
        lookup.insert("key_id".into(), s(&new.key.id));
        lookup.insert("scope".into(), s(scope_name(new.key.scope)));
        lookup.insert(GRANTS.into(), grants_value(&new.creator_grants));
        let items = vec![
            self.tx_put(row, NEW_ITEM, Item::new())?,
            self.tx_put(lookup, NEW_ITEM, Item::new())?,
            self.tx_update(
                &keys::workspace(&new.workspace_id),
                "ADD active_api_keys :one",
                Some("attribute_exists(PK) AND active_api_keys < :max"),
                HashMap::from([(":one".into(), n(1)), (":max".into(), n(max_active))]),
            )?,
            // The creator still holds the role whose grants the key carries.
            self.tx_check(
                &keys::user(&new.creator_workspace_id, &new.key.created_by_user_id),
                "#role = :role",
                HashMap::from([(":role".into(), s(new.creator_role.as_str()))]),
            )?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(e) if e.failed_at(2) => Err(StoreError::LimitReached),
            Err(e) if e.failed_at(3) => Err(StoreError::Conflict(ErrorCode::AccountInactive)),
            Err(e) => Err(e.into_store()),
        }
    }

    /// Revokes keys whose expiry has passed, so they stop counting as active. Returns how many.
    async fn retire_expired(&self, workspace_id: &str, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut retired = 0;
        let mut after = None;
        loop {
            let page = self.list_keys(workspace_id, PageRequest { limit: 100, after }).await?;
            for key in page.items {
                if key.revoked_at.is_none() && key.expires_at.is_some_and(|at| at <= now) {
                    self.revoke_key(workspace_id, &key.id, Some("expired".into()), now)
                        .await?;
                    retired += 1;
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(retired),
            }
        }
    }
}

/// Copies the last use recorded on a key's lookup item onto the key.
fn merge_last_use(key: &mut ApiKey, lookup: &Item) {
    key.last_used_at = get_s(lookup, "last_used_at").and_then(|t| t.parse().ok());
    key.last_used_ip = get_s(lookup, "last_used_ip").map(str::to_owned);
}

fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Read => "read",
        Scope::Write => "write",
        Scope::Admin => "admin",
    }
}

#[async_trait]
impl ApiKeyStore for DynamoStore {
    #[tracing::instrument(skip_all, fields(workspace_id))]
    async fn list_keys(&self, workspace_id: &str, page: PageRequest) -> Result<Page<ApiKey>, StoreError> {
        let PageRequest { limit, after } = page;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(workspace_id))
            .expression_attribute_values(":prefix", s(keys::API_KEY_PREFIX))
            .scan_index_forward(false)
            .limit(limit as i32 + 1)
            .set_exclusive_start_key(super::start_key(after))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        let mut rows: Vec<KeyRow> = from_items(out.items)?;
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = has_more.then(|| {
            let last = rows.last().expect("a full page has a last row");
            PageKey::from([
                (keys::PK.to_owned(), workspace_id.to_owned()),
                (keys::SK.to_owned(), keys::api_key(workspace_id, &last.key.id).sk),
            ])
        });
        let active: Vec<&str> = rows
            .iter()
            .filter(|r| r.key.revoked_at.is_none())
            .map(|r| r.secret_hash.as_str())
            .collect();
        let mut used = self.last_used(&active).await?;
        let items = rows
            .into_iter()
            .map(|row| {
                let mut key = row.key;
                if let Some(lookup) = used.remove(&row.secret_hash) {
                    merge_last_use(&mut key, &lookup);
                }
                key
            })
            .collect();
        Ok(Page { items, next })
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %new.workspace_id))]
    async fn create_key(&self, new: &NewApiKey, max_active: u32) -> Result<(), StoreError> {
        match self.insert_key(new, max_active).await {
            Err(StoreError::LimitReached) if self.retire_expired(&new.workspace_id, new.key.created_at).await? > 0 => {
                self.insert_key(new, max_active).await
            }
            other => other,
        }
    }

    #[tracing::instrument(skip_all, fields(workspace_id))]
    async fn revoke_key(
        &self,
        workspace_id: &str,
        key_id: &str,
        reason: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<ApiKey, StoreError> {
        let Some(row) = self.key_row(workspace_id, key_id).await? else {
            return Err(StoreError::NotFound(ErrorCode::ApiKeyNotFound));
        };
        if row.key.revoked_at.is_some() {
            return Ok(row.key);
        }
        // Keep the last use on the row: the lookup is not read once the key is revoked.
        let mut key = row.key;
        if let Some(lookup) = self.last_used(&[&row.secret_hash]).await?.remove(&row.secret_hash) {
            merge_last_use(&mut key, &lookup);
        }
        key.revoked_at = Some(switchboard_core::clock::api_time(at));
        key.revoked_reason = reason;
        key.status = ApiKeyStatus::Revoked;
        let mut set = vec!["revoked_at = :at", "#status = :revoked"];
        let mut values = HashMap::from([(":at".to_owned(), iso(at)), (":revoked".to_owned(), s("revoked"))]);
        if let Some(reason) = &key.revoked_reason {
            set.push("revoked_reason = :reason");
            values.insert(":reason".into(), s(reason));
        }
        if let Some(used) = key.last_used_at {
            set.push("last_used_at = :used");
            values.insert(":used".into(), iso(used));
        }
        if let Some(ip) = &key.last_used_ip {
            set.push("last_used_ip = :ip");
            values.insert(":ip".into(), s(ip));
        }
        let items = vec![
            self.tx_update(
                &keys::api_key(workspace_id, key_id),
                &format!("SET {}", set.join(", ")),
                Some("attribute_exists(PK) AND attribute_not_exists(revoked_at)"),
                values,
            )?,
            self.tx_update(
                &keys::api_key_lookup(&row.secret_hash),
                "SET revoked_at = :at, #ttl = :ttl",
                None,
                HashMap::from([
                    (":at".into(), iso(at)),
                    (":ttl".into(), n(at.timestamp() + REVOKED_LOOKUP_DAYS * 86_400)),
                ]),
            )?,
            self.tx_update(
                &keys::workspace(workspace_id),
                "ADD active_api_keys :minus",
                None,
                HashMap::from([(":minus".into(), n(-1))]),
            )?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(key),
            // Revoked concurrently (or deleted): answer with what the winner wrote.
            Err(e) if e.failed_at(0) => Ok(self
                .key_row(workspace_id, key_id)
                .await?
                .ok_or(StoreError::NotFound(ErrorCode::ApiKeyNotFound))?
                .key),
            Err(e) => Err(e.into_store()),
        }
    }

    #[tracing::instrument(skip_all, fields(workspace_id))]
    async fn delete_key(&self, workspace_id: &str, key_id: &str) -> Result<(), StoreError> {
        let Some(row) = self.key_row(workspace_id, key_id).await? else {
            return Err(StoreError::NotFound(ErrorCode::ApiKeyNotFound));
        };
        if row.key.revoked_at.is_none() {
            return Err(StoreError::Conflict(ErrorCode::KeyStillActive));
        }
        let items = vec![
            self.tx_delete(
                &keys::api_key(workspace_id, key_id),
                Some("attribute_exists(revoked_at)"),
                HashMap::new(),
            )?,
            self.tx_delete(&keys::api_key_lookup(&row.secret_hash), None, HashMap::new())?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(e) if e.failed_at(0) => Err(StoreError::NotFound(ErrorCode::ApiKeyNotFound)),
            Err(e) => Err(e.into_store()),
        }
    }
}
