//! The wallet item, the holds of calls in progress, and the ledger entries written with them.
//!
//! The wallet keeps `balance`, `held` and `available = balance - held` side by side, so that a
//! condition can guard `available` (conditions cannot add). Each write moves them by
//! arithmetic updates in the transaction of the change that causes it, so concurrent calls do
//! not have to read the wallet first: a hold is refused when `available` would go below zero,
//! a settlement deletes the call's hold item (which must still hold what was read), and a
//! credit claims a global guard for its payment id.
//!
//! The spending controls live on the wallet too, so that the hold's one conditional update
//! enforces them: the destination must be in `allowed_countries`, a live call needs
//! `owner_verified`, and `day_room_minor` (what today's limit still allows) must cover the hold.
//! `day_room_minor` is counted for the UTC day `spend_day`; the first hold of a new day resets it
//! from `daily_limit_minor` (a second form of the update, tried when the first finds the day
//! over). A workspace without a limit has the limit `NO_LIMIT`, so that one expression serves.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use switchboard_core::model::{AutoCharge, AutoChargeObject};
use switchboard_core::model::{
    Balance, BalanceObject, CURRENCY, Call, Event, LedgerEntry, LedgerEntryObject, LedgerKind, NumberStatus,
    PhoneNumber, SpendingControls, SpendingControlsObject, TRIAL_DAYS, UsageGroup, UsageRecord, Wallet, Workspace,
};
use switchboard_core::ports::{
    AutoChargeChange, Charge, ControlsChange, Credit, HeldCall, Hold, Versioned, Wallets, refusal,
};
use switchboard_core::{ErrorCode, StoreError};

use super::keys::{self, entity};
use super::layout::Layout;
use super::resources::decode;
use super::{DynamoStore, Item, NEW_ITEM, from_item, get_n, get_s, is_at, item_of, key_map, n, s, sdk_error};

/// The kinds of usage counters, by how they break a day down.
fn usage_kind(group: UsageGroup) -> &'static str {
    match group {
        UsageGroup::Day => "DAY",
        UsageGroup::Agent => "AGENT",
        UsageGroup::Campaign => "CAMPAIGN",
    }
}

/// The daily limit of a workspace that has none: more than any wallet holds.
const NO_LIMIT: i64 = 1_000_000_000_000_000;

/// A new wallet's low-balance threshold ($1) and auto-charge amount ($20).
const DEFAULT_THRESHOLD: i64 = 100;
const DEFAULT_AUTOCHARGE: i64 = 2_000;

/// The UTC day of `at`, as days since the epoch.
fn day_number(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(86_400)
}

/// The wallet as stored: times as epoch seconds and days, so that conditions can compare them.
#[derive(Serialize, Deserialize)]
pub(crate) struct WalletItem {
    balance_minor: i64,
    held_minor: i64,
    available_minor: i64,
    currency: String,
    active_calls: u32,
    funded: bool,
    trial_ends_at: i64,
    pub(crate) allowed_countries: Vec<String>,
    owner_verified: bool,
    daily_limit_minor: i64,
    spend_day: i64,
    day_room_minor: i64,
    autocharge_enabled: bool,
    low_balance_threshold_minor: i64,
    autocharge_amount_minor: i64,
    /// Noted below the threshold since the last credit.
    low_balance: bool,
    payment_customer: Option<String>,
    updated_at: DateTime<Utc>,
}

impl WalletItem {
    fn at(self, now: DateTime<Utc>) -> Wallet {
        let spent_today_minor = if self.spend_day == day_number(now) {
            self.daily_limit_minor - self.day_room_minor
        } else {
            0
        };
        Wallet {
            autocharge: AutoCharge {
                object: AutoChargeObject,
                enabled: self.autocharge_enabled,
                threshold_minor: self.low_balance_threshold_minor,
                amount_minor: self.autocharge_amount_minor,
                currency: self.currency.clone(),
                payment_method_saved: self.payment_customer.is_some(),
            },
            payment_customer: self.payment_customer,
            controls: SpendingControls {
                object: SpendingControlsObject,
                allowed_countries: self.allowed_countries,
                daily_spend_limit_minor: (self.daily_limit_minor < NO_LIMIT).then_some(self.daily_limit_minor),
                spent_today_minor,
                currency: self.currency.clone(),
                owner_verified: self.owner_verified,
            },
            balance: Balance {
                object: BalanceObject,
                balance_minor: self.balance_minor,
                held_minor: self.held_minor,
                available_minor: self.available_minor,
                currency: self.currency,
                active_calls: self.active_calls,
                funded: self.funded,
                trial_ends_at: DateTime::from_timestamp(self.trial_ends_at, 0).unwrap_or_default(),
                updated_at: self.updated_at,
            },
        }
    }
}

/// How often a hold is tried when the wallet changes under it.
const HOLD_ATTEMPTS: usize = 4;

/// The two forms of a hold's update of the wallet: within the day of its last hold, or the
/// first of a new day.
#[derive(Clone, Copy, PartialEq)]
enum HoldDay {
    Same,
    New,
}

#[derive(Serialize, Deserialize)]
struct HoldItem {
    call_id: String,
    amount_minor: i64,
    created_at: DateTime<Utc>,
}

/// A ledger entry in the wallet's currency.
fn entry(id: &str, kind: LedgerKind, amount_minor: i64, description: &str, at: DateTime<Utc>) -> LedgerEntry {
    LedgerEntry {
        id: id.to_owned(),
        object: LedgerEntryObject,
        kind,
        amount_minor,
        currency: CURRENCY.into(),
        description: description.to_owned(),
        call_id: None,
        payment_id: None,
        created_at: at,
    }
}

fn stamp(at: DateTime<Utc>) -> String {
    switchboard_core::clock::api_time(at).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What a new wallet starts with.
pub(crate) struct Opening<'a> {
    /// Trial credit, or test money; no ledger entry when zero.
    pub credit_minor: i64,
    pub entry_id: &'a str,
    /// Whether the owner verified their email (live calls need it).
    pub owner_verified: bool,
    /// The countries calls may go to.
    pub allowed_countries: Vec<String>,
}

impl DynamoStore {
    /// The Put of a new workspace's wallet with its trial credit, and the credit's entry. A
    /// test-mode twin's wallet holds test money that never expires.
    pub(crate) fn new_wallet_writes(
        &self,
        workspace: &Workspace,
        opening: Opening<'_>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let Opening {
            credit_minor: trial_credit_minor,
            entry_id,
            owner_verified,
            allowed_countries,
        } = opening;
        let test = switchboard_core::model::is_test_workspace(&workspace.id);
        let ws = &workspace.id;
        let at = workspace.created_at;
        let wallet = WalletItem {
            balance_minor: trial_credit_minor,
            held_minor: 0,
            available_minor: trial_credit_minor,
            currency: CURRENCY.into(),
            active_calls: 0,
            funded: test,
            trial_ends_at: (at + Duration::days(TRIAL_DAYS)).timestamp(),
            allowed_countries,
            owner_verified,
            daily_limit_minor: NO_LIMIT,
            spend_day: day_number(at),
            day_room_minor: NO_LIMIT,
            autocharge_enabled: false,
            low_balance_threshold_minor: DEFAULT_THRESHOLD,
            autocharge_amount_minor: DEFAULT_AUTOCHARGE,
            low_balance: false,
            payment_customer: None,
            updated_at: at,
        };
        let mut writes = vec![self.tx_put(
            item_of(&keys::wallet(ws), entity::WALLET, &wallet)?,
            NEW_ITEM,
            Item::new(),
        )?];
        if trial_credit_minor != 0 {
            let entry = entry(
                entry_id,
                LedgerKind::TrialCredit,
                trial_credit_minor,
                if test { "Test-mode credit" } else { "Trial credit" },
                at,
            );
            writes.push(self.entry_put(ws, &entry)?);
        }
        Ok(writes)
    }

    /// The Put of a new ledger entry.
    fn entry_put(&self, workspace_id: &str, entry: &LedgerEntry) -> Result<TransactWriteItem, StoreError> {
        Ok(self.insert_writes(workspace_id, entry, None, &[])?.items.remove(0))
    }

    /// Why a hold was refused, read from the wallet as it is now; or, when the wallet would
    /// take it now (it changed meanwhile, or its day is over), the form to try it again in.
    async fn hold_refusal(&self, workspace_id: &str, hold: &Hold) -> Result<Result<HoldDay, ErrorCode>, StoreError> {
        let Some(wallet) = self.get_as::<WalletItem>(&keys::wallet(workspace_id)).await? else {
            return Ok(Err(ErrorCode::InsufficientFunds));
        };
        let day = if wallet.spend_day < day_number(hold.at) {
            HoldDay::New
        } else {
            HoldDay::Same
        };
        Ok(refusal(&wallet.at(hold.at), hold).map_or(Ok(day), Err))
    }

    /// The wallet's update of a hold: it takes `hold` from what is available and from the day's
    /// room, under the conditions that enforce the controls.
    fn hold_write(&self, workspace_id: &str, hold: &Hold, day: HoldDay) -> Result<TransactWriteItem, StoreError> {
        let mut update = "SET held_minor = held_minor + :amount, available_minor = available_minor - :amount, \
                          updated_at = :now"
            .to_owned();
        let mut condition = "available_minor >= :amount AND active_calls < :max_active \
                             AND (funded = :yes OR trial_ends_at > :epoch)"
            .to_owned();
        match day {
            HoldDay::Same => {
                update.push_str(", day_room_minor = day_room_minor - :amount");
                condition.push_str(" AND spend_day = :today AND day_room_minor >= :amount");
            }
            HoldDay::New => {
                update.push_str(", spend_day = :today, day_room_minor = daily_limit_minor - :amount");
                condition.push_str(" AND spend_day < :today AND daily_limit_minor >= :amount");
            }
        }
        update.push_str(" ADD active_calls :one");
        let mut values = HashMap::from([
            (":amount".to_owned(), n(hold.amount_minor)),
            (":now".to_owned(), s(stamp(hold.at))),
            (":one".to_owned(), n(1)),
            (":max_active".to_owned(), n(hold.max_active_calls)),
            (":yes".to_owned(), AttributeValue::Bool(true)),
            (":epoch".to_owned(), n(hold.at.timestamp())),
            (":today".to_owned(), n(day_number(hold.at))),
        ]);
        if let Some(country) = &hold.destination_country {
            condition.push_str(" AND contains(allowed_countries, :country)");
            values.insert(":country".to_owned(), s(country));
        }
        if hold.live {
            condition.push_str(" AND owner_verified = :yes");
        }
        self.tx_update(&keys::wallet(workspace_id), &update, Some(&condition), values)
    }
}

impl DynamoStore {
    /// The call (when `with_call`) and what it holds with its wallet, in one BatchGetItem.
    async fn call_items(
        &self,
        workspace_id: &str,
        call_id: &str,
        with_call: bool,
    ) -> Result<(Option<Versioned<Call>>, Option<HeldCall>), StoreError> {
        let hold_key = keys::hold(workspace_id, call_id);
        let wallet_key = keys::wallet(workspace_id);
        let call_key = keys::resource(workspace_id, <Call as Layout>::COLLECTION, call_id);
        let mut wanted = vec![hold_key.clone(), wallet_key.clone()];
        if with_call {
            wanted.push(call_key.clone());
        }
        let (mut call, mut hold, mut wallet) = (None, None, None);
        for item in self.get_many(&wanted).await? {
            if is_at(&item, &hold_key) {
                hold = Some(from_item::<HoldItem>(item)?);
            } else if is_at(&item, &wallet_key) {
                wallet = Some(from_item::<WalletItem>(item)?);
            } else if is_at(&item, &call_key) {
                call = Some(decode::<Call>(item)?);
            }
        }
        let held = hold.map(|h| HeldCall {
            amount_minor: h.amount_minor,
            placed_at: h.created_at,
            available_minor: wallet.as_ref().map_or(0, |w| w.available_minor),
            low_balance_threshold_minor: wallet.filter(|w| !w.low_balance).map(|w| w.low_balance_threshold_minor),
        });
        Ok((call, held))
    }

    async fn wallet_item(&self, workspace_id: &str) -> Result<WalletItem, StoreError> {
        self.get_as(&keys::wallet(workspace_id))
            .await?
            .ok_or_else(|| StoreError::Other(anyhow::anyhow!("workspace {workspace_id} has no wallet")))
    }
}

#[async_trait]
impl Wallets for DynamoStore {
    async fn wallet(&self, workspace_id: &str, now: DateTime<Utc>) -> Result<Option<Wallet>, StoreError> {
        let wallet: Option<WalletItem> = self.get_as(&keys::wallet(workspace_id)).await?;
        Ok(wallet.map(|w| w.at(now)))
    }

    async fn set_spending_controls(
        &self,
        workspace_id: &str,
        change: &ControlsChange,
        now: DateTime<Utc>,
    ) -> Result<SpendingControls, StoreError> {
        let key = keys::wallet(workspace_id);
        for _ in 0..8 {
            let current = self.wallet_item(workspace_id).await?;
            let limit = match change.daily_spend_limit_minor {
                Some(limit) => limit.unwrap_or(NO_LIMIT),
                None => current.daily_limit_minor,
            };
            let countries = change
                .allowed_countries
                .clone()
                .unwrap_or_else(|| current.allowed_countries.clone());
            // Today's room moves with the limit; what was spent today stays spent.
            let values = HashMap::from([
                (":limit".to_owned(), n(limit)),
                (":old_limit".to_owned(), n(current.daily_limit_minor)),
                (":delta".to_owned(), n(limit - current.daily_limit_minor)),
                (
                    ":countries".to_owned(),
                    AttributeValue::L(countries.iter().map(s).collect()),
                ),
                (":now".to_owned(), s(stamp(now))),
            ]);
            let update = self.tx_update(
                &key,
                "SET daily_limit_minor = :limit, day_room_minor = day_room_minor + :delta, \
                 allowed_countries = :countries, updated_at = :now",
                Some("daily_limit_minor = :old_limit"),
                values,
            )?;
            // Changed meanwhile (another change of the limit): read again. Read back after
            // the write, which goes in a transaction with its audit entry and so returns nothing.
            if self.write(update).await? {
                return Ok(self.wallet_item(workspace_id).await?.at(now).controls);
            }
        }
        Err(StoreError::Conflict(ErrorCode::ConcurrentModification))
    }

    #[tracing::instrument(skip_all, fields(call_id = %call.id))]
    async fn insert_held_call(
        &self,
        workspace_id: &str,
        call: &Call,
        hold: &Hold,
    ) -> Result<Versioned<Call>, StoreError> {
        let mut writes = self.insert_writes(workspace_id, call, None, &[])?;
        let hold_item = HoldItem {
            call_id: call.id.clone(),
            amount_minor: hold.amount_minor,
            created_at: hold.at,
        };
        writes.items.push(self.tx_put(
            item_of(&keys::hold(workspace_id, &call.id), entity::HOLD, &hold_item)?,
            NEW_ITEM,
            Item::new(),
        )?);
        writes.items.push(self.tx_check(
            &keys::workspace(workspace_id),
            "#status = :active",
            HashMap::from([(":active".to_owned(), s("active"))]),
        )?);
        let (workspace_at, wallet_at) = (writes.items.len() - 1, writes.items.len());
        // The hold as the wallet's day stands, tried again as long as the wallet, read after a
        // refusal, would take it (it changed meanwhile, or the day it counts ended).
        let mut day = HoldDay::Same;
        for _ in 0..HOLD_ATTEMPTS {
            let mut items = writes.items.clone();
            items.push(self.hold_write(workspace_id, hold, day)?);
            match self.transact(items).await {
                Ok(()) => {
                    return Ok(Versioned {
                        value: call.clone(),
                        version: 1,
                    });
                }
                Err(e) if e.failed_at(wallet_at) => match self.hold_refusal(workspace_id, hold).await? {
                    Ok(again) => day = again,
                    Err(code) => return Err(StoreError::Conflict(code)),
                },
                Err(e) if e.failed_at(workspace_at) => return Err(StoreError::Conflict(ErrorCode::AccountInactive)),
                Err(e) => return Err(writes.error(e)),
            }
        }
        Err(StoreError::Conflict(ErrorCode::ConcurrentModification))
    }

    async fn held_for(&self, workspace_id: &str, call_id: &str) -> Result<Option<HeldCall>, StoreError> {
        // The wallet in the same round trip: what settling leaves available decides whether
        // the balance crossed its low-balance threshold.
        Ok(self.call_items(workspace_id, call_id, false).await?.1)
    }

    async fn held_call(
        &self,
        workspace_id: &str,
        call_id: &str,
    ) -> Result<Option<(Versioned<Call>, Option<HeldCall>)>, StoreError> {
        let (call, held) = self.call_items(workspace_id, call_id, true).await?;
        Ok(call.map(|call| (call, held)))
    }

    #[tracing::instrument(skip_all, fields(call_id = %value.id))]
    async fn end_held_call(
        &self,
        workspace_id: &str,
        previous: &Versioned<Call>,
        value: &Call,
        events: &[Event],
        held: HeldCall,
        charge: &Charge,
    ) -> Result<Versioned<Call>, StoreError> {
        let mut writes = self.update_writes(workspace_id, previous, value, events)?;
        let hold_at = writes.items.len();
        writes.items.push(self.tx_delete(
            &keys::hold(workspace_id, &value.id),
            Some("amount_minor = :held"),
            HashMap::from([(":held".to_owned(), n(held.amount_minor))]),
        )?);
        let release = held.amount_minor - charge.amount_minor;
        // What a call placed today did not spend goes back to today's room; a call placed on an
        // earlier day counted against that day's.
        let room_back = if day_number(held.placed_at) == day_number(charge.at) {
            release
        } else {
            0
        };
        writes.items.push(self.tx_update(
            &keys::wallet(workspace_id),
            "SET balance_minor = balance_minor - :charge, held_minor = held_minor - :held, \
             available_minor = available_minor + :release, day_room_minor = day_room_minor + :room_back, \
             updated_at = :now ADD active_calls :minus_one",
            None,
            HashMap::from([
                (":charge".to_owned(), n(charge.amount_minor)),
                (":held".to_owned(), n(held.amount_minor)),
                (":release".to_owned(), n(release)),
                (":room_back".to_owned(), n(room_back)),
                (":now".to_owned(), s(stamp(charge.at))),
                (":minus_one".to_owned(), n(-1)),
            ]),
        )?);
        let day = charge.at.date_naive();
        let minutes = value.cost.as_ref().map_or(0, |c| c.billed_minutes);
        let counted = [
            (UsageGroup::Day, None),
            (UsageGroup::Agent, Some(value.agent_id.as_str())),
            (UsageGroup::Campaign, value.campaign_id.as_deref()),
        ];
        for (group, id) in counted {
            if group != UsageGroup::Day && id.is_none() {
                continue;
            }
            writes.items.push(self.tx_update(
                &keys::usage(workspace_id, usage_kind(group), day, id),
                "SET #entity = :entity, #day = :day, #usage_key = :key ADD #calls :one, #minutes :minutes, #cost_minor :cost",
                None,
                HashMap::from([
                    (":entity".to_owned(), s(entity::USAGE)),
                    (":day".to_owned(), s(day.to_string())),
                    (":key".to_owned(), s(id.unwrap_or_default())),
                    (":one".to_owned(), n(1)),
                    (":minutes".to_owned(), n(minutes)),
                    (":cost".to_owned(), n(charge.amount_minor)),
                ]),
            )?);
        }
        if charge.amount_minor > 0 {
            let entry = LedgerEntry {
                call_id: Some(value.id.clone()),
                ..entry(
                    &charge.entry_id,
                    LedgerKind::CallCharge,
                    -charge.amount_minor,
                    &charge.description,
                    charge.at,
                )
            };
            writes.items.push(self.entry_put(workspace_id, &entry)?);
        }
        match self.transact(writes.items.clone()).await {
            Ok(()) => Ok(Versioned {
                value: value.clone(),
                version: previous.version + 1,
            }),
            // Settled by another writer meanwhile: read again, as when the call changed.
            Err(e) if e.failed_at(hold_at) => Err(StoreError::VersionMismatch),
            Err(e) => Err(writes.error(e)),
        }
    }

    async fn usage(
        &self,
        workspace_id: &str,
        group: UsageGroup,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<UsageRecord>, StoreError> {
        let kind = usage_kind(group);
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK BETWEEN :low AND :high")
            .expression_attribute_values(":pk", s(keys::usage_partition(workspace_id)))
            .expression_attribute_values(":low", s(format!("{kind}#{from}")))
            .expression_attribute_values(":high", s(format!("{kind}#{to}~")))
            .into_paginator()
            .items()
            .send();
        let items = items.try_collect().await.map_err(sdk_error)?;
        Ok(items
            .iter()
            .filter_map(|item| {
                Some(UsageRecord {
                    day: get_s(item, "day")?.parse().ok()?,
                    key: get_s(item, "usage_key").filter(|k| !k.is_empty()).map(str::to_owned),
                    calls: get_n(item, "calls").unwrap_or(0).max(0) as u64,
                    minutes: get_n(item, "minutes").unwrap_or(0).max(0) as u64,
                    cost_minor: get_n(item, "cost_minor").unwrap_or(0),
                })
            })
            .collect())
    }

    #[tracing::instrument(skip_all, fields(payment_id = %credit.payment_id))]
    async fn credit(&self, workspace_id: &str, credit: &Credit, events: &[Event]) -> Result<bool, StoreError> {
        let mut guard = key_map(&keys::payment(&credit.payment_id));
        guard.insert(keys::ENTITY.into(), s(entity::PAYMENT));
        guard.insert("workspace_id".into(), s(workspace_id));
        let entry = LedgerEntry {
            payment_id: Some(credit.payment_id.clone()),
            ..entry(
                &credit.entry_id,
                credit.kind,
                credit.amount_minor,
                &credit.description,
                credit.at,
            )
        };
        let mut update = "SET balance_minor = balance_minor + :amount, available_minor = available_minor + :amount, \
                          funded = :yes, low_balance = :no, updated_at = :now"
            .to_owned();
        let mut values = HashMap::from([
            (":amount".to_owned(), n(credit.amount_minor)),
            (":yes".to_owned(), AttributeValue::Bool(true)),
            (":no".to_owned(), AttributeValue::Bool(false)),
            (":now".to_owned(), s(stamp(credit.at))),
        ]);
        if let Some(customer) = &credit.customer {
            update.push_str(", payment_customer = :customer");
            values.insert(":customer".to_owned(), s(customer));
        }
        let mut items = vec![
            self.tx_put(guard, NEW_ITEM, Item::new())?,
            self.tx_update(
                &keys::wallet(workspace_id),
                &update,
                Some("attribute_exists(PK)"),
                values,
            )?,
        ];
        items.extend(self.insert_writes(workspace_id, &entry, None, events)?.items);
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(e) if e.failed_at(0) => Ok(false),
            Err(e) if e.failed_at(1) => Err(StoreError::Other(anyhow::anyhow!(
                "workspace {workspace_id} has no wallet"
            ))),
            Err(e) => Err(e.into_store()),
        }
    }

    async fn set_autocharge(
        &self,
        workspace_id: &str,
        change: &AutoChargeChange,
        now: DateTime<Utc>,
    ) -> Result<AutoCharge, StoreError> {
        let mut sets = vec!["updated_at = :now"];
        let mut values = HashMap::from([(":now".to_owned(), s(stamp(now)))]);
        let mut condition = "attribute_exists(PK)".to_owned();
        if let Some(enabled) = change.enabled {
            sets.push("autocharge_enabled = :enabled");
            values.insert(":enabled".to_owned(), AttributeValue::Bool(enabled));
            if enabled {
                condition.push_str(" AND attribute_type(payment_customer, :string)");
                values.insert(":string".to_owned(), s("S"));
            }
        }
        if let Some(threshold) = change.threshold_minor {
            sets.push("low_balance_threshold_minor = :threshold");
            values.insert(":threshold".to_owned(), n(threshold));
        }
        if let Some(amount) = change.amount_minor {
            sets.push("autocharge_amount_minor = :amount");
            values.insert(":amount".to_owned(), n(amount));
        }
        let update = self.tx_update(
            &keys::wallet(workspace_id),
            &format!("SET {}", sets.join(", ")),
            Some(&condition),
            values,
        )?;
        if !self.write(update).await? {
            return Err(StoreError::Conflict(ErrorCode::PaymentMethodRequired));
        }
        Ok(self.wallet_item(workspace_id).await?.at(now).autocharge)
    }

    async fn note_low_balance(&self, workspace_id: &str, event: &Event) -> Result<bool, StoreError> {
        let mut items = vec![self.tx_update(
            &keys::wallet(workspace_id),
            "SET low_balance = :yes",
            Some("low_balance = :no AND available_minor < low_balance_threshold_minor"),
            HashMap::from([
                (":yes".to_owned(), AttributeValue::Bool(true)),
                (":no".to_owned(), AttributeValue::Bool(false)),
            ]),
        )?];
        items.push(self.event_put(workspace_id, event)?);
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(e) if e.failed_at(0) => Ok(false),
            Err(e) => Err(e.into_store()),
        }
    }

    #[tracing::instrument(skip_all, fields(number_id = %next.id))]
    async fn charge_number(
        &self,
        workspace_id: &str,
        current: &Versioned<PhoneNumber>,
        next: &PhoneNumber,
        fee: Option<&Charge>,
        events: &[Event],
    ) -> Result<Versioned<PhoneNumber>, StoreError> {
        let mut writes = self.update_writes(workspace_id, current, next, events)?;
        let renewal_day = |n: &PhoneNumber| {
            (n.status == NumberStatus::Active)
                .then_some(n.renews_at)
                .flatten()
                .map(|at| at.date_naive())
        };
        let (before, after) = (renewal_day(&current.value), renewal_day(next));
        if before != after {
            if let Some(day) = before {
                writes
                    .items
                    .push(self.tx_delete(&keys::renewal(day, workspace_id, &next.id), None, Item::new())?);
            }
            if let Some(day) = after {
                let mut item = key_map(&keys::renewal(day, workspace_id, &next.id));
                item.insert(keys::ENTITY.into(), s(entity::RENEWAL));
                item.insert("workspace_id".into(), s(workspace_id));
                item.insert("number_id".into(), s(&next.id));
                writes.items.push(self.tx_put(item, None, Item::new())?);
            }
        }
        let wallet_at = writes.items.len();
        if let Some(fee) = fee {
            writes.items.push(self.tx_update(
                &keys::wallet(workspace_id),
                "SET balance_minor = balance_minor - :fee, available_minor = available_minor - :fee, updated_at = :now",
                Some("available_minor >= :fee"),
                HashMap::from([
                    (":fee".to_owned(), n(fee.amount_minor)),
                    (":now".to_owned(), s(stamp(fee.at))),
                ]),
            )?);
            let entry = entry(
                &fee.entry_id,
                LedgerKind::NumberFee,
                -fee.amount_minor,
                &fee.description,
                fee.at,
            );
            writes.items.push(self.entry_put(workspace_id, &entry)?);
        }
        match self.transact(writes.items.clone()).await {
            Ok(()) => Ok(Versioned {
                value: next.clone(),
                version: current.version + 1,
            }),
            Err(e) if fee.is_some() && e.failed_at(wallet_at) => {
                Err(StoreError::Conflict(ErrorCode::InsufficientFunds))
            }
            Err(e) => Err(writes.error(e)),
        }
    }

    async fn due_renewals(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<(String, String)>, StoreError> {
        let mut due = Vec::new();
        let mut day = from;
        while day <= to {
            for item in self.query_all(&keys::renewal_partition(day), "").await? {
                if let (Some(ws), Some(id)) = (get_s(&item, "workspace_id"), get_s(&item, "number_id")) {
                    due.push((ws.to_owned(), id.to_owned()));
                }
            }
            let Some(next) = day.succ_opt() else { break };
            day = next;
        }
        Ok(due)
    }
}
