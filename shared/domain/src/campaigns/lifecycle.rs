//! The life of a campaign: draft, scheduled, active, paused, completed or cancelled, and the
//! moves between them that users ask for (start, pause, resume, cancel). The dialer makes the
//! others itself (a scheduled campaign starting, a finished one completing, one pausing itself).

use chrono::{DateTime, Utc};
use switchboard_core::model::{Campaign, CampaignStatus, Event, EventType, NumberStatus, Plan};
use switchboard_core::ports::{Hold, Versioned, refusal};
use switchboard_core::{Error, ErrorCode, StoreError};

use super::Dialer;
use crate::calls::hold_for;

/// A move a user asks of a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Start,
    Pause,
    Resume,
    Cancel,
}

/// A campaign's status in the words of messages (`active`).
fn name(status: CampaignStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The refusal of a change the campaign's status does not allow.
pub fn state_conflict(message: impl Into<std::borrow::Cow<'static, str>>) -> Error {
    Error::refused(ErrorCode::CampaignStateConflict, message)
}

/// Settings can change while a campaign is a draft or paused.
pub fn editable(campaign: &Campaign) -> Result<(), Error> {
    match campaign.status {
        CampaignStatus::Draft | CampaignStatus::Paused => Ok(()),
        status => Err(state_conflict(format!(
            "A campaign that is {} cannot be edited; pause it first.",
            name(status)
        ))),
    }
}

impl Dialer {
    /// Moves a campaign to `status` (from what it is now), with its event.
    pub async fn set_status(
        &self,
        ws: &str,
        current: &Versioned<Campaign>,
        status: CampaignStatus,
        event: Option<EventType>,
        now: DateTime<Utc>,
    ) -> Result<Versioned<Campaign>, StoreError> {
        let at = switchboard_core::clock::api_time(now);
        let mut next = current.value.clone();
        next.status = status;
        next.updated_at = at;
        match status {
            CampaignStatus::Active if next.started_at.is_none() => next.started_at = Some(at),
            CampaignStatus::Completed | CampaignStatus::Cancelled => next.completed_at = Some(at),
            _ => {}
        }
        if status != CampaignStatus::Paused {
            next.paused_reason = None;
        }
        let events: Vec<Event> = event.into_iter().map(|e| Event::new(e, at, &next)).collect();
        self.campaigns.update(ws, current, &next, &events).await
    }

    /// What keeps a campaign from starting.
    pub async fn missing(&self, ws: &str, campaign: &Campaign) -> Result<Vec<&'static str>, Error> {
        let mut missing = Vec::new();
        let stats = self.stats(ws, &campaign.id).await?;
        if stats.chunks_pending > 0 {
            missing.push("the end of its audience import (GET /v1/campaigns/{id}/imports/{import_id})");
        } else if stats.pending == 0 {
            missing.push("an audience with targets to call (POST /v1/campaigns/{id}/audience)");
        }
        if campaign.compliance.is_none() {
            missing.push("a consent attestation (PUT /v1/campaigns/{id}/compliance)");
        }
        let agent = self.agents.get(ws, &campaign.agent_id).await?;
        if !agent.is_some_and(|a| a.value.is_active) {
            missing.push("an active agent");
        }
        let number = self.numbers.get(ws, &campaign.phone_number_id).await?;
        if !number.is_some_and(|n| n.value.status == NumberStatus::Active) {
            missing.push("an active phone number");
        }
        if campaign.call_window.bounds().is_none() {
            missing.push("a call window that opens");
        }
        Ok(missing)
    }

    /// Refuses to start (or resume) a campaign whose wallet cannot hold its first wave: as many
    /// calls as it places at once (or has targets for), each held at its agent's longest call.
    async fn first_wave_paid(&self, ws: &str, campaign: &Campaign, now: DateTime<Utc>) -> Result<(), Error> {
        let Some(agent) = self.agents.get(ws, &campaign.agent_id).await? else {
            return Ok(());
        };
        let plan = self.accounts.get_workspace(ws).await?.map_or(Plan::Starter, |w| w.plan);
        let pending = self.stats(ws, &campaign.id).await?.pending;
        let wave = u64::from(campaign.max_concurrent_calls).min(pending).max(1);
        let mode = self.providers.mode(ws).await?;
        let needed = hold_for(&agent.value, plan, mode, now).amount_minor * i64::try_from(wave).unwrap_or(i64::MAX);
        let wave_hold = Hold {
            amount_minor: needed,
            // Calls in progress elsewhere do not keep a campaign from starting: its calls wait.
            max_active_calls: u32::MAX,
            live: self.providers.telephony(ws).await?.is_live(),
            ..hold_for(&agent.value, plan, mode, now)
        };
        let Some(wallet) = self.wallets.wallet(ws, now).await? else {
            return Err(Error::refused(
                ErrorCode::InsufficientFunds,
                "This workspace has no wallet.",
            ));
        };
        let Some(code) = refusal(&wallet, &wave_hold) else {
            return Ok(());
        };
        let message = match code {
            ErrorCode::TrialExpired => {
                "The trial is over: top up (POST /v1/billing/topup) to start campaigns.".to_owned()
            }
            ErrorCode::InsufficientFunds => format!(
                "The first {wave} calls of this campaign may cost up to {needed} cents (each held at its agent's \
                 max_call_duration); {} are available. Top up, lower max_concurrent_calls, or shorten the agent's calls.",
                wallet.balance.available_minor
            ),
            ErrorCode::DailySpendLimitReached => format!(
                "The first {wave} calls of this campaign may cost up to {needed} cents; today's spend limit allows {} \
                 more. Raise daily_spend_limit_minor (PATCH /v1/billing/spending-controls) or start it tomorrow (UTC).",
                wallet
                    .controls
                    .daily_spend_limit_minor
                    .map_or(0, |limit| limit - wallet.controls.spent_today_minor)
            ),
            code => code.description().to_owned(),
        };
        Err(Error::refused(code, message))
    }

    /// Moves the campaign as a user asked, and has the dialer take it from there; the campaign
    /// as it now is (as it was, when it was there already).
    pub async fn move_campaign(
        &self,
        ws: &str,
        current: Versioned<Campaign>,
        to: Move,
        now: DateTime<Utc>,
    ) -> Result<Versioned<Campaign>, Error> {
        let status = current.value.status;
        let (next, event, tick) = match (to, status) {
            (Move::Start, CampaignStatus::Draft) => {
                let missing = self.missing(ws, &current.value).await?;
                if !missing.is_empty() {
                    return Err(Error::refused(
                        ErrorCode::CampaignNotReady,
                        format!("The campaign cannot start without {}.", missing.join(", ")),
                    ));
                }
                self.first_wave_paid(ws, &current.value, now).await?;
                match current.value.scheduled_start {
                    Some(start) if start > now => (CampaignStatus::Scheduled, None, Some(Some(start))),
                    _ => (CampaignStatus::Active, Some(EventType::CampaignStarted), Some(None)),
                }
            }
            (Move::Resume, CampaignStatus::Paused) => {
                if self.stats(ws, &current.value.id).await?.chunks_pending > 0 {
                    return Err(Error::refused(
                        ErrorCode::CampaignNotReady,
                        "The campaign resumes once its audience import has finished.",
                    ));
                }
                self.first_wave_paid(ws, &current.value, now).await?;
                (CampaignStatus::Active, None, Some(None))
            }
            (Move::Pause, CampaignStatus::Active | CampaignStatus::Scheduled) => {
                (CampaignStatus::Paused, Some(EventType::CampaignPaused), None)
            }
            (Move::Cancel, s) if !s.is_final() => (CampaignStatus::Cancelled, None, None),
            // Asked again: nothing to do.
            (Move::Start, CampaignStatus::Active | CampaignStatus::Scheduled)
            | (Move::Resume, CampaignStatus::Active)
            | (Move::Pause, CampaignStatus::Paused)
            | (Move::Cancel, CampaignStatus::Cancelled) => return Ok(current),
            (_, s) => {
                return Err(state_conflict(format!(
                    "A campaign that is {} cannot be moved that way.",
                    name(s)
                )));
            }
        };
        let moved = self
            .set_status(ws, &current, next, event, now)
            .await
            .map_err(|e| match e {
                StoreError::VersionMismatch => Error::refused(
                    ErrorCode::ConcurrentModification,
                    "The campaign changed meanwhile; read it and try again.",
                ),
                e => e.into(),
            })?;
        if let Some(at) = tick {
            self.queue_tick(ws, &moved.value.id, at).await?;
        }
        Ok(moved)
    }
}
