//! The wallet, its ledger, and the price of a call.
//!
//! Money moves in integer minor units (cents). The balance changes only with an entry of the
//! ledger, written in the same transaction: the sum of the ledger is the balance. A call holds
//! what it can cost before it is placed (its agent's longest call at the workspace's rate) and,
//! when it ends, is charged what it used (every started minute, never more than it held) while
//! the rest of the hold is released. `available = balance - held` never goes below zero.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::object_name;

object_name!(BalanceObject, "balance");
object_name!(LedgerEntryObject, "ledger_entry");
object_name!(PrecheckObject, "billing_precheck");
object_name!(UsageObject, "usage");
object_name!(QuotasObject, "quotas");
object_name!(SpendingControlsObject, "spending_controls");
object_name!(AutoChargeObject, "autocharge");

/// The currency of every wallet (one for now: prices are in US cents).
pub const CURRENCY: &str = "USD";
/// How long a new workspace may spend its trial credit without ever topping up.
pub const TRIAL_DAYS: i64 = 14;

/// A workspace's money, as `GET /v1/billing/balance` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Balance {
    pub object: BalanceObject,
    /// What the ledger adds up to.
    pub balance_minor: i64,
    /// Reserved by calls in progress; released as they end.
    pub held_minor: i64,
    /// What new calls may hold: `balance_minor - held_minor`.
    pub available_minor: i64,
    #[schema(example = "USD")]
    pub currency: String,
    /// Calls holding money now, across single calls and campaigns.
    pub active_calls: u32,
    /// Whether the workspace has ever topped up (a trial workspace has not).
    pub funded: bool,
    /// When an unfunded workspace's trial credit stops being spendable.
    pub trial_ends_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What keeps a workspace's spending in bounds, as `GET /v1/billing/spending-controls` shows it.
/// Premium-rate, shared-cost and other special-service numbers are refused whatever they say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SpendingControls {
    pub object: SpendingControlsObject,
    /// Countries (ISO 3166-1 alpha-2) calls may be placed to; at first, the workspace's own.
    #[schema(example = json!(["US"]))]
    pub allowed_countries: Vec<String>,
    /// The most calls may commit in one UTC day (charged, or held by calls in progress); `null`
    /// for no limit.
    pub daily_spend_limit_minor: Option<i64>,
    /// What calls have committed today (UTC).
    pub spent_today_minor: i64,
    #[schema(example = "USD")]
    pub currency: String,
    /// Whether the workspace's owner has verified their email: until then, calls are placed only
    /// through the telephony simulator.
    pub owner_verified: bool,
}

/// Charging the saved card when the balance runs low, as `POST /v1/billing/autocharge` sets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AutoCharge {
    pub object: AutoChargeObject,
    pub enabled: bool,
    /// When the available balance falls below this, `billing.low_balance` is sent (whether or
    /// not auto-charge is on) and, when it is on, one charge of `amount_minor` is started.
    pub threshold_minor: i64,
    pub amount_minor: i64,
    #[schema(example = "USD")]
    pub currency: String,
    /// Whether a card was saved by a paid top-up: auto-charge charges it.
    pub payment_method_saved: bool,
}

/// The wallet with its spending controls and auto-charge, read at one time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wallet {
    pub balance: Balance,
    pub controls: SpendingControls,
    pub autocharge: AutoCharge,
    /// The payment provider's customer whose saved card auto-charge uses.
    pub payment_customer: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    /// The credit a new workspace starts with.
    TrialCredit,
    /// Money paid in through the payment provider.
    TopUp,
    /// What a call cost, when it ended.
    CallCharge,
    /// Money charged to the saved card when the balance ran low.
    AutoCharge,
    /// A provisioned number's monthly fee.
    NumberFee,
}

impl LedgerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::TrialCredit => "trial_credit",
            LedgerKind::TopUp => "top_up",
            LedgerKind::CallCharge => "call_charge",
            LedgerKind::AutoCharge => "auto_charge",
            LedgerKind::NumberFee => "number_fee",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            LedgerKind::TrialCredit,
            LedgerKind::TopUp,
            LedgerKind::CallCharge,
            LedgerKind::AutoCharge,
            LedgerKind::NumberFee,
        ]
        .into_iter()
        .find(|k| k.as_str() == value)
    }
}

impl Balance {
    /// Whether an unfunded workspace's trial credit can no longer be spent at `now`.
    pub fn trial_over(&self, now: DateTime<Utc>) -> bool {
        !self.funded && self.trial_ends_at <= now
    }
}

/// One change of the balance. Entries are never changed or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LedgerEntry {
    #[schema(example = "led_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: LedgerEntryObject,
    pub kind: LedgerKind,
    /// Positive for credits, negative for charges.
    pub amount_minor: i64,
    #[schema(example = "USD")]
    pub currency: String,
    pub description: String,
    /// The call a charge is for.
    pub call_id: Option<String>,
    /// The payment provider's id of the payment a top-up is for.
    pub payment_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

resource!(LedgerEntry, LEDGER_ENTRY, LedgerEntryNotFound);

/// Whether the workspace may place calls now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrecheckStatus {
    Ok,
    InsufficientFunds,
    TrialExpired,
    AccountSuspended,
}

/// The answer of `GET /v1/billing/precheck`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Precheck {
    pub object: PrecheckObject,
    pub status: PrecheckStatus,
    /// What calls of `expected_seconds` cost at the workspace's rate.
    pub required_minor: i64,
    pub available_minor: i64,
    pub per_minute_minor: i64,
    #[schema(example = "USD")]
    pub currency: String,
}

/// What `seconds` of conversation cost at `per_minute_minor`: every started minute.
pub fn price(seconds: u32, per_minute_minor: i64) -> i64 {
    i64::from(seconds.div_ceil(60)) * per_minute_minor
}

/// How usage is broken down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UsageGroup {
    Day,
    Agent,
    Campaign,
}

/// The calls that ended on one day (UTC), of one agent or campaign when `key` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRecord {
    pub day: NaiveDate,
    pub key: Option<String>,
    pub calls: u64,
    pub minutes: u64,
    pub cost_minor: i64,
}

/// Calls, billed minutes and what they cost.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UsageTotals {
    pub calls: u64,
    pub minutes: u64,
    pub cost_minor: i64,
}

/// One line of usage: a day (`2026-12-01`), an agent id or a campaign id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UsageLine {
    pub key: String,
    #[serde(flatten)]
    pub totals: UsageTotals,
}

/// The answer of `GET /v1/billing/usage`: calls that ended from `from` to `to` (UTC days).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Usage {
    pub object: UsageObject,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub group_by: UsageGroup,
    #[schema(example = "USD")]
    pub currency: String,
    pub totals: UsageTotals,
    pub data: Vec<UsageLine>,
}

/// One limit of the plan and what the workspace uses of it (`used` is absent for limits that
/// are counted per credential and minute).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QuotaLine {
    #[schema(example = "agents")]
    pub name: String,
    pub limit: u64,
    pub used: Option<u64>,
    pub description: String,
}

/// The answer of `GET /v1/billing/quotas`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Quotas {
    pub object: QuotasObject,
    pub plan: super::Plan,
    /// Whose provider accounts the workspace's calls go through: with `byok`, a started minute
    /// costs the platform's fee alone.
    pub mode: super::ProviderMode,
    /// What a started minute of a call costs now, in cents.
    pub per_minute_minor: i64,
    pub data: Vec<QuotaLine>,
}
