//! Global lookups and the do-not-call list.

use async_trait::async_trait;

use super::keys::{self, entity};
use super::{DynamoStore, from_item, get_s, item_of, sdk_error};
use crate::model::DncEntry;
use crate::ports::{Directory, DncStore, StoreError};

#[async_trait]
impl Directory for DynamoStore {
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
impl DncStore for DynamoStore {
    async fn add_dnc(&self, workspace_id: &str, entry: &DncEntry) -> Result<(), StoreError> {
        let item = item_of(&keys::dnc(workspace_id, &entry.phone_e164), entity::DNC, entry)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn dnc_entry(&self, workspace_id: &str, phone_e164: &str) -> Result<Option<DncEntry>, StoreError> {
        self.get_item(&keys::dnc(workspace_id, phone_e164))
            .await?
            .map(from_item)
            .transpose()
    }
}
