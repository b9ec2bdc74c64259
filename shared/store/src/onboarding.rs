//! A workspace's onboarding: its provider mode and the credentials it brought, sealed, in one
//! partition range that a single Query reads.

use async_trait::async_trait;
use switchboard_core::StoreError;
use switchboard_core::model::{Onboarding, OnboardingSettings, StoredCredential};
use switchboard_core::ports::OnboardingStore;

use crate::keys::{self, entity};
use crate::{DynamoStore, Item, from_item, get_s, item_of};

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

    async fn put_onboarding_settings(
        &self,
        workspace_id: &str,
        settings: &OnboardingSettings,
    ) -> Result<(), StoreError> {
        self.put(item_of(
            &keys::onboarding_settings(workspace_id),
            entity::ONBOARDING,
            settings,
        )?)
        .await
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
}
