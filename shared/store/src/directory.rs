//! Global lookups (what workspace a number or a provider's call belongs to), the schedule
//! triggers due, and relay sessions.

use async_trait::async_trait;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use switchboard_core::StoreError;
use switchboard_core::ports::{Directory, DueSchedules, RelaySessions};

use super::keys::{self, entity};
use super::layout::{NUMBER, PROVIDER_CALL, SCHEDULE, TRIGGER, provider_call_value, schedule_minute};
use super::{DynamoStore, Item, get_s, key_map, n, s};

impl DynamoStore {
    /// The workspace and owner id a global guard leads to.
    async fn owner_of(&self, kind: &str, value: &str) -> Result<Option<(String, String)>, StoreError> {
        let Some(guard) = self.get_item(&keys::global_unique(kind, value)).await? else {
            return Ok(None);
        };
        match (get_s(&guard, "workspace_id"), get_s(&guard, "owner_id")) {
            (Some(ws), Some(owner)) => Ok(Some((ws.to_owned(), owner.to_owned()))),
            _ => Err(StoreError::Other(anyhow::anyhow!(
                "global guard {kind}#{value} without owner"
            ))),
        }
    }
}

#[async_trait]
impl Directory for DynamoStore {
    async fn number_owner(&self, phone_e164: &str) -> Result<Option<(String, String)>, StoreError> {
        self.owner_of(NUMBER, phone_e164).await
    }

    async fn provider_call(
        &self,
        provider: &str,
        provider_call_id: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        self.owner_of(PROVIDER_CALL, &provider_call_value(provider, provider_call_id))
            .await
    }

    async fn trigger_owner(&self, trigger_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .owner_of(TRIGGER, trigger_id)
            .await?
            .map(|(workspace, _)| workspace))
    }
}

#[async_trait]
impl DueSchedules for DynamoStore {
    async fn due_in(&self, minute: DateTime<Utc>) -> Result<Vec<(String, String)>, StoreError> {
        let partition = keys::listed_partition(SCHEDULE, &schedule_minute(minute));
        let items = self.query_all(&partition, "").await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                Some((
                    get_s(item, "workspace_id")?.to_owned(),
                    get_s(item, "owner_id")?.to_owned(),
                ))
            })
            .collect())
    }

    async fn read_through(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let Some(item) = self.get_item(&keys::scheduler_cursor()).await? else {
            return Ok(None);
        };
        get_s(&item, "through")
            .map(|at| DateTime::parse_from_rfc3339(at).map(|at| at.with_timezone(&Utc)))
            .transpose()
            .map_err(|e| StoreError::Other(e.into()))
    }

    async fn set_read_through(&self, minute: DateTime<Utc>) -> Result<(), StoreError> {
        let at = minute.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let update = self.tx_update(
            &keys::scheduler_cursor(),
            "SET through = :at",
            Some("attribute_not_exists(through) OR through < :at"),
            Item::from([(":at".to_owned(), AttributeValue::S(at))]),
        )?;
        // A later tick that got there first has already moved it on.
        self.write(update).await.map(|_| ())
    }
}

#[async_trait]
impl RelaySessions for DynamoStore {
    async fn bind(
        &self,
        connection_id: &str,
        workspace_id: &str,
        call_id: &str,
        until: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        let item = |key: &keys::Key| -> Item {
            let mut item = key_map(key);
            item.insert(keys::ENTITY.into(), s(entity::RELAY));
            item.insert("connection_id".into(), s(connection_id));
            item.insert("workspace_id".into(), s(workspace_id));
            item.insert("call_id".into(), s(call_id));
            item.insert(keys::TTL.into(), n(until.timestamp()));
            item
        };
        let items = vec![
            self.tx_put(item(&keys::relay_connection(connection_id)), None, Item::new())?,
            self.tx_put(item(&keys::call_relay(workspace_id, call_id)), None, Item::new())?,
        ];
        self.transact(items).await.map_err(|e| e.into_store())
    }

    async fn call_of(&self, connection_id: &str) -> Result<Option<(String, String)>, StoreError> {
        Ok(self
            .get_item(&keys::relay_connection(connection_id))
            .await?
            .and_then(|item| {
                Some((
                    get_s(&item, "workspace_id")?.to_owned(),
                    get_s(&item, "call_id")?.to_owned(),
                ))
            }))
    }

    async fn connection_of(&self, workspace_id: &str, call_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .get_item(&keys::call_relay(workspace_id, call_id))
            .await?
            .and_then(|item| get_s(&item, "connection_id").map(str::to_owned)))
    }
}
