//! What erasing a person writes besides their resources: their number out of the phone lists'
//! entries, their targets, the events and audit entries that mention them (ACCESS_PATTERNS.md
//! #64–67).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use switchboard_core::StoreError;
use switchboard_core::model::{AuditEntry, DncList, Event};
use switchboard_core::ports::ErasureStore;

use super::keys;
use super::resources::resource_item;
use super::{DynamoStore, Item, s, sdk_error};

#[async_trait]
impl ErasureStore for DynamoStore {
    fn pseudonym(&self, workspace_id: &str, value: &str) -> Result<String, StoreError> {
        DynamoStore::pseudonym(self, workspace_id, value)
    }

    async fn erase_list_entries(&self, workspace_id: &str, phone_e164: &str) -> Result<u32, StoreError> {
        let pseudonym = DynamoStore::pseudonym(self, workspace_id, phone_e164)?;
        let mut erased = 0;
        for list in [DncList::Dnc, DncList::Registry] {
            let key = keys::dnc(workspace_id, list, &pseudonym);
            let update = self.tx_update(
                &key,
                "REMOVE #phone_e164, #reason SET #erased = :erased",
                Some("attribute_exists(PK)"),
                Item::from([(":erased".to_owned(), AttributeValue::Bool(true))]),
            )?;
            erased += u32::from(self.write(update).await?);
        }
        Ok(erased)
    }

    async fn remove_target(&self, workspace_id: &str, campaign_id: &str, phone_e164: &str) -> Result<(), StoreError> {
        let key = keys::target(workspace_id, campaign_id, phone_e164);
        self.write(self.tx_delete(&key, None, Item::new())?).await.map(|_| ())
    }

    async fn erase_events(&self, workspace_id: &str, needles: &[String]) -> Result<u32, StoreError> {
        let partition = keys::event(workspace_id, "").pk;
        let mut erased = 0;
        // Page by page: a month of a workspace's events need not fit in memory.
        let mut items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(&partition))
            .into_paginator()
            .items()
            .send();
        while let Some(item) = items.next().await {
            let item = item.map_err(sdk_error)?;
            let Some(data) = item.get("data") else { continue };
            let data: serde_json::Value = serde_dynamo::from_attribute_value(data.clone())
                .map_err(|e| StoreError::Other(anyhow::anyhow!("decode an event's data: {e}")))?;
            if data.get("erased").is_some() {
                continue;
            }
            let text = data.to_string();
            if !needles.iter().any(|needle| text.contains(needle.as_str())) {
                continue;
            }
            let mut kept = serde_json::Map::new();
            for field in ["object", "id"] {
                if let Some(value) = data.get(field) {
                    kept.insert(field.to_owned(), value.clone());
                }
            }
            kept.insert("erased".to_owned(), serde_json::Value::Bool(true));
            let kept: AttributeValue = serde_dynamo::to_attribute_value(serde_json::Value::Object(kept))
                .map_err(|e| StoreError::Other(anyhow::anyhow!("encode an event's data: {e}")))?;
            let Some(sk) = item.get(keys::SK).and_then(|v| v.as_s().ok()) else {
                continue;
            };
            let key = keys::event(workspace_id, sk);
            let update = self.tx_update(
                &key,
                "SET #data = :data",
                Some("attribute_exists(PK)"),
                Item::from([(":data".to_owned(), kept)]),
            )?;
            erased += u32::from(self.write(update).await?);
        }
        Ok(erased)
    }

    async fn rewrite_audit_entry(&self, workspace_id: &str, entry: &AuditEntry) -> Result<(), StoreError> {
        let item = resource_item(workspace_id, entry, 1)?;
        self.write(self.tx_put(item, Some("attribute_exists(PK)"), Item::new())?)
            .await
            .map(|_| ())
    }

    async fn record_event(&self, workspace_id: &str, event: &Event) -> Result<(), StoreError> {
        self.write(self.event_put(workspace_id, event)?).await.map(|_| ())
    }
}
