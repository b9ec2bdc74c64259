//! The audit entry of a request rides in the first write the request makes (see
//! [`switchboard_domain::audit`]): added to its transaction, or turning a single-item write into
//! a transaction of two, so that the entry exists exactly when the change does.

use aws_sdk_dynamodb::types::TransactWriteItem;
use futures::future::BoxFuture;
use switchboard_core::StoreError;
use switchboard_domain::audit::{self, Pending};

use super::resources::resource_item;
use super::{DynamoStore, Item, NEW_ITEM, conditional, get_s};

/// Items DynamoDB takes in one transaction.
const MAX_TRANSACTION_ITEMS: usize = 100;

impl DynamoStore {
    /// The waiting entry, and its Put to add to a transaction of `items`. A creation's entry
    /// learns the new resource's id here, from the item of its type the transaction writes.
    pub(crate) fn take_audit(
        &self,
        items: &[TransactWriteItem],
    ) -> Result<Option<(Pending, TransactWriteItem)>, StoreError> {
        if items.len() >= MAX_TRANSACTION_ITEMS {
            return Ok(None);
        }
        let Some(mut pending) = audit::take() else {
            return Ok(None);
        };
        let resource = &mut pending.entry.resource;
        if resource.id.is_none() {
            resource.id = items
                .iter()
                .filter_map(|item| item.put.as_ref())
                .find_map(|put| audit::created_id(&resource.kind, |name| get_s(&put.item, name)))
                .map(str::to_owned);
        }
        let put = resource_item(&pending.workspace_id, &pending.entry, 1)
            .and_then(|item| self.tx_put(item, NEW_ITEM, Item::new()));
        match put {
            Ok(put) => Ok(Some((pending, put))),
            Err(e) => {
                audit::put_back(pending);
                Err(e)
            }
        }
    }

    /// The waiting entry as an item of a bulk write (which names no resource it creates).
    pub(crate) fn take_audit_item(&self) -> Result<Option<Item>, StoreError> {
        let Some(pending) = audit::take() else {
            return Ok(None);
        };
        resource_item(&pending.workspace_id, &pending.entry, 1).map(Some)
    }

    /// Runs one write (built as a transaction item): on its own, or with the request's waiting
    /// audit entry in a transaction. `false` when its condition failed.
    pub(crate) fn write(&self, write: TransactWriteItem) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move {
            if audit::is_pending() {
                return match self.transact(vec![write]).await {
                    Ok(()) => Ok(true),
                    Err(e) if e.failed_at(0) => Ok(false),
                    Err(e) => Err(e.into_store()),
                };
            }
            let (client, table) = (&self.client, &self.table);
            let TransactWriteItem {
                put, update, delete, ..
            } = write;
            let outcome = if let Some(put) = put {
                conditional(
                    client
                        .put_item()
                        .table_name(table)
                        .set_item(Some(put.item))
                        .set_condition_expression(put.condition_expression)
                        .set_expression_attribute_names(put.expression_attribute_names)
                        .set_expression_attribute_values(put.expression_attribute_values)
                        .send()
                        .await,
                )?
                .is_ok()
            } else if let Some(update) = update {
                conditional(
                    client
                        .update_item()
                        .table_name(table)
                        .set_key(Some(update.key))
                        .update_expression(update.update_expression)
                        .set_condition_expression(update.condition_expression)
                        .set_expression_attribute_names(update.expression_attribute_names)
                        .set_expression_attribute_values(update.expression_attribute_values)
                        .send()
                        .await,
                )?
                .is_ok()
            } else if let Some(delete) = delete {
                conditional(
                    client
                        .delete_item()
                        .table_name(table)
                        .set_key(Some(delete.key))
                        .set_condition_expression(delete.condition_expression)
                        .set_expression_attribute_names(delete.expression_attribute_names)
                        .set_expression_attribute_values(delete.expression_attribute_values)
                        .send()
                        .await,
                )?
                .is_ok()
            } else {
                return Err(StoreError::Other(anyhow::anyhow!(
                    "a write that neither puts, updates nor deletes"
                )));
            };
            Ok(outcome)
        })
    }
}
