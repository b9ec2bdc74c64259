//! Idempotency records: the first request with a key claims it for its credential, later ones
//! of that credential replay its answer (stored sealed by the HTTP layer).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use chrono::{DateTime, Utc};
use switchboard_core::StoreError;
use switchboard_core::ports::{IdempotencyStart, IdempotencyStore};

use super::keys::{self, entity};
use super::{DynamoStore, conditional, get_n, get_s, key_map, n, s, sdk_error};

/// How long a stored response is replayed.
const RETENTION_SECS: i64 = 24 * 3600;
/// After this long, a claim whose request never finished (its function died) may be retaken.
const LOCK_SECS: i64 = 60;

#[async_trait]
impl IdempotencyStore for DynamoStore {
    #[tracing::instrument(skip_all)]
    async fn begin(
        &self,
        workspace_id: Option<&str>,
        key: &str,
        owner: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<IdempotencyStart, StoreError> {
        let now_s = now.timestamp();
        let mut item = key_map(&keys::idempotency(workspace_id, key));
        item.insert(keys::ENTITY.into(), s(entity::IDEMPOTENCY));
        item.insert("owner".into(), s(owner));
        item.insert("fingerprint".into(), s(fingerprint));
        item.insert("state".into(), s("in_progress"));
        item.insert("locked_until".into(), n(now_s + LOCK_SECS));
        item.insert("expires_epoch".into(), n(now_s + RETENTION_SECS));
        item.insert(keys::TTL.into(), n(now_s + RETENTION_SECS));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(PK) OR expires_epoch < :now \
                 OR (#state = :in_progress AND locked_until < :now AND fingerprint = :fp AND #owner = :owner)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#owner", "owner")
            .set_expression_attribute_values(Some(HashMap::from([
                (":now".to_owned(), n(now_s)),
                (":in_progress".to_owned(), s("in_progress")),
                (":fp".to_owned(), s(fingerprint)),
                (":owner".to_owned(), s(owner)),
            ])))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let old = match conditional(result)? {
            Ok(_) => return Ok(IdempotencyStart::Started),
            Err(old) => old.unwrap_or_default(),
        };
        if get_s(&old, "owner") != Some(owner) {
            return Ok(IdempotencyStart::InUse);
        }
        if get_s(&old, "fingerprint") != Some(fingerprint) {
            return Ok(IdempotencyStart::Mismatch);
        }
        if get_s(&old, "state") == Some("done") {
            let sealed = get_s(&old, "response")
                .ok_or_else(|| StoreError::Other(anyhow::anyhow!("idempotency record without response")))?;
            return Ok(IdempotencyStart::Replay(sealed.to_owned()));
        }
        debug_assert!(get_n(&old, "locked_until").is_some());
        Ok(IdempotencyStart::InProgress)
    }

    async fn complete(
        &self,
        workspace_id: Option<&str>,
        key: &str,
        sealed_response: &str,
        _now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(&keys::idempotency(workspace_id, key))))
            .update_expression("SET #state = :done, #response = :response")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#response", "response")
            .expression_attribute_values(":done", s("done"))
            .expression_attribute_values(":response", s(sealed_response))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn abandon(&self, workspace_id: Option<&str>, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_map(&keys::idempotency(workspace_id, key))))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}
