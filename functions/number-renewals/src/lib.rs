//! `number-renewals`: once a day, charges each provisioned number whose month is over its next
//! month's fee. A number whose fee the wallet cannot pay is tried again each day and, after
//! seven days unpaid, released at the provider and here. A number that cannot be renewed or
//! released (its provider unreachable) is logged and tried again the next day; the run goes on.
//!
//! The numbers due are read from the renewal items of the days up to today (the days of a
//! week, so that a missed run loses nothing); each renewal is one conditional transaction
//! (the number at its version, its renewal moved, the fee with its ledger entry), so a run
//! that dies half-way, or two runs at once, charge each month once.

use std::sync::Arc;

use chrono::{DateTime, Duration, Months, Utc};
use serde::Serialize;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{NumberStatus, PAST_DUE_DAYS, PhoneNumber};
use switchboard_core::ports::{Charge, ProviderAccounts, Repository, Versioned, Wallets};
use switchboard_core::{ErrorCode, StoreError};
use switchboard_store::DynamoStore;

pub struct State {
    pub numbers: Arc<dyn Repository<PhoneNumber>>,
    pub wallets: Arc<dyn Wallets>,
    /// The platform's telephony, or the workspace's own account, which holds its numbers.
    pub providers: Arc<dyn ProviderAccounts>,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn state(store: &DynamoStore, providers: Arc<dyn ProviderAccounts>) -> State {
    State {
        numbers: Arc::new(store.clone()),
        wallets: Arc::new(store.clone()),
        providers,
    }
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Renewals {
    pub charged: u32,
    pub past_due: u32,
    pub released: u32,
    /// Numbers that could not be renewed or released this run (logged); each is tried again
    /// the next day.
    pub failed: u32,
}

/// Renews every number due at `now`.
pub async fn run(state: &State, now: DateTime<Utc>) -> anyhow::Result<Renewals> {
    renew_due(state, due(state, now).await?, now).await
}

/// The numbers whose renewal falls on the days up to `now`: `(workspace, number id)`.
pub async fn due(state: &State, now: DateTime<Utc>) -> anyhow::Result<Vec<(String, String)>> {
    let today = now.date_naive();
    Ok(state
        .wallets
        .due_renewals(today - Duration::days(PAST_DUE_DAYS), today)
        .await?)
}

/// Renews those of the numbers `due` that are due at `now`.
pub async fn renew_due(state: &State, due: Vec<(String, String)>, now: DateTime<Utc>) -> anyhow::Result<Renewals> {
    let mut done = Renewals::default();
    for (ws, number_id) in due {
        let Some(number) = state.numbers.get(&ws, &number_id).await? else {
            continue;
        };
        let due_now = number.value.status == NumberStatus::Active && number.value.renews_at.is_some_and(|at| at <= now);
        // One number's failure (its provider unreachable, its credential gone) is no reason to
        // leave the others unrenewed.
        if due_now && let Err(error) = renew(state, &ws, number, now, &mut done).await {
            tracing::error!(workspace_id = %ws, number_id = %number_id, error = %error, "number renewal failed");
            done.failed += 1;
        }
    }
    Ok(done)
}

async fn renew(
    state: &State,
    ws: &str,
    number: Versioned<PhoneNumber>,
    now: DateTime<Utc>,
    done: &mut Renewals,
) -> anyhow::Result<()> {
    let current = &number.value;
    let at = switchboard_core::clock::api_time(now);
    let paid = PhoneNumber {
        renews_at: current.renews_at.map(|due| due + Months::new(1)),
        past_due_since: None,
        updated_at: at,
        ..current.clone()
    };
    let fee = Charge {
        amount_minor: current.monthly_fee_minor,
        entry_id: ids::new_id_at(prefix::LEDGER_ENTRY, now),
        description: format!("Number {}: monthly fee", current.id),
        at: now,
    };
    match state.wallets.charge_number(ws, &number, &paid, Some(&fee), &[]).await {
        Ok(_) => done.charged += 1,
        Err(StoreError::Conflict(ErrorCode::InsufficientFunds)) => {
            let since = current.past_due_since.unwrap_or(at);
            let released = if at - since >= Duration::days(PAST_DUE_DAYS) {
                let release = async {
                    let telephony = state.providers.telephony(ws).await?;
                    anyhow::Ok(telephony.release_number(current).await?)
                };
                match release.await {
                    Ok(()) => true,
                    // Left due tomorrow, so that the release is tried again.
                    Err(error) => {
                        tracing::error!(workspace_id = %ws, number_id = %current.id, error = %error, "releasing an unpaid number failed");
                        done.failed += 1;
                        false
                    }
                }
            } else {
                done.past_due += 1;
                false
            };
            let next = if released {
                done.released += 1;
                current.clone().released(now)
            } else {
                PhoneNumber {
                    renews_at: Some(at + Duration::days(1)),
                    past_due_since: Some(since),
                    updated_at: at,
                    ..current.clone()
                }
            };
            state.wallets.charge_number(ws, &number, &next, None, &[]).await?;
        }
        // Renewed by another run meanwhile.
        Err(StoreError::VersionMismatch) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
