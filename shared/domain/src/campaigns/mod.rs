//! The dialer: what a campaign's ticks do, and what becomes of its targets when their calls end.
//!
//! A tick (a message of the dialer queue) reclaims the slots of calls that overstayed their
//! lease, then claims free slots for the targets that are due, a batch at a time in one
//! transaction with the campaign's counters (no target is claimed twice, no slot counted twice),
//! and dials them, several at once. A target is claimed before its call is placed, with the
//! call's id: a worker that stops between the two leaves a lease that runs out, and the next
//! tick finds no call under that id and puts the target back. Calls that end settle their target
//! (completed, failed, or pending again for a retry) and free the slot through `call_ended`,
//! which queues a tick to refill it. Targets outside their call window are deferred to its next
//! opening (in the callee's time zone, so DST moves it), and numbers on a do-not-call list, a
//! registry or in a cool-down are skipped when their turn comes, whenever they were added. The
//! next tick is scheduled at the earliest due target or lease end, through chained SQS delays;
//! when no target is pending and no call is in flight, the campaign is completed.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::stream::{self, StreamExt};

use switchboard_core::clock::Clock;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{
    Agent, Call, CallStatus, Campaign, CampaignStatus, Event, EventType, PhoneNumber, Plan, Target, TargetStatus,
    callee_zone,
};
use switchboard_core::ports::{
    AccountStore, CallQueue, CampaignStore, Claim, DialerJob, DialerQueue, DncStore, MAX_CLAIM_BATCH, MAX_DELAY,
    ProviderAccounts, Repository, Settlement, Versioned, Wallets,
};
use switchboard_core::{Error, ErrorCode, StoreError, validate};

use crate::calls::{self, CallBook, NewCall, StatusReport};

mod audience;
mod lifecycle;
mod rule_book;

pub use self::audience::{AudienceRow, MAX_ROW_BYTES, SYNC_AUDIENCE, normalize_rows};
pub use self::lifecycle::{Move, editable, state_conflict};
pub use self::rule_book::{rule_book, rule_book_problems};

/// How long past its agent's `max_call_duration` a call may hold its slot before the dialer
/// takes it back.
pub const LEASE_GRACE: Duration = Duration::seconds(120);
/// A tick due this long ago that has not run counts as lost: another is queued in its place.
const TICK_LOST_AFTER: Duration = Duration::minutes(2);
/// Due targets a tick looks at, at most.
const TICK_BATCH: u32 = 100;
/// Expired leases a tick reclaims, at most.
const RECLAIM_BATCH: u32 = 25;
/// Calls a tick places at once.
const DIAL_CONCURRENCY: usize = 16;
/// Tries at claiming a batch whose targets or slots others took meanwhile.
const CLAIM_ATTEMPTS: usize = 5;
/// How long a target waits when the wallet could not hold its call for now (money held by
/// calls in progress, the plan's cap on calls at once).
const HOLD_RETRY: Duration = Duration::seconds(30);

pub struct Dialer {
    pub campaigns: Arc<dyn Repository<Campaign>>,
    pub store: Arc<dyn CampaignStore>,
    pub agents: Arc<dyn Repository<Agent>>,
    pub numbers: Arc<dyn Repository<PhoneNumber>>,
    pub accounts: Arc<dyn AccountStore>,
    pub dnc: Arc<dyn DncStore>,
    pub calls: Arc<dyn Repository<Call>>,
    pub wallets: Arc<dyn Wallets>,
    /// The platform's telephony, or each workspace's own account.
    pub providers: Arc<dyn ProviderAccounts>,
    pub call_jobs: Arc<dyn CallQueue>,
    pub jobs: Arc<dyn DialerQueue>,
    pub clock: Clock,
}

/// What a target becomes once its call ended with `outcome`.
pub fn after_call(campaign: &Campaign, target: &Target, outcome: CallStatus, now: DateTime<Utc>) -> Target {
    let at = switchboard_core::clock::api_time(now);
    let policy = &campaign.retry_policy;
    let retry =
        outcome != CallStatus::Completed && policy.retry_on.contains(&outcome) && target.attempts < policy.max_attempts;
    let status = match outcome {
        CallStatus::Completed => TargetStatus::Completed,
        _ if retry => TargetStatus::Pending,
        _ => TargetStatus::Failed,
    };
    Target {
        status,
        lease_until: None,
        last_outcome: Some(outcome),
        next_attempt_at: if retry {
            at + Duration::seconds(i64::from(policy.retry_delay_seconds))
        } else {
            target.next_attempt_at
        },
        updated_at: at,
        ..target.clone()
    }
}

impl Dialer {
    fn book(&self) -> CallBook<'_> {
        CallBook {
            calls: self.calls.as_ref(),
            wallets: self.wallets.as_ref(),
            jobs: self.call_jobs.as_ref(),
        }
    }

    /// Does one job of the dialer queue.
    pub async fn run(&self, job: &DialerJob) -> Result<(), Error> {
        match job {
            DialerJob::Tick {
                workspace_id,
                campaign_id,
                not_before,
            } => self.tick(workspace_id, campaign_id, *not_before).await,
            DialerJob::ImportChunk {
                workspace_id,
                campaign_id,
                import_id,
                chunk,
            } => self.import_chunk(workspace_id, campaign_id, import_id, *chunk).await,
        }
    }

    /// Queues a tick of the campaign for `at` (now when `None`) unless one is queued for no
    /// later already: the ends of a burst of calls share one tick.
    pub async fn queue_tick(&self, ws: &str, campaign_id: &str, at: Option<DateTime<Utc>>) -> Result<(), Error> {
        let now = self.clock.now();
        self.schedule(ws, campaign_id, at.unwrap_or(now).max(now), now).await
    }

    async fn campaign(&self, ws: &str, campaign_id: &str) -> Result<Option<Versioned<Campaign>>, Error> {
        Ok(self.campaigns.get(ws, campaign_id).await?)
    }

    async fn tick(&self, ws: &str, campaign_id: &str, not_before: i64) -> Result<(), Error> {
        let now = self.clock.now();
        if not_before > now.timestamp() {
            // Longer than SQS can wait at once: chained.
            let at = DateTime::from_timestamp(not_before, 0).unwrap_or(now);
            return self.queue_tick_at(ws, campaign_id, at).await;
        }
        if not_before > 0 {
            self.store.tick_ran(ws, campaign_id, not_before).await?;
        }
        let Some(mut current) = self.campaign(ws, campaign_id).await? else {
            return Ok(());
        };
        if current.value.status == CampaignStatus::Scheduled {
            match current.value.scheduled_start {
                Some(start) if start > now => return self.schedule(ws, campaign_id, start, now).await,
                _ => {
                    current = match self
                        .set_status(
                            ws,
                            &current,
                            CampaignStatus::Active,
                            Some(EventType::CampaignStarted),
                            now,
                        )
                        .await
                    {
                        Ok(started) => started,
                        // Changed meanwhile (paused, cancelled): the next tick sees it.
                        Err(StoreError::VersionMismatch) => return Ok(()),
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        if current.value.status != CampaignStatus::Active {
            return Ok(());
        }
        let campaign = &current.value;
        self.reclaim(ws, campaign, now).await?;
        let stats = self.stats(ws, campaign_id).await?;
        let free = u64::from(campaign.max_concurrent_calls).saturating_sub(stats.in_flight);
        if free > 0 && stats.pending > 0 {
            self.dial_due(ws, campaign, free, now).await?;
        }
        self.plan_next(ws, &current, now).await
    }

    pub async fn stats(&self, ws: &str, campaign_id: &str) -> Result<switchboard_core::model::CampaignStats, Error> {
        Ok(self
            .store
            .stats(ws, &[campaign_id.to_owned()])
            .await?
            .remove(campaign_id)
            .unwrap_or_default())
    }

    /// Claims up to `free` slots for the targets that are due, and dials them.
    async fn dial_due(&self, ws: &str, campaign: &Campaign, free: u64, now: DateTime<Utc>) -> Result<(), Error> {
        let due = self
            .store
            .due_targets(
                ws,
                &campaign.id,
                TargetStatus::Pending,
                now,
                TICK_BATCH.min(free as u32 * 2).max(10),
            )
            .await?;
        if due.is_empty() {
            return Ok(());
        }
        let phones: Vec<String> = due.iter().map(|t| t.phone.clone()).collect();
        let screened = self.dnc.screen(ws, &phones, now).await?;
        let Some(agent) = self.agents.get(ws, &campaign.agent_id).await?.map(|a| a.value) else {
            return self.pause_itself(ws, &campaign.id, "agent_deleted", now).await;
        };
        let Some(number) = self.numbers.get(ws, &campaign.phone_number_id).await?.map(|n| n.value) else {
            return self.pause_itself(ws, &campaign.id, "number_deleted", now).await;
        };
        let plan = self.accounts.get_workspace(ws).await?.map_or(Plan::Starter, |w| w.plan);
        let allowed_countries = self
            .wallets
            .wallet(ws, now)
            .await?
            .map(|w| w.controls.allowed_countries)
            .unwrap_or_default();
        let at = switchboard_core::clock::api_time(now);
        let mut ready = Vec::new();
        for target in due {
            if ready.len() as u64 == free {
                break;
            }
            // Numbers the workspace may never call are skipped whatever the time.
            let destination = validate::destination(&target.phone);
            let not_allowed = if destination.special_service.is_some() {
                Some(ErrorCode::SpecialServiceNumber)
            } else if !destination
                .country
                .as_ref()
                .is_some_and(|c| allowed_countries.contains(c))
            {
                Some(ErrorCode::DestinationNotAllowed)
            } else {
                None
            };
            if let Some(code) = not_allowed {
                let next = Target {
                    status: TargetStatus::Skipped,
                    skip_reason: Some(code.as_str().into()),
                    updated_at: at,
                    ..target.clone()
                };
                self.store.skip(ws, &target, &next).await?;
                continue;
            }
            let zone = callee_zone(&target, campaign);
            if !campaign.call_window.contains(now, zone) {
                // Deferred to the window's next opening in the callee's zone; a window that
                // never opens leaves the target where it is (the campaign cannot start with one).
                if let Some(open) = campaign.call_window.next_open(now, zone) {
                    let next = Target {
                        next_attempt_at: open,
                        updated_at: at,
                        ..target.clone()
                    };
                    self.store.defer(ws, &target, &next).await?;
                }
                continue;
            }
            let screening = screened.get(&target.phone).cloned().unwrap_or_default();
            let refused = if screening.on_dnc {
                Some("dnc")
            } else if screening.on_registry {
                Some("registry")
            } else if !screening.allows(Some(&campaign.id)) {
                Some("cooldown")
            } else {
                None
            };
            if let Some(reason) = refused {
                let next = Target {
                    status: TargetStatus::Skipped,
                    skip_reason: Some(reason.into()),
                    updated_at: at,
                    ..target.clone()
                };
                self.store.skip(ws, &target, &next).await?;
                continue;
            }
            let claimed = Target {
                status: TargetStatus::Dialing,
                attempts: target.attempts + 1,
                lease_until: Some(at + Duration::seconds(i64::from(agent.max_call_duration)) + LEASE_GRACE),
                last_call_id: Some(ids::new_id_at(prefix::CALL, now)),
                updated_at: at,
                ..target.clone()
            };
            ready.push((target, claimed));
        }
        for batch in ready.chunks(MAX_CLAIM_BATCH) {
            let (claimed, slots_left) = self.claim(ws, campaign, batch.to_vec()).await?;
            let placed: Vec<Result<Option<ErrorCode>, Error>> = stream::iter(claimed)
                .map(|target| self.dial(ws, campaign, &agent, &number, plan, target, now))
                .buffer_unordered(DIAL_CONCURRENCY)
                .collect()
                .await;
            let refusals: Vec<ErrorCode> = placed
                .into_iter()
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .flatten()
                .collect();
            if !refusals.is_empty() {
                return self.wallet_refused(ws, campaign, &agent, plan, &refusals, now).await;
            }
            if !slots_left {
                break;
            }
        }
        Ok(())
    }

    /// The wallet refused to hold calls of this tick: the campaign pauses itself when no money
    /// will come back from calls in progress, or for a refusal only its user can lift (trial
    /// over, owner's email not verified, daily limit spent); else its targets wait.
    async fn wallet_refused(
        &self,
        ws: &str,
        campaign: &Campaign,
        agent: &Agent,
        plan: Plan,
        refusals: &[ErrorCode],
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        // Refusals no call ending will lift: the campaign waits for its user.
        let lasting = [
            ErrorCode::TrialExpired,
            ErrorCode::EmailNotVerified,
            ErrorCode::DailySpendLimitReached,
            ErrorCode::ProviderCredentialMissing,
        ];
        if let Some(code) = lasting.into_iter().find(|code| refusals.contains(code)) {
            return self.pause_itself(ws, &campaign.id, code.as_str(), now).await;
        }
        if refusals.contains(&ErrorCode::InsufficientFunds) {
            let mode = self.providers.mode(ws).await?;
            let needed = calls::hold_for(agent, plan, mode, now).amount_minor;
            let balance = self
                .wallets
                .wallet(ws, now)
                .await?
                .map_or(0, |w| w.balance.balance_minor);
            if balance < needed {
                return self.pause_itself(ws, &campaign.id, "insufficient_funds", now).await;
            }
        }
        Ok(())
    }

    /// Claims what it can of `batch` (targets as read, and claimed): the claimed targets, and
    /// whether slots may be left for more.
    async fn claim(
        &self,
        ws: &str,
        campaign: &Campaign,
        mut batch: Vec<(Target, Target)>,
    ) -> Result<(Vec<Target>, bool), Error> {
        for _ in 0..CLAIM_ATTEMPTS {
            if batch.is_empty() {
                return Ok((Vec::new(), true));
            }
            match self.store.claim(ws, &batch, campaign.max_concurrent_calls).await? {
                Claim::Claimed => return Ok((batch.into_iter().map(|(_, claimed)| claimed).collect(), true)),
                Claim::Taken(taken) => {
                    let mut index = 0;
                    batch.retain(|_| {
                        index += 1;
                        !taken.contains(&(index - 1))
                    });
                }
                // Slots were taken since the tick counted them: claim as many as are free.
                Claim::NoSlot => {
                    let in_flight = self.stats(ws, &campaign.id).await?.in_flight;
                    let free = u64::from(campaign.max_concurrent_calls).saturating_sub(in_flight);
                    if free == 0 {
                        return Ok((Vec::new(), false));
                    }
                    batch.truncate(free as usize);
                }
            }
        }
        Ok((Vec::new(), false))
    }

    /// Places the call of a claimed target; the code of the wallet's refusal to hold it, when
    /// it did (the target then waits again, unclaimed).
    #[allow(clippy::too_many_arguments)]
    async fn dial(
        &self,
        ws: &str,
        campaign: &Campaign,
        agent: &Agent,
        number: &PhoneNumber,
        plan: Plan,
        target: Target,
        now: DateTime<Utc>,
    ) -> Result<Option<ErrorCode>, Error> {
        self.dnc.start_cooldown(ws, &target.phone, &campaign.id, now).await?;
        let placed = async {
            let telephony = self.providers.telephony(ws).await?;
            let mode = self.providers.mode(ws).await?;
            let mut record = NewCall {
                direction: switchboard_core::model::Direction::Outbound,
                agent,
                number,
                remote: target.phone.clone(),
                contact_id: target.contact_id.clone(),
                campaign_id: Some(campaign.id.clone()),
                metadata: BTreeMap::from([("target_id".to_owned(), target.id.clone())]),
                plan,
                mode,
                provider: telephony.provider().to_owned(),
                provider_call_id: None,
            }
            .record(now);
            if let Some(call_id) = &target.last_call_id {
                record.id = call_id.clone();
            }
            let hold = calls::hold_for(agent, plan, mode, now);
            calls::place(self.book(), telephony.as_ref(), ws, record, agent, hold, now).await
        };
        // A provider that refuses or cannot be reached leaves the call failed; its end settles
        // the target like any other. Had the call not even been recorded, the lease would.
        match placed.await {
            Ok(_) => Ok(None),
            Err(e)
                if matches!(
                    e.code(),
                    ErrorCode::InsufficientFunds
                        | ErrorCode::TrialExpired
                        | ErrorCode::ConcurrencyLimitReached
                        | ErrorCode::EmailNotVerified
                        | ErrorCode::DailySpendLimitReached
                        | ErrorCode::DestinationNotAllowed
                        | ErrorCode::ProviderCredentialMissing
                ) =>
            {
                let at = switchboard_core::clock::api_time(now);
                let next = Target {
                    status: TargetStatus::Pending,
                    attempts: target.attempts.saturating_sub(1),
                    lease_until: None,
                    last_call_id: None,
                    next_attempt_at: at + HOLD_RETRY,
                    updated_at: at,
                    ..target.clone()
                };
                self.store.settle(ws, &target, &next, Settlement::NeverPlaced).await?;
                Ok(Some(e.code()))
            }
            Err(e) => {
                tracing::warn!(error = %e.message(), campaign_id = campaign.id, "a campaign call was not placed");
                Ok(None)
            }
        }
    }

    /// Takes back the slots of calls whose lease ran out.
    async fn reclaim(&self, ws: &str, campaign: &Campaign, now: DateTime<Utc>) -> Result<(), Error> {
        let expired = self
            .store
            .due_targets(ws, &campaign.id, TargetStatus::Dialing, now, RECLAIM_BATCH)
            .await?;
        for target in expired {
            let call = match &target.last_call_id {
                Some(id) => self.calls.get(ws, id).await?.map(|c| c.value),
                None => None,
            };
            let at = switchboard_core::clock::api_time(now);
            match call {
                // The worker stopped before the call was placed: the target waits again, as if
                // never tried.
                None => {
                    let next = Target {
                        status: TargetStatus::Pending,
                        attempts: target.attempts.saturating_sub(1),
                        lease_until: None,
                        next_attempt_at: at,
                        updated_at: at,
                        ..target.clone()
                    };
                    self.store.settle(ws, &target, &next, Settlement::NeverPlaced).await?;
                }
                Some(call) if call.status.is_final() => {
                    let next = after_call(campaign, &target, call.status, now);
                    self.store.settle(ws, &target, &next, Settlement::Ended).await?;
                }
                // Overstayed: hung up, failed; a late report of it finds the target settled.
                Some(call) => {
                    if let (Some(provider_id), Ok(telephony)) =
                        (&call.provider_call_id, self.providers.telephony(ws).await)
                    {
                        let _ = telephony.hang_up(provider_id).await;
                    }
                    let report = StatusReport {
                        status: CallStatus::Failed,
                        at: now,
                        duration_seconds: None,
                        reason: Some("exceeded_max_duration".into()),
                    };
                    calls::report(self.book(), ws, &call.id, report).await?;
                    let next = after_call(campaign, &target, CallStatus::Failed, now);
                    self.store.settle(ws, &target, &next, Settlement::Ended).await?;
                }
            }
        }
        Ok(())
    }

    /// A campaign call ended: settles its target and lets the campaign go on.
    pub async fn call_ended(&self, ws: &str, call: &Call) -> Result<(), Error> {
        let Some(campaign_id) = &call.campaign_id else {
            return Ok(());
        };
        let Some(campaign) = self.campaign(ws, campaign_id).await? else {
            return Ok(());
        };
        let Some(target) = self.store.target(ws, campaign_id, &call.to).await? else {
            return Ok(());
        };
        if target.status == TargetStatus::Dialing && target.last_call_id.as_deref() == Some(call.id.as_str()) {
            let next = after_call(&campaign.value, &target, call.status, self.clock.now());
            self.store.settle(ws, &target, &next, Settlement::Ended).await?;
        }
        if campaign.value.status == CampaignStatus::Active {
            self.queue_tick(ws, campaign_id, None).await?;
        }
        Ok(())
    }

    async fn pause_itself(&self, ws: &str, campaign_id: &str, reason: &str, now: DateTime<Utc>) -> Result<(), Error> {
        let Some(current) = self.campaign(ws, campaign_id).await? else {
            return Ok(());
        };
        let mut paused = current.value.clone();
        paused.status = CampaignStatus::Paused;
        paused.paused_reason = Some(reason.to_owned());
        paused.updated_at = switchboard_core::clock::api_time(now);
        let event = Event::new(EventType::CampaignPaused, now, &paused);
        match self.campaigns.update(ws, &current, &paused, &[event]).await {
            Ok(_) | Err(StoreError::VersionMismatch) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Completes the campaign when nothing is left, else makes sure a tick comes when the next
    /// target is due or the next lease runs out.
    async fn plan_next(&self, ws: &str, current: &Versioned<Campaign>, now: DateTime<Utc>) -> Result<(), Error> {
        let campaign_id = &current.value.id;
        let stats = self.stats(ws, campaign_id).await?;
        if stats.chunks_pending > 0 {
            // The import's end ticks the campaign again.
            return Ok(());
        }
        if stats.pending == 0 && stats.in_flight == 0 {
            return match self
                .set_status(
                    ws,
                    current,
                    CampaignStatus::Completed,
                    Some(EventType::CampaignCompleted),
                    now,
                )
                .await
            {
                Ok(_) | Err(StoreError::VersionMismatch) => Ok(()),
                Err(e) => Err(e.into()),
            };
        }
        let pending = self.store.next_due(ws, campaign_id, TargetStatus::Pending).await?;
        let slots_free = stats.in_flight < u64::from(current.value.max_concurrent_calls);
        if let Some(target) = &pending
            && target.next_attempt_at <= now
            && slots_free
        {
            // Work left over from a full batch: go on at once.
            return self.schedule(ws, campaign_id, now, now).await;
        }
        let lease = self
            .store
            .next_due(ws, campaign_id, TargetStatus::Dialing)
            .await?
            .and_then(|t| t.lease_until);
        // Counted but not in the index yet (it lags the table a little): look again soon.
        let lagging = (pending.is_none() && stats.pending > 0).then(|| now + Duration::seconds(5));
        let next = [pending.map(|t| t.next_attempt_at), lease, lagging]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(at) => {
                self.schedule(ws, campaign_id, at.max(now + Duration::seconds(1)), now)
                    .await
            }
            None => Ok(()),
        }
    }

    /// Makes sure a tick runs at `at`: queues one unless one is queued for no later (and not
    /// so long ago that it must have been lost).
    async fn schedule(&self, ws: &str, campaign_id: &str, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Error> {
        if self
            .store
            .schedule_tick(ws, campaign_id, at.timestamp(), (now - TICK_LOST_AFTER).timestamp())
            .await?
        {
            self.queue_tick_at(ws, campaign_id, at).await?;
        }
        Ok(())
    }

    async fn queue_tick_at(&self, ws: &str, campaign_id: &str, at: DateTime<Utc>) -> Result<(), Error> {
        let now = self.clock.now();
        let job = DialerJob::Tick {
            workspace_id: ws.to_owned(),
            campaign_id: campaign_id.to_owned(),
            not_before: at.timestamp(),
        };
        let delay = (at - now).to_std().unwrap_or_default().min(MAX_DELAY);
        self.jobs.enqueue(&[job], delay).await.map_err(Error::unavailable)
    }
}
