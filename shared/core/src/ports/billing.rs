//! The wallet. Its ledger is a collection of resources (`Repository<LedgerEntry>`), written
//! only here. The store keeps the invariants in its transactions: a balance
//! change and its ledger entry are written together, a hold never takes the available balance
//! below zero, and a hold is settled once.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use crate::ErrorCode;
use crate::error::StoreError;
use crate::model::{
    AutoCharge, Call, Event, LedgerKind, PhoneNumber, SpendingControls, UsageGroup, UsageRecord, Wallet,
};
use crate::ports::Versioned;

/// What a new call reserves on its workspace's wallet.
#[derive(Debug, Clone)]
pub struct Hold {
    pub amount_minor: i64,
    /// The plan's cap on calls in progress at once, across single calls and campaigns.
    pub max_active_calls: u32,
    /// The country an outbound call goes to, which the controls must allow.
    pub destination_country: Option<String>,
    /// Whether the call goes through a real telephony provider, which only workspaces whose
    /// owner verified their email may use.
    pub live: bool,
    pub at: DateTime<Utc>,
}

/// What a call in progress holds, and what its wallet had available when it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldCall {
    pub amount_minor: i64,
    pub placed_at: DateTime<Utc>,
    pub available_minor: i64,
    /// The low-balance threshold to watch for, unless the wallet is already noted low.
    pub low_balance_threshold_minor: Option<i64>,
}

/// How auto-charge should be; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AutoChargeChange {
    pub enabled: Option<bool>,
    pub threshold_minor: Option<i64>,
    pub amount_minor: Option<i64>,
}

/// A change of the spending controls; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ControlsChange {
    pub allowed_countries: Option<Vec<String>>,
    /// `Some(None)` removes the limit.
    pub daily_spend_limit_minor: Option<Option<i64>>,
}

/// Why `wallet` cannot take `hold`, if it cannot; the first rule broken, in the order a user
/// can act on them.
pub fn refusal(wallet: &Wallet, hold: &Hold) -> Option<ErrorCode> {
    let (balance, controls) = (&wallet.balance, &wallet.controls);
    let code = if balance.trial_over(hold.at) {
        ErrorCode::TrialExpired
    } else if hold.live && !controls.owner_verified {
        ErrorCode::EmailNotVerified
    } else if hold
        .destination_country
        .as_ref()
        .is_some_and(|country| !controls.allowed_countries.contains(country))
    {
        ErrorCode::DestinationNotAllowed
    } else if balance.active_calls >= hold.max_active_calls {
        ErrorCode::ConcurrencyLimitReached
    } else if balance.available_minor < hold.amount_minor {
        ErrorCode::InsufficientFunds
    } else if controls
        .daily_spend_limit_minor
        .is_some_and(|limit| limit - controls.spent_today_minor < hold.amount_minor)
    {
        ErrorCode::DailySpendLimitReached
    } else {
        return None;
    };
    Some(code)
}

/// What an ending call is charged: at most what it held; the rest of the hold is released.
#[derive(Debug, Clone)]
pub struct Charge {
    pub amount_minor: i64,
    pub entry_id: String,
    pub description: String,
    pub at: DateTime<Utc>,
}

/// Money paid in, credited once per payment.
#[derive(Debug, Clone)]
pub struct Credit {
    pub kind: LedgerKind,
    pub amount_minor: i64,
    pub entry_id: String,
    pub description: String,
    /// The provider's id of the payment: a second credit with it changes nothing.
    pub payment_id: String,
    /// The provider's customer whose card the payment saved, kept for auto-charge.
    pub customer: Option<String>,
    pub at: DateTime<Utc>,
}

#[async_trait]
pub trait Wallets: Send + Sync {
    /// The wallet as it is at `now` (what was spent today depends on the day).
    async fn wallet(&self, workspace_id: &str, now: DateTime<Utc>) -> Result<Option<Wallet>, StoreError>;
    /// Changes the spending controls; the controls as they now are.
    async fn set_spending_controls(
        &self,
        workspace_id: &str,
        change: &ControlsChange,
        now: DateTime<Utc>,
    ) -> Result<SpendingControls, StoreError>;
    /// Records a new call with its hold, in one transaction. Refused with `Conflict` of the
    /// code [`refusal`] gives, or `AccountInactive`; nothing is written then.
    async fn insert_held_call(
        &self,
        workspace_id: &str,
        call: &Call,
        hold: &Hold,
    ) -> Result<Versioned<Call>, StoreError>;
    /// What the call holds, if its hold is not settled yet.
    async fn held_for(&self, workspace_id: &str, call_id: &str) -> Result<Option<HeldCall>, StoreError>;
    /// The call with what it holds (as `held_for` tells), in one read: all that ending it
    /// needs. `None` when there is no such call.
    async fn held_call(
        &self,
        workspace_id: &str,
        call_id: &str,
    ) -> Result<Option<(Versioned<Call>, Option<HeldCall>)>, StoreError>;
    /// Replaces `previous` (if still at its version) by its final state with `events`, and
    /// settles its hold `held`: charges `charge` and releases the rest, and counts the
    /// call in the usage of the day (by day, agent and campaign), in one transaction.
    /// `VersionMismatch` when the call or the hold changed meanwhile.
    async fn end_held_call(
        &self,
        workspace_id: &str,
        previous: &Versioned<Call>,
        value: &Call,
        events: &[Event],
        held: HeldCall,
        charge: &Charge,
    ) -> Result<Versioned<Call>, StoreError>;
    /// The usage of the days `from..=to` (UTC), a record per day, or per day and agent or
    /// campaign.
    async fn usage(
        &self,
        workspace_id: &str,
        group: UsageGroup,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<UsageRecord>, StoreError>;
    /// Credits a payment with its ledger entry and `events`, and ends the wallet's low-balance
    /// state (the next fall below the threshold is a new crossing); `false` when this payment
    /// was credited before (and nothing is written).
    async fn credit(&self, workspace_id: &str, credit: &Credit, events: &[Event]) -> Result<bool, StoreError>;
    /// Changes auto-charge; turning it on without a saved card is `Conflict(PaymentMethodRequired)`.
    async fn set_autocharge(
        &self,
        workspace_id: &str,
        change: &AutoChargeChange,
        now: DateTime<Utc>,
    ) -> Result<AutoCharge, StoreError>;
    /// Writes `next` in place of the number `current` (at its version), moves its renewal to
    /// the day of `next.renews_at` (none once released), and charges `fee` with its ledger
    /// entry, in one transaction; with a fee, refused as `Conflict(InsufficientFunds)` when the
    /// available balance cannot pay it, and nothing is written.
    async fn charge_number(
        &self,
        workspace_id: &str,
        current: &Versioned<PhoneNumber>,
        next: &PhoneNumber,
        fee: Option<&Charge>,
        events: &[Event],
    ) -> Result<Versioned<PhoneNumber>, StoreError>;
    /// The numbers whose renewal falls on the days `from..=to`: `(workspace, number id)`.
    async fn due_renewals(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<(String, String)>, StoreError>;
    /// Notes that the available balance fell below the low-balance threshold, with `event`,
    /// unless it was noted since the last credit: `true` for the one caller that noted it.
    async fn note_low_balance(&self, workspace_id: &str, event: &Event) -> Result<bool, StoreError>;
}
