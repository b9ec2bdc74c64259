//! Authentication, rate limiting and last-used tracking of a credential, in one UpdateItem
//! while the credential is busy.
//!
//! Rate limits are token buckets kept as one number each (GCRA): `z`, the time (ms) at which
//! the bucket would be empty. A bucket of `limit` tokens refilling one every `T = 60 s / limit`
//! allows a request at `now` when `z <= now - T`, and the request moves `z` by `T`; a bucket
//! left alone is full from `now - limit·T` on, so `z` is read as at least that.
//!
//! Each credential has its own bucket per rate class, and the workspace one shared by all its
//! credentials (three times a credential's limit: more keys or sessions cannot multiply it).
//! A credential spends workspace tokens it took beforehand, its *lease*: one UpdateItem on the
//! credential item checks the credential (exists, not revoked, expired or suspended), its
//! bucket and its lease, spends one of each and sets `last_used_*`. When that condition fails,
//! DynamoDB returns the old item, which tells why: a refusal, a bucket to refill after a
//! pause, or a lease to renew — then tokens are taken from the workspace's bucket (one
//! UpdateItem on `<ws>/RATE`) and the credential is updated against the values it was read
//! with. A lease lasts a minute and is sized by the credential's recent use (twice its last
//! grant when that ran out), so a busy credential renews it rarely and an idle one holds
//! little. A credential used under its limit finds its bucket full at each request, which the
//! arithmetic spend cannot express: the instance remembers the item each request left and
//! writes against it at once, so that too is one UpdateItem. A refused request counts nowhere.
//! Items stay far below 1 KB: one write unit per request.

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

/// Set on every credential of a suspended workspace.
pub(crate) const SUSPENDED: &str = "suspended";
/// What the person behind a credential may do, as JSON (their role's grants).
pub(crate) const GRANTS: &str = "grants";

const WINDOW_MS: i64 = 60_000;
/// How long tokens taken from the workspace's bucket stay usable by the credential that took them.
const LEASE_MS: i64 = 60_000;
/// A request tries again at most this often when concurrent ones change its item meanwhile.
const MAX_ATTEMPTS: usize = 64;

pub(crate) fn grants_value(grants: &Grants) -> AttributeValue {
    s(serde_json::to_string(grants).unwrap_or_default())
}

fn grants_of(item: &Item) -> Option<Grants> {
    serde_json::from_str(get_s(item, GRANTS)?).ok()
}

fn class_suffix(class: RateClass) -> &'static str {
    match class {
        RateClass::Read => "r",
        RateClass::Write => "w",
        RateClass::CampaignStart => "s",
    }
}

/// The most tokens a bucket refills in a minute: one a millisecond, the buckets' resolution.
const MAX_LIMIT: u32 = WINDOW_MS as u32;

/// A token bucket of `limit` tokens per minute.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    limit: u32,
}

impl Bucket {
    /// Milliseconds per token (at least one: buckets hold at most [`MAX_LIMIT`]).
    fn period(self) -> i64 {
        (WINDOW_MS / i64::from(self.limit.max(1))).max(1)
    }

    /// How long an empty bucket takes to fill.
    fn span(self) -> i64 {
        self.period() * i64::from(self.limit.max(1))
    }

    /// `z` as it counts now: a bucket left alone long enough is full, no fuller.
    fn effective(self, z: Option<i64>, now: i64) -> i64 {
        z.map_or(now - self.span(), |z| z.max(now - self.span()))
    }

    fn tokens(self, z: i64, now: i64) -> i64 {
        (now - z).div_euclid(self.period()).max(0)
    }

    /// The headers after a request that left the bucket at `z`.
    fn window(self, z: i64, now: i64) -> RateWindow {
        RateWindow {
            limit: self.limit,
            remaining: u32::try_from(self.tokens(z, now)).unwrap_or(0).min(self.limit),
            reset: ceil_secs(z + self.span()),
        }
    }

    /// The answer to a refused request: the headers, and seconds until a token is back.
    fn refusal(self, z: i64, now: i64) -> (RateWindow, u64) {
        let rate = RateWindow {
            limit: self.limit,
            remaining: 0,
            reset: ceil_secs(z + self.span()),
        };
        (rate, ceil_secs((z + self.period() - now).max(1)) as u64)
    }
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

/// The names of a class's attributes on a credential item. The bucket is kept as `next`
/// (`z + T`: no request before it) and `full` (`z + limit·T`: from then on the bucket is full)
/// with its `period` `T`, so that the common path compares them with `now` alone, without
/// knowing the plan.
struct Names {
    next: String,
    full: String,
    period: String,
    lease: String,
    lease_until: String,
    /// Tokens the lease was last given.
    granted: String,
}

impl Names {
    fn of(class: RateClass) -> Self {
        let c = class_suffix(class);
        Names {
            next: format!("rn_{c}"),
            full: format!("rf_{c}"),
            period: format!("rp_{c}"),
            lease: format!("lt_{c}"),
            lease_until: format!("lx_{c}"),
            granted: format!("lg_{c}"),
        }
    }

    /// The placeholders of the bucket's attributes.
    fn bucket(&self) -> HashMap<String, String> {
        HashMap::from([
            ("#n".to_owned(), self.next.clone()),
            ("#f".to_owned(), self.full.clone()),
            ("#p".to_owned(), self.period.clone()),
        ])
    }

    /// The bucket's `z` as the item keeps it, if it does.
    fn z(&self, item: &Item) -> Option<i64> {
        Some(get_n(item, &self.next)? - get_n(item, &self.period)?)
    }
}

/// Where a request's limits come from.
#[derive(Clone, Copy)]
enum Limits {
    /// The plan named on the credential item, for the credential and its workspace, times
    /// the deployment's scale.
    Plan(u32),
    /// A fixed limit for an anonymous client, without a workspace.
    Client(u32),
}

/// What a credential's request needs to know to be counted.
struct Counting<'a> {
    key: &'a Key,
    usage: &'a Usage,
    /// API keys can be revoked; sessions end by deletion.
    revocable: bool,
    limits: Limits,
}

/// How a counted request ended.
enum Counted {
    Allowed(Item, RateWindow),
    Limited(RateWindow, u64),
    /// The credential is refused; the old item (if any) says why.
    Refused(Option<Item>),
}

impl Counting<'_> {
    fn now(&self) -> i64 {
        self.usage.now.timestamp_millis()
    }

    fn leased(&self) -> bool {
        matches!(self.limits, Limits::Plan(_))
    }

    /// The credential's own bucket and its workspace's, as the item says.
    fn buckets<'i>(&self, item: &'i Item) -> Result<Buckets<'i>, StoreError> {
        match self.limits {
            Limits::Client(limit) => Ok((Bucket { limit }, None)),
            Limits::Plan(scale) => {
                let plan = plan_of(item)?;
                let class = self.usage.class;
                Ok((
                    Bucket {
                        limit: plan.rate_limit(class).saturating_mul(scale).min(MAX_LIMIT),
                    },
                    Some((
                        required(item, "workspace_id")?,
                        Bucket {
                            limit: plan.workspace_rate_limit(class).saturating_mul(scale).min(MAX_LIMIT),
                        },
                    )),
                ))
            }
        }
    }

    /// The condition that the credential is usable, whatever its buckets.
    fn valid(&self) -> String {
        let mut condition =
            String::from("attribute_exists(PK) AND (attribute_not_exists(expires_epoch) OR expires_epoch > :now_s)");
        if self.revocable {
            condition.push_str(" AND attribute_not_exists(revoked_at)");
        }
        condition.push_str(" AND attribute_not_exists(suspended)");
        condition
    }

    fn usable(&self, item: &Item) -> bool {
        let revoked = self.revocable && item.contains_key("revoked_at");
        !revoked
            && !item.contains_key(SUSPENDED)
            && get_n(item, "expires_epoch").is_none_or(|e| e > epoch(self.usage.now))
    }

    fn base_values(&self) -> HashMap<String, AttributeValue> {
        let mut values =
            HashMap::from([
                (":now".to_owned(), n(self.now())),
                (":now_s".to_owned(), n(epoch(self.usage.now))),
                (
                    ":now_iso".to_owned(),
                    s(switchboard_core::clock::api_time(self.usage.now)
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                ),
            ]);
        if let Some(ip) = &self.usage.client_ip {
            values.insert(":ip".to_owned(), s(ip));
        }
        values
    }

    fn last_used(&self) -> &'static str {
        if self.usage.client_ip.is_some() {
            ", last_used_at = :now_iso, last_used_ip = :ip"
        } else {
            ", last_used_at = :now_iso"
        }
    }

    /// The common case, one UpdateItem: spend a token of the credential's bucket and one of
    /// its lease.
    async fn spend(&self, store: &DynamoStore, names: &Names) -> Result<Result<Item, Option<Item>>, StoreError> {
        let lease = self.leased().then_some(Lease {
            taken: 0,
            renewed: false,
        });
        self.spend_with(store, names, lease).await
    }

    /// Writes `write` with the lease's terms and the time of use: the item as it now is, or
    /// the one that failed the condition.
    async fn update(
        &self,
        store: &DynamoStore,
        names: &Names,
        lease: Option<Lease>,
        mut write: Expressions,
    ) -> Result<Result<Item, Option<Item>>, StoreError> {
        if let Some(lease) = lease {
            self.lease_terms(names, lease, &mut write);
        }
        write.update.push_str(self.last_used());
        let Expressions {
            mut update,
            condition,
            names,
            mut values,
            remove,
        } = write;
        update.push_str(remove);
        // DynamoDB refuses placeholders the expressions do not use.
        values.retain(|placeholder, _| mentions(&update, placeholder) || mentions(&condition, placeholder));
        let result = store
            .client
            .update_item()
            .table_name(&store.table)
            .set_key(Some(key_map(self.key)))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
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

    /// The headers after an allowed request, from the item it left (remembered for the
    /// credential's next request).
    fn allowed(&self, store: &DynamoStore, item: Item, names: &Names) -> Result<Counted, StoreError> {
        store.saw_credential(self.key, &item);
        let (bucket, _) = self.buckets(&item)?;
        let now = self.now();
        let z = names.z(&item).unwrap_or(now);
        let rate = bucket.window(z, now);
        Ok(Counted::Allowed(item, rate))
    }

    /// Counts the request: [`spend`](Self::spend), and when its condition fails, refills what
    /// needs it and writes against the values read, again while concurrent requests win.
    async fn count(&self, store: &DynamoStore) -> Result<Counted, StoreError> {
        let names = Names::of(self.usage.class);
        let now = self.now();
        // A bucket this instance last saw full fails the arithmetic spend: write against the
        // values it saw at once (a condition refuses them if another request moved them).
        let seen = store.seen_credential(self.key);
        let seen_full = seen
            .as_ref()
            .is_some_and(|item| get_n(item, &names.full).is_none_or(|full| full < now));
        let mut old = if seen_full {
            seen
        } else {
            match self.spend(store, &names).await? {
                Ok(item) => return self.allowed(store, item, &names),
                Err(old) => old,
            }
        };
        // Workspace tokens this request took and has not yet handed to the credential.
        let mut taken = 0i64;
        for _ in 0..MAX_ATTEMPTS {
            let Some(item) = old.as_ref() else {
                return Ok(Counted::Refused(None));
            };
            if !self.usable(item) {
                return Ok(Counted::Refused(old));
            }
            let (bucket, workspace) = self.buckets(item)?;
            let z = bucket.effective(names.z(item), now);
            if bucket.tokens(z, now) < 1 {
                let (rate, retry_after) = bucket.refusal(z, now);
                return Ok(Counted::Limited(rate, retry_after));
            }
            let lease_old = get_n(item, &names.lease).unwrap_or(0);
            let until_old = get_n(item, &names.lease_until).unwrap_or(0);
            let lease_valid = until_old > now;
            let lease = match workspace {
                None => None,
                Some(_) if lease_valid && lease_old + taken > 0 => Some(Lease { taken, renewed: false }),
                Some((workspace_id, workspace_bucket)) => {
                    if taken == 0 {
                        // Sized by recent use: what the credential spent of its bucket lately
                        // and one more for its next request, or twice its last lease when that
                        // ran out (a steady caller under its limit renews about once a minute).
                        let tokens = bucket.tokens(z, now);
                        let spent_lately = i64::from(bucket.limit) - tokens + 2;
                        let doubled = (2 * get_n(item, &names.granted).unwrap_or(0)).min(i64::from(bucket.limit) / 4);
                        let wanted = spent_lately.max(doubled).min(tokens);
                        match take(store, workspace_id, self.usage.class, workspace_bucket, wanted, now).await? {
                            Ok(granted) => taken = granted,
                            Err((rate, retry_after)) => {
                                // Concurrent requests may have just renewed this credential's
                                // lease with the tokens the workspace lacks now: spend from it.
                                return match self.spend(store, &names).await? {
                                    Ok(item) => self.allowed(store, item, &names),
                                    Err(_) => Ok(Counted::Limited(rate, retry_after)),
                                };
                            }
                        }
                    }
                    Some(Lease {
                        taken,
                        renewed: !lease_valid,
                    })
                }
            };
            let idle = get_n(item, &names.full).is_none_or(|full| full < now);
            let written = if idle {
                self.refill(store, &names, item, bucket, z, lease).await?
            } else {
                self.spend_with(store, &names, lease).await?
            };
            match written {
                Ok(item) => return self.allowed(store, item, &names),
                Err(newer) => old = newer,
            }
        }
        // Contended past reason: refuse this one rather than loop on.
        let (rate, retry_after) = match self.limits {
            Limits::Client(limit) => Bucket { limit }.refusal(now, now),
            Limits::Plan(_) => Bucket { limit: 1 }.refusal(now, now),
        };
        Ok(Counted::Limited(rate, retry_after))
    }

    /// The lease part of a write: tokens just taken are added to a lease still running, or
    /// start a new one (`renewed`); either way one is spent.
    fn lease_terms(&self, names: &Names, lease: Lease, write: &mut Expressions) {
        write.names.insert("#lt".into(), names.lease.clone());
        write.names.insert("#lx".into(), names.lease_until.clone());
        if lease.taken > 0 {
            write.update.push_str(", #lg = :lg");
            write.names.insert("#lg".into(), names.granted.clone());
            write.values.insert(":lg".into(), n(lease.taken));
        }
        if lease.renewed {
            write.update.push_str(", #lt = :lt, #lx = :lx");
            write.values.insert(":lt".into(), n(lease.taken - 1));
            write.values.insert(":lx".into(), n(self.now() + LEASE_MS));
            write
                .condition
                .push_str(" AND (attribute_not_exists(#lx) OR #lx <= :now)");
        } else {
            write.update.push_str(", #lt = #lt + :added");
            write.values.insert(":added".into(), n(lease.taken - 1));
            // Never below zero: without tokens in hand, the lease must still hold one.
            write.values.insert(":needed".into(), n(1 - lease.taken));
            write.condition.push_str(" AND #lx > :now AND #lt >= :needed");
        }
    }

    /// Spends a token of a bucket in use and of the lease, by arithmetic: concurrent requests
    /// each add what they took and none is lost.
    async fn spend_with(
        &self,
        store: &DynamoStore,
        names: &Names,
        lease: Option<Lease>,
    ) -> Result<Result<Item, Option<Item>>, StoreError> {
        let write = Expressions {
            update: String::from("SET #n = #n + #p, #f = #f + #p"),
            condition: format!("{} AND #n <= :now AND #f >= :now", self.valid()),
            names: names.bucket(),
            values: self.base_values(),
            remove: "",
        };
        self.update(store, names, lease, write).await
    }

    /// Spends one token of a bucket left alone long enough to be full (read as `z`, and
    /// written only if no other request refilled it meanwhile), and of the lease.
    async fn refill(
        &self,
        store: &DynamoStore,
        names: &Names,
        old: &Item,
        bucket: Bucket,
        z: i64,
        lease: Option<Lease>,
    ) -> Result<Result<Item, Option<Item>>, StoreError> {
        let spent = z + bucket.period();
        let mut write = Expressions {
            update: String::from("SET #n = :next, #f = :full, #p = :period"),
            condition: self.valid(),
            names: names.bucket(),
            values: self.base_values(),
            // Rate state of the earlier design (timestamp rings), dropped as credentials are used.
            remove: " REMOVE rl_read, rl_write, rl_start",
        };
        write.values.insert(":next".into(), n(spent + bucket.period()));
        write.values.insert(":full".into(), n(spent + bucket.span()));
        write.values.insert(":period".into(), n(bucket.period()));
        write.unchanged("#n", ":next_old", get_n(old, &names.next));
        self.update(store, names, lease, write).await
    }
}

/// A credential's bucket and, when its plan limits it, its workspace's id and bucket.
type Buckets<'i> = (Bucket, Option<(&'i str, Bucket)>);

/// Workspace tokens a write hands to the credential's lease.
#[derive(Clone, Copy)]
struct Lease {
    taken: i64,
    /// The lease had run out: these tokens start a new one.
    renewed: bool,
}

/// Whether `expression` uses `placeholder` (`:now`, not as the start of `:now_s`).
fn mentions(expression: &str, placeholder: &str) -> bool {
    expression.match_indices(placeholder).any(|(i, _)| {
        expression[i + placeholder.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
    })
}

/// The expressions of an UpdateItem of the credential, as a write assembles them.
struct Expressions {
    update: String,
    condition: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    /// A `REMOVE` clause, after the `SET` one (which the write ends with the time of use).
    remove: &'static str,
}

impl Expressions {
    /// Adds to the condition that the attribute `#name` still holds `value` (or still is missing).
    fn unchanged(&mut self, name: &str, placeholder: &str, value: Option<i64>) {
        match value {
            Some(v) => {
                self.condition.push_str(&format!(" AND {name} = {placeholder}"));
                self.values.insert(placeholder.to_owned(), n(v));
            }
            None => self.condition.push_str(&format!(" AND attribute_not_exists({name})")),
        }
    }
}

/// Takes up to `wanted` (at least one) tokens from the workspace's bucket of `class`, but no
/// more than half of what it holds: the tokens granted, or the refusal when it is empty.
async fn take(
    store: &DynamoStore,
    workspace_id: &str,
    class: RateClass,
    bucket: Bucket,
    wanted: i64,
    now: i64,
) -> Result<Result<i64, (RateWindow, u64)>, StoreError> {
    let key = keys::workspace_rate(workspace_id);
    let name = format!("wz_{}", class_suffix(class));
    let mut read: Option<Option<i64>> = None;
    for _ in 0..MAX_ATTEMPTS {
        let (granted, update, condition, values) = match read {
            // First try: as if the bucket had `wanted` tokens to spare.
            None => {
                let granted = wanted.max(1);
                (
                    granted,
                    "SET #z = #z + :spent",
                    "#z >= :full_at AND #z <= :latest",
                    HashMap::from([
                        (":spent".to_owned(), n(granted * bucket.period())),
                        (":full_at".to_owned(), n(now - bucket.span())),
                        (":latest".to_owned(), n(now - granted * bucket.period())),
                    ]),
                )
            }
            Some(z_old) => {
                let z = bucket.effective(z_old, now);
                let available = bucket.tokens(z, now);
                if available < 1 {
                    return Ok(Err(bucket.refusal(z, now)));
                }
                let granted = wanted.max(1).min((available / 2).max(1));
                let mut values = HashMap::from([(":z".to_owned(), n(z + granted * bucket.period()))]);
                let condition = match z_old {
                    Some(v) => {
                        values.insert(":z_old".to_owned(), n(v));
                        "#z = :z_old"
                    }
                    None => "attribute_not_exists(#z)",
                };
                (granted, "SET #z = :z", condition, values)
            }
        };
        let result = store
            .client
            .update_item()
            .table_name(&store.table)
            .set_key(Some(key_map(&key)))
            .update_expression(format!("{update}, #entity = :entity"))
            .condition_expression(condition)
            .expression_attribute_names("#z", &name)
            .expression_attribute_names("#entity", keys::ENTITY)
            .set_expression_attribute_values(Some({
                let mut values = values;
                values.insert(":entity".to_owned(), s(keys::entity::WORKSPACE_RATE));
                values
            }))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => return Ok(Ok(granted)),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(e)) => {
                    read = Some(e.item().and_then(|item| get_n(item, &name)));
                }
                _ => return Err(sdk_error(err)),
            },
        }
    }
    Ok(Err(bucket.refusal(now, now)))
}

/// Credential items remembered per warm instance; past this many, it starts over.
const SEEN_CREDENTIALS: usize = 4096;

impl DynamoStore {
    fn seen_credential(&self, key: &Key) -> Option<Item> {
        let seen = self.seen_credentials.lock().unwrap_or_else(|e| e.into_inner());
        seen.get(&format!("{}|{}", key.pk, key.sk)).cloned()
    }

    fn saw_credential(&self, key: &Key, item: &Item) {
        let mut seen = self.seen_credentials.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= SEEN_CREDENTIALS {
            seen.clear();
        }
        seen.insert(format!("{}|{}", key.pk, key.sk), item.clone());
    }
}

/// Why the credential was refused, from the old item.
fn refusal(old: Option<Item>, now: DateTime<Utc>) -> CredentialCheck {
    let Some(old) = old else {
        return CredentialCheck::Unknown;
    };
    if old.contains_key("revoked_at") {
        return CredentialCheck::Revoked;
    }
    if old.contains_key(SUSPENDED) {
        return CredentialCheck::Suspended;
    }
    if get_n(&old, "expires_epoch").is_some_and(|e| e <= epoch(now)) {
        return CredentialCheck::Expired;
    }
    CredentialCheck::Unknown
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
        let (item, rate) = match count_credential(self, &keys::api_key_lookup(key_hash), usage, true).await? {
            Ok(counted) => counted,
            Err(check) => return Ok(check),
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
            agency_workspace_id: None,
        };
        Ok(CredentialCheck::Allowed { credential, rate })
    }

    #[tracing::instrument(skip_all, fields(class = ?usage.class))]
    async fn use_session(
        &self,
        workspace_id: &str,
        session_id: &str,
        usage: &Usage,
    ) -> Result<CredentialCheck, StoreError> {
        let (item, rate) = match count_credential(self, &keys::session(workspace_id, session_id), usage, false).await? {
            Ok(counted) => counted,
            Err(check) => return Ok(check),
        };
        let role: Role = parse(&item, "role")?;
        // A built-in role grants what it grants today, families added since the session began
        // included; a custom role, what it granted when last given or changed.
        let grants = role.built_in_grants().or_else(|| grants_of(&item)).unwrap_or_default();
        let credential = CredentialRecord {
            workspace_id: workspace_id.to_owned(),
            plan: plan_of(&item)?,
            grants,
            agency_workspace_id: None,
            kind: CredentialKind::Session {
                session_id: session_id.to_owned(),
                user_id: required(&item, "user_id")?.to_owned(),
                role,
                email: required(&item, "email")?.to_owned(),
                expires_at: time_of(&item, "expires_epoch")
                    .ok_or_else(|| StoreError::Other(anyhow::anyhow!("session without expiry")))?,
            },
        };
        Ok(CredentialCheck::Allowed { credential, rate })
    }

    #[tracing::instrument(skip_all)]
    async fn customer_agency(&self, customer_id: &str) -> Result<Option<String>, StoreError> {
        let guard = keys::global_unique(crate::layout::CUSTOMER, customer_id);
        Ok(self
            .get_item(&guard)
            .await?
            .and_then(|item| get_s(&item, "workspace_id").map(str::to_owned)))
    }

    #[tracing::instrument(skip_all)]
    async fn use_client_ip(
        &self,
        ip: &str,
        usage: &Usage,
        limit: u32,
    ) -> Result<Result<RateWindow, (RateWindow, u64)>, StoreError> {
        let key = keys::client_ip(ip);
        let usage = Usage {
            client_ip: None,
            ..usage.clone()
        };
        let counting = Counting {
            key: &key,
            usage: &usage,
            revocable: false,
            limits: Limits::Client(limit),
        };
        // Two attempts: the first request of a client creates its item, then counts as usual.
        for _ in 0..2 {
            match counting.count(self).await? {
                Counted::Allowed(_, rate) => return Ok(Ok(rate)),
                Counted::Limited(rate, retry_after) => return Ok(Err((rate, retry_after))),
                Counted::Refused(Some(_)) => {
                    return Err(StoreError::Other(anyhow::anyhow!("client rate item for {ip} refused")));
                }
                Counted::Refused(None) => {
                    let mut item = key_map(&key);
                    item.insert(keys::ENTITY.to_owned(), s(keys::entity::CLIENT_IP));
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

/// Counts a request of the API key or session at `key` against its plan's limits, which the
/// item names (with its workspace): the item and the headers, or why it was refused.
async fn count_credential(
    store: &DynamoStore,
    key: &Key,
    usage: &Usage,
    revocable: bool,
) -> Result<Result<(Item, RateWindow), CredentialCheck>, StoreError> {
    let counting = Counting {
        key,
        usage,
        revocable,
        limits: Limits::Plan(store.rate_limit_scale),
    };
    Ok(match counting.count(store).await? {
        Counted::Allowed(item, rate) => Ok((item, rate)),
        Counted::Limited(rate, retry_after) => Err(CredentialCheck::Limited { rate, retry_after }),
        Counted::Refused(old) => Err(refusal(old, usage.now)),
    })
}

/// The attributes every credential item carries, for the stores that create them.
pub(crate) fn credential_attributes(workspace_id: &str, plan: Plan, expires_at: Option<DateTime<Utc>>) -> Item {
    let mut item = Item::new();
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
    fn a_full_bucket_allows_its_limit_then_one_per_period() {
        let bucket = Bucket { limit: 20 };
        let now = 1_000_000;
        let mut z = bucket.effective(None, now);
        for i in 0..20 {
            assert!(bucket.tokens(z, now) >= 1, "request {i}");
            z += bucket.period();
            assert_eq!(bucket.window(z, now).remaining, 19 - i);
        }
        assert_eq!(bucket.tokens(z, now), 0);
        let (rate, retry_after) = bucket.refusal(z, now);
        assert_eq!((rate.remaining, retry_after), (0, 3));
        assert_eq!(bucket.tokens(z, now + 3_000), 1);
        // Left alone, it fills up, and no further.
        assert_eq!(
            bucket.tokens(bucket.effective(Some(z), now + 600_000), now + 600_000),
            20
        );
    }
}
