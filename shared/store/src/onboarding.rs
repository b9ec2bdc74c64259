//! A workspace's onboarding: its provider mode and the credentials it brought, sealed, in one
//! partition range that a single Query reads.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::Serialize;
use switchboard_core::StoreError;
use switchboard_core::model::{CredentialState, Onboarding, ProviderMode, StoredCredential};
use switchboard_core::ports::OnboardingStore;

use crate::keys::{self, entity};
use crate::{DynamoStore, Item, from_item, get_s, item_of, s};

#[async_trait]
impl OnboardingStore for DynamoStore {
    async fn onboarding(&self, workspace_id: &str) -> Result<Onboarding, StoreError> {
        let mut onboarding = Onboarding::default();
        for item in self.query_all(workspace_id, keys::ONBOARDING_PREFIX).await? {
            match get_s(&item, keys::ENTITY) {
                Some(entity::ONBOARDING) => onboarding.settings = from_item(item)?,
                Some(entity::PROVIDER_CREDENTIAL) => onboarding.credentials.push(from_item(item)?),
                _ => {}
            }
        }
        Ok(onboarding)
    }

    async fn set_provider_mode(
        &self,
        workspace_id: &str,
        mode: ProviderMode,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let values = Item::from([
            (":entity".to_owned(), s(entity::ONBOARDING)),
            (":mode".to_owned(), attribute(&mode)?),
            (":at".to_owned(), attribute(&at)?),
        ]);
        let update = self.tx_update(
            &keys::onboarding_settings(workspace_id),
            "SET #entity = :entity, #mode = :mode, updated_at = :at",
            None,
            values,
        )?;
        self.write(update).await.map(|_| ())
    }

    async fn complete_onboarding(&self, workspace_id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let values = Item::from([
            (":entity".to_owned(), s(entity::ONBOARDING)),
            (":at".to_owned(), attribute(&at)?),
        ]);
        let update = self.tx_update(
            &keys::onboarding_settings(workspace_id),
            "SET #entity = :entity, completed_at = if_not_exists(completed_at, :at), updated_at = :at",
            None,
            values,
        )?;
        self.write(update).await.map(|_| ())
    }

    async fn put_credential(&self, workspace_id: &str, credential: &StoredCredential) -> Result<(), StoreError> {
        let key = keys::provider_credential(workspace_id, &credential.provider);
        self.put(item_of(&key, entity::PROVIDER_CREDENTIAL, credential)?).await
    }

    async fn delete_credential(&self, workspace_id: &str, provider: &str) -> Result<bool, StoreError> {
        let key = keys::provider_credential(workspace_id, provider);
        let delete = self.tx_delete(&key, Some("attribute_exists(PK)"), Item::new())?;
        self.write(delete).await
    }

    async fn mark_credential_invalid(
        &self,
        workspace_id: &str,
        provider: &str,
        updated_at: DateTime<Utc>,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let key = keys::provider_credential(workspace_id, provider);
        let values = Item::from([
            (":state".to_owned(), attribute(&CredentialState::Invalid)?),
            (":reason".to_owned(), s(reason)),
            (":at".to_owned(), attribute(&at)?),
            (":seen".to_owned(), attribute(&updated_at)?),
        ]);
        let update = self.tx_update(
            &key,
            "SET #state = :state, #reason = :reason, checked_at = :at",
            Some("updated_at = :seen"),
            values,
        )?;
        self.write(update).await
    }
}

/// A value as the item's attribute holds it (as `item_of` wrote it).
fn attribute<T: Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value).map_err(|e| StoreError::Other(e.into()))
}
