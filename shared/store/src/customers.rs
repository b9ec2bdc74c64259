//! Customers of agency workspaces. A customer is written in one transaction: its row in the
//! agency's `CUSTOMER` collection, the global guard `CUSTOMER#<id>` that leads from its id to
//! its agency (authentication reads it when a request names the customer), the agency's
//! customer counter, and the customer's own workspace with its wallet.

use async_trait::async_trait;
use switchboard_core::StoreError;
use switchboard_core::ids;
use switchboard_core::model::{Customer, Plan, Workspace, WorkspaceObject, WorkspaceStatus, customer_workspace_id};
use switchboard_core::ports::{Customers, Quota, Versioned};

use super::billing::Opening;
use super::keys::{self, entity};
use super::{DynamoStore, Item, NEW_ITEM, get_s, is_at, item_of, n};

impl DynamoStore {
    /// The Puts of a new workspace item and its empty wallet.
    fn new_workspace_writes(
        &self,
        workspace: &Workspace,
        owner_verified: bool,
        allowed_countries: Vec<String>,
    ) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>, StoreError> {
        let mut item = item_of(&keys::workspace(&workspace.id), entity::WORKSPACE, workspace)?;
        item.insert("agent_count".into(), n(0));
        item.insert("active_api_keys".into(), n(0));
        let mut writes = vec![self.tx_put(item, NEW_ITEM, Item::new())?];
        let credit = if switchboard_core::model::is_test_workspace(&workspace.id) {
            switchboard_core::model::TEST_CREDIT_MINOR
        } else {
            0
        };
        let entry_id = ids::new_id_at(ids::prefix::LEDGER_ENTRY, workspace.created_at);
        let opening = Opening {
            credit_minor: credit,
            entry_id: &entry_id,
            owner_verified,
            allowed_countries,
        };
        writes.extend(self.new_wallet_writes(workspace, opening)?);
        Ok(writes)
    }
}

#[async_trait]
impl Customers for DynamoStore {
    #[tracing::instrument(skip_all, fields(workspace_id = agency_workspace_id))]
    async fn create_customer(
        &self,
        agency_workspace_id: &str,
        customer: &Customer,
        plan: Plan,
        quota: Quota,
    ) -> Result<Versioned<Customer>, StoreError> {
        let mut writes = self.insert_writes(agency_workspace_id, customer, Some(quota), &[])?;
        // The agency's owner having verified their email, its region and the countries its
        // calls may go to carry over.
        let agency = self
            .get_many(&[keys::workspace(agency_workspace_id), keys::wallet(agency_workspace_id)])
            .await?;
        let agency_country = agency
            .iter()
            .find(|item| is_at(item, &keys::workspace(agency_workspace_id)))
            .and_then(|item| get_s(item, "country"))
            .map(str::to_owned);
        let wallet = agency
            .iter()
            .find(|item| is_at(item, &keys::wallet(agency_workspace_id)));
        let owner_verified = wallet
            .and_then(|wallet| wallet.get("owner_verified")?.as_bool().ok().copied())
            .unwrap_or(false);
        let mut allowed_countries: Vec<String> = wallet
            .and_then(|wallet| wallet.get("allowed_countries")?.as_l().ok())
            .into_iter()
            .flatten()
            .filter_map(|country| country.as_s().ok().cloned())
            .collect();
        let workspace = Workspace {
            // A test-mode agency's customers are test-mode workspaces.
            id: customer_workspace_id(&customer.id, agency_workspace_id),
            object: WorkspaceObject,
            name: customer.name.clone(),
            plan,
            country: customer.country.clone().or(agency_country),
            status: WorkspaceStatus::Active,
            parent_workspace_id: Some(agency_workspace_id.to_owned()),
            created_at: customer.created_at,
            updated_at: customer.created_at,
        };
        allowed_countries.extend(workspace.country.clone());
        allowed_countries.sort();
        allowed_countries.dedup();
        writes
            .items
            .extend(self.new_workspace_writes(&workspace, owner_verified, allowed_countries)?);
        self.transact(writes.items.clone()).await.map_err(|e| writes.error(e))?;
        Ok(Versioned {
            value: customer.clone(),
            version: 1,
        })
    }
}
