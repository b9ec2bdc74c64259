//! The wallet. Its ledger is a collection of resources (`Repository<LedgerEntry>`), written
//! only here. The store keeps the invariants in its transactions: a balance
//! change and its ledger entry are written together, a hold never takes the available balance
//! below zero, and a hold is settled once.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use crate::error::StoreError;
use crate::model::{Balance, Call, Event, LedgerKind, UsageGroup, UsageRecord};
use crate::ports::Versioned;

/// What a new call reserves on its workspace's wallet.
#[derive(Debug, Clone)]
pub struct Hold {
    pub amount_minor: i64,
    /// The plan's cap on calls in progress at once, across single calls and campaigns.
    pub max_active_calls: u32,
    pub at: DateTime<Utc>,
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
    pub at: DateTime<Utc>,
}

#[async_trait]
pub trait Wallets: Send + Sync {
    async fn balance(&self, workspace_id: &str) -> Result<Option<Balance>, StoreError>;
    /// Records a new call with its hold, in one transaction. Refused with
    /// `Conflict(InsufficientFunds | TrialExpired | ConcurrencyLimitReached | AccountInactive)`.
    async fn insert_held_call(
        &self,
        workspace_id: &str,
        call: &Call,
        hold: &Hold,
    ) -> Result<Versioned<Call>, StoreError>;
    /// What the call holds, if its hold is not settled yet.
    async fn held_for(&self, workspace_id: &str, call_id: &str) -> Result<Option<i64>, StoreError>;
    /// Replaces `previous` (if still at its version) by its final state with `events`, and
    /// settles its hold of `held_minor`: charges `charge` and releases the rest, and counts the
    /// call in the usage of the day (by day, agent and campaign), in one transaction.
    /// `VersionMismatch` when the call or the hold changed meanwhile.
    async fn end_held_call(
        &self,
        workspace_id: &str,
        previous: &Versioned<Call>,
        value: &Call,
        events: &[Event],
        held_minor: i64,
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
    /// Credits a payment with its ledger entry and `events`; `false` when this payment was
    /// credited before (and nothing is written).
    async fn credit(&self, workspace_id: &str, credit: &Credit, events: &[Event]) -> Result<bool, StoreError>;
}
