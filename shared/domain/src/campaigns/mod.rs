//! The dialer: what a campaign's ticks do, and what becomes of its targets when their calls end.
//!
//! A tick (a message of the dialer queue) reclaims the slots of calls that overstayed their
//! lease, then claims free slots for the targets that are due, a batch at a time in one
//! transaction with the campaign's counters (no target is claimed twice, no slot counted twice),
//! and dials them, several at once. A target is claimed before its call is placed, with the
//! call's id: a worker that stops between the two leaves a lease that runs out, and the next
//! tick finds no call under that id and puts the target back. Calls that end settle their target
//! (completed, failed, or pending again for a retry) and free the slot through `call_ended`,
//! which refills it at once, as a tick would, in the worker that saw the end. Targets outside their call window are deferred to its next
//! opening (in the callee's time zone, so DST moves it), and numbers on a do-not-call list, a
//! registry or in a cool-down are skipped when their turn comes, whenever they were added. The
//! next tick is scheduled at the earliest due target or lease end, through chained SQS delays;
//! when no target is pending and no call is in flight, the campaign is completed.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::stream::{self, StreamExt};

use switchboard_core::clock::Clock;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{
    Agent, Call, CallStatus, Campaign, CampaignStats, CampaignStatus, Event, EventType, PhoneNumber, Plan, Target,
    TargetStatus, callee_zone,
};
use switchboard_core::ports::{
    AccountStore, CallEnd, CallQueue, CallSettled, CampaignCallEnd, CampaignStore, Claim, DialerJob, DialerQueue,
    Dialing, DncStore, MAX_CLAIM_BATCH, MAX_DELAY, ProviderAccounts, Repository, Settlement, Versioned, Wallets,
};
use switchboard_core::{Error, ErrorCode, StoreError, validate};

use crate::calls::{self, CallBook, CampaignCallEnds, NewCall, StatusReport};

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
/// Targets a tick keeps ready beyond its free slots, for those another tick claims first.
const SPARE_CLAIMS: u64 = 4;
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
    pub seen: SeenCampaigns,
    pub refilling: Refilling,
}

/// What becomes of a target on its `attempts`-th call ending with `outcome`: completed, pending
/// again for a retry the campaign's policy allows, or failed.
pub fn call_end(campaign: &Campaign, attempts: u32, outcome: CallStatus, now: DateTime<Utc>) -> CallEnd {
    let at = switchboard_core::clock::api_time(now);
    let policy = &campaign.retry_policy;
    let retry =
        outcome != CallStatus::Completed && policy.retry_on.contains(&outcome) && attempts < policy.max_attempts;
    CallEnd {
        outcome,
        status: match outcome {
            CallStatus::Completed => TargetStatus::Completed,
            _ if retry => TargetStatus::Pending,
            _ => TargetStatus::Failed,
        },
        retry_at: retry.then(|| at + Duration::seconds(i64::from(policy.retry_delay_seconds))),
        at,
    }
}

/// What a target becomes once its call ended with `outcome`.
pub fn after_call(campaign: &Campaign, target: &Target, outcome: CallStatus, now: DateTime<Utc>) -> Target {
    let end = call_end(campaign, target.attempts, outcome, now);
    Target {
        status: end.status,
        lease_until: None,
        last_outcome: Some(outcome),
        next_attempt_at: end.retry_at.unwrap_or(target.next_attempt_at),
        updated_at: end.at,
        ..target.clone()
    }
}

#[async_trait::async_trait]
impl CampaignCallEnds for Dialer {
    async fn campaign_call_ended(&self, ws: &str, call_id: &str, end: &CampaignCallEnd) -> Result<(), Error> {
        self.call_ended(ws, call_id, end).await
    }
}

/// The campaigns this instance is refilling, each with how many of its calls ended meanwhile
/// and the campaign as the latest of them found it (its next round starts from that).
#[derive(Default)]
pub struct Refilling(std::sync::Mutex<HashMap<(String, String), Option<(Versioned<Campaign>, u64)>>>);

/// A refill in progress; it ends when it finds nothing more to do, or is dropped (a failed
/// round: its job is tried again, and settling again refills).
struct Refill<'a> {
    refilling: &'a Refilling,
    key: (String, String),
    left: bool,
}

impl Refilling {
    /// The refill of this campaign, unless one is in progress (which is then told to go again).
    fn enter(&self, ws: &str, campaign: &Versioned<Campaign>) -> Option<Refill<'_>> {
        let key = (ws.to_owned(), campaign.value.id.clone());
        let mut refilling = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(again) = refilling.get_mut(&key) {
            let (latest, ended) = match again.take() {
                Some((seen, ended)) if seen.version > campaign.version => (seen, ended + 1),
                Some((_, ended)) => (campaign.clone(), ended + 1),
                None => (campaign.clone(), 1),
            };
            *again = Some((latest, ended));
            return None;
        }
        refilling.insert(key.clone(), None);
        Some(Refill {
            refilling: self,
            key,
            left: false,
        })
    }
}

impl Refill<'_> {
    /// The campaign to refill again from and how many calls ended since the last round; else
    /// the refill ends (under the same lock: an end arriving after it starts a refill of its own).
    fn again(&mut self) -> Option<(Versioned<Campaign>, u64)> {
        let mut refilling = self.refilling.0.lock().unwrap_or_else(|e| e.into_inner());
        let again = refilling.get_mut(&self.key).and_then(Option::take);
        if again.is_none() {
            refilling.remove(&self.key);
            self.left = true;
        }
        again
    }
}

impl Drop for Refill<'_> {
    fn drop(&mut self) {
        if !self.left {
            let mut refilling = self.refilling.0.lock().unwrap_or_else(|e| e.into_inner());
            refilling.remove(&self.key);
        }
    }
}

/// What a tick's dialing saw and did.
#[derive(Debug, Default)]
struct Dialed {
    /// The pending queue was looked at, and had targets.
    looked: bool,
    found: bool,
    /// Targets claimed (their calls are in flight).
    claimed: u64,
    /// Targets due now were left for want of slots or past the batch.
    more_due: bool,
    /// When the next target not dialled now is due.
    next_due: Option<DateTime<Utc>>,
    /// When the first lease it took runs out.
    next_lease: Option<DateTime<Utc>>,
}

fn sooner(at: Option<DateTime<Utc>>, other: DateTime<Utc>) -> Option<DateTime<Utc>> {
    Some(at.map_or(other, |at| at.min(other)))
}

/// What a tick's reclaim saw.
struct Leases {
    /// Slots were taken back (the counters changed).
    reclaimed: bool,
    /// When the next lease runs out.
    next_end: Option<DateTime<Utc>>,
}

/// Campaigns as this instance last read them, for settling their calls' ends without reading
/// them again: each settlement checks the version it was decided from. At most
/// [`SEEN_CAMPAIGNS`] are kept (all are forgotten past that).
#[derive(Default)]
pub struct SeenCampaigns(std::sync::Mutex<HashMap<(String, String), Versioned<Campaign>>>);

const SEEN_CAMPAIGNS: usize = 1_000;

impl SeenCampaigns {
    fn get(&self, ws: &str, campaign_id: &str) -> Option<Versioned<Campaign>> {
        let seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        seen.get(&(ws.to_owned(), campaign_id.to_owned())).cloned()
    }

    fn keep(&self, ws: &str, campaign: &Versioned<Campaign>) {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= SEEN_CAMPAIGNS {
            seen.clear();
        }
        seen.insert((ws.to_owned(), campaign.value.id.clone()), campaign.clone());
    }

    fn forget(&self, ws: &str, campaign_id: &str) {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        seen.remove(&(ws.to_owned(), campaign_id.to_owned()));
    }
}

impl Dialer {
    fn book(&self) -> CallBook<'_> {
        CallBook {
            calls: self.calls.as_ref(),
            wallets: self.wallets.as_ref(),
            jobs: self.call_jobs.as_ref(),
            // Ends the dialer itself writes (calls taken back, calls the provider refused) are
            // queued: settling them here would tick inside the tick.
            campaign_ends: None,
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

    /// Runs the campaign's tick due at `not_before` (0: at once).
    async fn tick(&self, ws: &str, campaign_id: &str, not_before: i64) -> Result<(), Error> {
        let now = self.clock.now();
        if not_before > now.timestamp() {
            // Longer than SQS can wait at once: chained.
            let at = DateTime::from_timestamp(not_before, 0).unwrap_or(now);
            return self.queue_tick_at(ws, campaign_id, at).await;
        }
        // A scheduled tick forgets its schedule and brings the counters back in one request.
        let counted = if not_before > 0 {
            self.store.tick_ran(ws, campaign_id, not_before).await?
        } else {
            None
        };
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
        let leases = self.reclaim(ws, campaign, now).await?;
        let stats = match counted {
            Some(stats) if !leases.reclaimed => stats,
            _ => self.stats(ws, campaign_id).await?,
        };
        let free = u64::from(campaign.max_concurrent_calls).saturating_sub(stats.in_flight);
        let dialed = if free > 0 && stats.pending > 0 {
            self.dial_due(ws, campaign, free, now).await?
        } else {
            Dialed::default()
        };
        self.plan_next(ws, &current, stats, leases.next_end, dialed, now).await
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
    async fn dial_due(&self, ws: &str, campaign: &Campaign, free: u64, now: DateTime<Utc>) -> Result<Dialed, Error> {
        let limit = TICK_BATCH.min(free as u32 * 2).max(10);
        let mut queue = self.store.queue(ws, &campaign.id, TargetStatus::Pending, limit).await?;
        let mut dialed = Dialed {
            looked: true,
            found: !queue.is_empty(),
            ..Dialed::default()
        };
        // Soonest first: those due now, then the first one due later (when the next tick is).
        let due_now = queue.partition_point(|t| t.next_attempt_at <= now);
        dialed.next_due = queue.get(due_now).map(|t| t.next_attempt_at);
        dialed.more_due = due_now == limit as usize;
        queue.truncate(due_now);
        let due = queue;
        if due.is_empty() {
            return Ok(dialed);
        }
        let phones: Vec<String> = due.iter().map(|t| t.phone.clone()).collect();
        let Dialing {
            agent,
            number,
            plan,
            allowed_countries,
            screened,
        } = self
            .store
            .dialing(ws, &campaign.agent_id, &campaign.phone_number_id, &phones, now)
            .await?;
        let Some(agent) = agent else {
            self.pause_itself(ws, &campaign.id, "agent_deleted", now).await?;
            return Ok(Dialed::default());
        };
        let Some(number) = number else {
            self.pause_itself(ws, &campaign.id, "number_deleted", now).await?;
            return Ok(Dialed::default());
        };
        let at = switchboard_core::clock::api_time(now);
        let mut ready = Vec::new();
        for target in due {
            if ready.len() as u64 == free + SPARE_CLAIMS {
                dialed.more_due = true;
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
                    dialed.next_due = sooner(dialed.next_due, open);
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
        // Refills running at once see the same soonest targets: each starts at a place of its
        // own among them, and takes a spare one when another got there first.
        if ready.len() as u64 > free {
            let start = rand::random_range(0..ready.len());
            ready.rotate_left(start);
        }
        let mut spares = ready.split_off((free as usize).min(ready.len()));
        if !spares.is_empty() {
            dialed.more_due = true;
        }
        for batch in ready.chunks(MAX_CLAIM_BATCH) {
            let (claimed, slots_left) = self.claim(ws, campaign, batch.to_vec(), &mut spares).await?;
            dialed.claimed += claimed.len() as u64;
            if let Some(lease) = claimed.iter().filter_map(|t| t.lease_until).min() {
                dialed.next_lease = sooner(dialed.next_lease, lease);
            }
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
                // The refused targets wait; the next tick is when they are due again.
                dialed.next_due = sooner(dialed.next_due, now + HOLD_RETRY);
                self.wallet_refused(ws, campaign, &agent, plan, &refusals, now).await?;
                return Ok(dialed);
            }
            if !slots_left {
                break;
            }
        }
        Ok(dialed)
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

    /// Claims what it can of `batch` (targets as read, and claimed), putting `spares` in the
    /// place of targets another tick took first: the claimed targets, and whether slots may be
    /// left for more.
    async fn claim(
        &self,
        ws: &str,
        campaign: &Campaign,
        mut batch: Vec<(Target, Target)>,
        spares: &mut Vec<(Target, Target)>,
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
                    let room = taken.len().min(spares.len());
                    batch.extend(spares.drain(..room));
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
                metadata: BTreeMap::from([
                    (calls::METADATA_TARGET_ID.to_owned(), target.id.clone()),
                    (calls::METADATA_ATTEMPT.to_owned(), target.attempts.to_string()),
                ]),
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

    /// Takes back the slots of calls whose lease ran out; when the next lease runs out.
    async fn reclaim(&self, ws: &str, campaign: &Campaign, now: DateTime<Utc>) -> Result<Leases, Error> {
        let dialing = self
            .store
            .queue(ws, &campaign.id, TargetStatus::Dialing, RECLAIM_BATCH)
            .await?;
        let expired = dialing.partition_point(|t| t.lease_until.is_none_or(|lease| lease <= now));
        let leases = Leases {
            reclaimed: expired > 0,
            // All of them ran out: more may have; the next tick comes at once.
            next_end: match dialing.get(expired) {
                Some(next) => next.lease_until,
                None if expired == RECLAIM_BATCH as usize => Some(now),
                None => None,
            },
        };
        for target in dialing.into_iter().take(expired) {
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
        Ok(leases)
    }

    /// A campaign's call ended: settles its target and lets the campaign go on.
    pub async fn call_ended(&self, ws: &str, call_id: &str, end: &CampaignCallEnd) -> Result<(), Error> {
        let now = self.clock.now();
        for _ in 0..CLAIM_ATTEMPTS {
            let campaign = match self.seen.get(ws, &end.campaign_id) {
                Some(seen) => seen,
                None => match self.campaign(ws, &end.campaign_id).await? {
                    Some(read) => {
                        self.seen.keep(ws, &read);
                        read
                    }
                    None => return Ok(()),
                },
            };
            let attempts = match end.attempt {
                Some(attempt) => attempt,
                None => match self.store.target(ws, &end.campaign_id, &end.to).await? {
                    Some(target) => target.attempts,
                    None => return Ok(()),
                },
            };
            let settlement = call_end(&campaign.value, attempts, end.status, now);
            let settled = self
                .store
                .settle_call(ws, &end.campaign_id, &end.to, call_id, &settlement, campaign.version)
                .await?;
            if settled == CallSettled::CampaignChanged {
                self.seen.forget(ws, &end.campaign_id);
                continue;
            }
            return self.refill(ws, campaign).await;
        }
        Err(Error::refused(
            ErrorCode::ConcurrentModification,
            ErrorCode::ConcurrentModification.description(),
        ))
    }

    /// Fills the slots calls' ends freed, here and now: the targets due are claimed and dialled
    /// as a tick does, from the campaign as the settlement found it. The ends this instance sees
    /// meanwhile are filled by its next round (refills running at once in one instance would
    /// race for the same targets). Expired leases are left to the scheduled ticks (every lease
    /// has one, queued by the tick that took it or one before); when nothing was due, the refill
    /// completes the campaign or schedules its next tick.
    async fn refill(&self, ws: &str, campaign: Versioned<Campaign>) -> Result<(), Error> {
        let Some(mut refill) = self.refilling.enter(ws, &campaign) else {
            return Ok(());
        };
        let (mut campaign, mut freed) = (campaign, 1);
        loop {
            if campaign.value.status == CampaignStatus::Active {
                let now = self.clock.now();
                let dialed = self.dial_due(ws, &campaign.value, freed, now).await?;
                if dialed.claimed == 0 {
                    self.plan_next(ws, &campaign, CampaignStats::default(), None, dialed, now)
                        .await?;
                }
            }
            match refill.again() {
                Some((seen, ended)) => (campaign, freed) = (seen, ended),
                None => return Ok(()),
            }
        }
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
    /// target is due or the next lease runs out. `started_from` are the counters the tick
    /// started from, `next_lease` when the next lease runs out, `dialed` what the tick saw and did.
    async fn plan_next(
        &self,
        ws: &str,
        current: &Versioned<Campaign>,
        started_from: CampaignStats,
        next_lease: Option<DateTime<Utc>>,
        dialed: Dialed,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let campaign_id = &current.value.id;
        // A tick that claimed knows the counters: its own calls are in flight. Any other reads
        // them again (targets skipped, settled or added meanwhile).
        let stats = if dialed.claimed > 0 {
            CampaignStats {
                in_flight: started_from.in_flight + dialed.claimed,
                ..started_from
            }
        } else {
            self.stats(ws, campaign_id).await?
        };
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
        let slots_free = stats.in_flight < u64::from(current.value.max_concurrent_calls);
        if dialed.more_due && slots_free {
            // Work left over from a full batch: go on at once.
            return self.schedule(ws, campaign_id, now, now).await;
        }
        // Counted but not in the index yet (it lags the table a little): look again soon.
        let lagging = (dialed.looked && !dialed.found && stats.pending > 0).then(|| now + Duration::seconds(5));
        let next = [dialed.next_due, dialed.next_lease, next_lease, lagging]
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
