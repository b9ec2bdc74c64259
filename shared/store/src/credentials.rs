//! Authentication, rate limiting and last-used tracking of a credential in one UpdateItem.
//!
//! Each credential item keeps, per rate class, a ring of the times (ms) of its last `limit`
//! allowed requests, oldest first. A request is allowed when the oldest is more than 60 s old:
//! then at most `limit` requests were allowed in any rolling 60 s window. One UpdateItem
//! checks the credential (exists, not revoked, not expired) and the ring in its condition,
//! appends `now`, drops the oldest (`SET ring[9999] = :now REMOVE ring[0]`) and sets
//! `last_used_*`. When the condition fails, DynamoDB returns the old item, which tells why;
//! a refused request is not counted.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, TimeZone, Utc};

use super::keys::{self, Key};
use super::{DynamoStore, Item, get_n, get_s, key_map, n, s, sdk_error};
use switchboard_core::StoreError;
use switchboard_core::model::{Grants, Plan, RateClass, Role, Scope};
use switchboard_core::ports::{CredentialCheck, CredentialKind, CredentialRecord, CredentialStore, RateWindow, Usage};

const WINDOW_MS: i64 = 60_000;

/// Set on every credential of a suspended workspace.
pub(crate) const SUSPENDED: &str = "suspended";
/// What the person behind a credential may do, as JSON (their role's grants).
pub(crate) const GRANTS: &str = "grants";

pub(crate) fn grants_value(grants: &Grants) -> AttributeValue {
    s(serde_json::to_string(grants).unwrap_or_default())
}

fn grants_of(item: &Item) -> Option<Grants> {
    serde_json::from_str(get_s(item, GRANTS)?).ok()
}

/// The attribute holding a class's ring.
fn ring_attribute(class: RateClass) -> &'static str {
    match class {
        RateClass::Read => "rl_read",
        RateClass::Write => "rl_write",
        RateClass::CampaignStart => "rl_start",
    }
}

/// Empty rings sized for `plan`, for a new credential item.
pub(crate) fn new_rings(plan: Plan) -> Item {
    RateClass::ALL
        .iter()
        .map(|&class| (ring_attribute(class).to_owned(), zero_ring(plan.rate_limit(class))))
        .collect()
}

fn zero_ring(len: u32) -> AttributeValue {
    AttributeValue::L(vec![n(0); len as usize])
}

fn ring(item: &Item, class: RateClass) -> Vec<i64> {
    item.get(ring_attribute(class))
        .and_then(|v| v.as_l().ok())
        .map(|l| l.iter().filter_map(|v| v.as_n().ok()?.parse().ok()).collect())
        .unwrap_or_default()
}

/// The window after an allowed request, from the ring as it now is.
fn window_after(ring: &[i64], now_ms: i64) -> RateWindow {
    let in_window: Vec<i64> = ring.iter().copied().filter(|&t| t > now_ms - WINDOW_MS).collect();
    let limit = ring.len() as u32;
    let oldest = in_window.iter().min().copied().unwrap_or(now_ms);
    RateWindow {
        limit,
        remaining: limit.saturating_sub(in_window.len() as u32),
        reset: ceil_secs(oldest + WINDOW_MS),
    }
}

/// The answer to a refused request: seconds until the oldest allowed request leaves the window.
fn limited(ring: &[i64], now_ms: i64) -> (RateWindow, u64) {
    let oldest = ring.first().copied().unwrap_or(now_ms);
    let free_at = oldest + WINDOW_MS;
    let rate = RateWindow {
        limit: ring.len() as u32,
        remaining: 0,
        reset: ceil_secs(free_at),
    };
    (rate, ceil_secs((free_at - now_ms).max(1)) as u64)
}

/// Milliseconds to whole seconds, rounding up.
fn ceil_secs(ms: i64) -> i64 {
    (ms + 999).div_euclid(1000)
}

fn epoch(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}

fn time_of(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    get_n(item, name).and_then(|s| Utc.timestamp_opt(s, 0).single())
}

/// The one UpdateItem, shared by keys and sessions.
async fn use_credential(
    store: &DynamoStore,
    key: &Key,
    usage: &Usage,
    revocable: bool,
) -> Result<Result<Item, Option<Item>>, StoreError> {
    let ring = ring_attribute(usage.class);
    let now_ms = usage.now.timestamp_millis();
    let mut update = String::from("SET #ring[9999] = :now_ms, last_used_at = :now_iso");
    let mut values = HashMap::from([
        (":now_ms".to_owned(), n(now_ms)),
        (":now_s".to_owned(), n(epoch(usage.now))),
        (":cutoff".to_owned(), n(now_ms - WINDOW_MS)),
        (
            ":now_iso".to_owned(),
            s(switchboard_core::clock::api_time(usage.now).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        ),
    ]);
    if let Some(ip) = &usage.client_ip {
        update.push_str(", last_used_ip = :ip");
        values.insert(":ip".to_owned(), s(ip));
    }
    update.push_str(" REMOVE #ring[0]");
    let mut condition =
        String::from("attribute_exists(PK) AND (attribute_not_exists(expires_epoch) OR expires_epoch > :now_s)");
    if revocable {
        condition.push_str(" AND attribute_not_exists(revoked_at)");
    }
    condition.push_str(" AND attribute_not_exists(suspended)");
    condition.push_str(" AND #ring[0] <= :cutoff");

    let result = store
        .client
        .update_item()
        .table_name(&store.table)
        .set_key(Some(key_map(key)))
        .update_expression(update)
        .condition_expression(condition)
        .expression_attribute_names("#ring", ring)
        .set_expression_attribute_values(Some(values))
        .return_values(ReturnValue::AllNew)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await;
    match result {
        Ok(out) => Ok(Ok(out.attributes.unwrap_or_default())),
        Err(err) => match err.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(e)) => Ok(Err(e.item().cloned())),
            _ => Err(sdk_error(err)),
        },
    }
}

/// Why the condition failed, from the old item.
fn refusal(old: Option<Item>, usage: &Usage) -> CredentialCheck {
    let Some(old) = old else {
        return CredentialCheck::Unknown;
    };
    if old.contains_key("revoked_at") {
        return CredentialCheck::Revoked;
    }
    if old.contains_key(SUSPENDED) {
        return CredentialCheck::Suspended;
    }
    if get_n(&old, "expires_epoch").is_some_and(|e| e <= epoch(usage.now)) {
        return CredentialCheck::Expired;
    }
    let ring = ring(&old, usage.class);
    if ring.is_empty() {
        // A credential without this class's ring is corrupt; refuse it rather than guess.
        return CredentialCheck::Unknown;
    }
    let (rate, retry_after) = limited(&ring, usage.now.timestamp_millis());
    CredentialCheck::Limited { rate, retry_after }
}

fn plan_of(item: &Item) -> Result<Plan, StoreError> {
    get_s(item, "plan")
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("credential item without a valid plan")))
}

fn required<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    get_s(item, name).ok_or_else(|| StoreError::Other(anyhow::anyhow!("credential item without {name}")))
}

fn parse<T: serde::de::DeserializeOwned>(item: &Item, name: &str) -> Result<T, StoreError> {
    let raw = required(item, name)?;
    serde_json::from_value(serde_json::Value::String(raw.to_owned()))
        .map_err(|e| StoreError::Other(anyhow::anyhow!("credential item with bad {name}: {e}")))
}

#[async_trait]
impl CredentialStore for DynamoStore {
    #[tracing::instrument(skip_all, fields(class = ?usage.class))]
    async fn use_api_key(&self, key_hash: &str, usage: &Usage) -> Result<CredentialCheck, StoreError> {
        let item = match use_credential(self, &keys::api_key_lookup(key_hash), usage, true).await? {
            Ok(item) => item,
            Err(old) => return Ok(refusal(old, usage)),
        };
        let credential = CredentialRecord {
            workspace_id: required(&item, "workspace_id")?.to_owned(),
            plan: plan_of(&item)?,
            kind: CredentialKind::ApiKey {
                key_id: required(&item, "key_id")?.to_owned(),
                scope: parse(&item, "scope")?,
            },
            // Keys made before roles could differ were made by owners.
            grants: grants_of(&item).unwrap_or_else(|| Grants::all(Scope::Admin)),
        };
        let rate = window_after(&ring(&item, usage.class), usage.now.timestamp_millis());
        Ok(CredentialCheck::Allowed { credential, rate })
    }

    #[tracing::instrument(skip_all, fields(class = ?usage.class))]
    async fn use_session(
        &self,
        workspace_id: &str,
        session_id: &str,
        usage: &Usage,
    ) -> Result<CredentialCheck, StoreError> {
        let item = match use_credential(self, &keys::session(workspace_id, session_id), usage, false).await? {
            Ok(item) => item,
            Err(old) => return Ok(refusal(old, usage)),
        };
        let role: Role = parse(&item, "role")?;
        let grants = grants_of(&item).or_else(|| role.built_in_grants()).unwrap_or_default();
        let credential = CredentialRecord {
            workspace_id: workspace_id.to_owned(),
            plan: plan_of(&item)?,
            grants,
            kind: CredentialKind::Session {
                session_id: session_id.to_owned(),
                user_id: required(&item, "user_id")?.to_owned(),
                role,
                email: required(&item, "email")?.to_owned(),
                expires_at: time_of(&item, "expires_epoch")
                    .ok_or_else(|| StoreError::Other(anyhow::anyhow!("session without expiry")))?,
            },
        };
        let rate = window_after(&ring(&item, usage.class), usage.now.timestamp_millis());
        Ok(CredentialCheck::Allowed { credential, rate })
    }

    #[tracing::instrument(skip_all)]
    async fn use_client_ip(
        &self,
        ip: &str,
        usage: &Usage,
        limit: u32,
    ) -> Result<Result<RateWindow, (RateWindow, u64)>, StoreError> {
        let key = keys::client_ip(ip);
        let now_ms = usage.now.timestamp_millis();
        let usage = Usage {
            client_ip: None,
            ..usage.clone()
        };
        // Two attempts: the first request of a client creates its item, then counts as usual.
        for _ in 0..2 {
            match use_credential(self, &key, &usage, false).await? {
                Ok(item) => return Ok(Ok(window_after(&ring(&item, usage.class), now_ms))),
                Err(Some(old)) => {
                    let ring = ring(&old, usage.class);
                    if ring.is_empty() {
                        return Err(StoreError::Other(anyhow::anyhow!(
                            "client rate item for {ip} has no ring"
                        )));
                    }
                    return Ok(Err(limited(&ring, now_ms)));
                }
                Err(None) => {
                    let mut item = key_map(&key);
                    item.insert(keys::ENTITY.to_owned(), s(keys::entity::CLIENT_IP));
                    // Public routes read (verify-email) or write (signup, login); nothing else.
                    for class in [RateClass::Read, RateClass::Write] {
                        item.insert(ring_attribute(class).to_owned(), zero_ring(limit));
                    }
                    // Anonymous rate state is short-lived: a day after the first request.
                    item.insert(keys::TTL.to_owned(), n(epoch(usage.now) + 86_400));
                    // When another request created it first, this one counts against theirs.
                    self.put_new(item).await?;
                }
            }
        }
        Err(StoreError::Other(anyhow::anyhow!(
            "client rate item for {ip} could not be created"
        )))
    }
}

/// The attributes every credential item carries, for the stores that create them.
pub(crate) fn credential_attributes(workspace_id: &str, plan: Plan, expires_at: Option<DateTime<Utc>>) -> Item {
    let mut item = new_rings(plan);
    item.insert("workspace_id".to_owned(), s(workspace_id));
    item.insert(
        "plan".to_owned(),
        s(serde_json::to_value(plan)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()),
    );
    if let Some(at) = expires_at {
        item.insert("expires_epoch".to_owned(), n(epoch(at)));
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_counts_only_the_last_minute() {
        let now = 1_000_000;
        let ring = [0, 0, now - 61_000, now - 30_000, now];
        let w = window_after(&ring, now);
        assert_eq!(w.limit, 5);
        assert_eq!(w.remaining, 3);
        assert_eq!(w.reset, (now - 30_000 + 60_000) / 1000);
    }

    #[test]
    fn refusal_says_when_the_oldest_request_leaves_the_window() {
        let now = 1_000_000;
        let (rate, retry_after) = limited(&[now - 59_500, now - 10, now], now);
        assert_eq!(retry_after, 1);
        assert_eq!(rate.remaining, 0);
    }
}
