//! The dialer: what a campaign's ticks do, and what becomes of its targets when their calls end.
//!
//! A tick (a message of the dialer queue) reclaims the slots of calls that overstayed their
//! lease, then claims free slots for the targets that are due, a batch at a time in one
//! transaction with the campaign's counters (no target is claimed twice, no slot counted twice),
//! and dials them, several at once. A target is claimed before its call is placed, with the
//! call's id: a worker that stops between the two leaves a lease that runs out, and the next
//! tick finds no call under that id and puts the target back. A call that ends is settled
//! (its target completed, failed, or pending again for a retry) by `call_ended` in the worker
//! that saw it, in the same transaction that claims the next target for the slot it frees.
//! Targets outside their call window are deferred to its next opening (in the callee's time
//! zone, so DST moves it), and numbers on a do-not-call list, a registry or in a cool-down are
//! skipped when their turn comes, whenever they were added. The next tick is scheduled at the
//! earliest due target or lease end, through chained SQS delays; when no target is pending and
//! no call is in flight, the campaign is completed.

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
    CallEnd, CallQueue, CampaignCallEnd, CampaignStore, Claim, DialerJob, DialerQueue, Dialing, DncStore, EndedCall,
    MAX_CLAIM_BATCH, MAX_DELAY, MAX_SETTLE_BATCH, ProviderAccounts, Repository, SettledAndClaimed, Settlement,
    Versioned, Wallets, Workspaces,
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
/// How long targets a refill's round screened and left over may be claimed by its next
/// rounds without reading them again (a number listed meanwhile is at most this late to count).
const READY_FOR: Duration = Duration::seconds(1);
/// Calls a tick places at once.
const DIAL_CONCURRENCY: usize = 16;
/// Refill rounds whose calls are placed at once (each `DIAL_CONCURRENCY` at a time).
const CLAIMED_ROUNDS_PLACED_AT_ONCE: usize = 4;
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
    pub accounts: Arc<dyn Workspaces>,
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

/// The campaigns this instance is refilling, each with the calls' ends that came meanwhile and
/// the campaign as the latest of them found it (the next round starts from those).
#[derive(Default)]
pub struct Refilling(std::sync::Mutex<HashMap<(String, String), Option<Waiting>>>);

struct Waiting {
    campaign: Versioned<Campaign>,
    ends: Vec<WaitingEnd>,
}

/// A campaign call's end, to be settled by a refill round.
struct WaitingEnd {
    call_id: String,
    to: String,
    outcome: CallStatus,
    attempts: u32,
    /// Told whether the round that settled it wrote (`None` for the end that started the refill).
    done: Option<futures::channel::oneshot::Sender<bool>>,
}

enum Entered<'a> {
    /// This end starts the refill.
    Refill(Refill<'a>, WaitingEnd),
    /// A refill in progress settles it; told when it did.
    Wait(futures::channel::oneshot::Receiver<bool>),
}

/// A refill in progress; it ends when it finds nothing more to do, or is dropped (a failed
/// round: its job is tried again, and the ends waiting for it with theirs).
struct Refill<'a> {
    refilling: &'a Refilling,
    key: (String, String),
    left: bool,
}

impl Refilling {
    /// The refill of this campaign, unless one is in progress (which is then given the end).
    fn enter(&self, ws: &str, campaign: &Versioned<Campaign>, mut end: WaitingEnd) -> Entered<'_> {
        let key = (ws.to_owned(), campaign.value.id.clone());
        let mut refilling = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(waiting) = refilling.get_mut(&key) {
            let (done, told) = futures::channel::oneshot::channel();
            end.done = Some(done);
            let waiting = waiting.get_or_insert_with(|| Waiting {
                campaign: campaign.clone(),
                ends: Vec::new(),
            });
            if campaign.version > waiting.campaign.version {
                waiting.campaign = campaign.clone();
            }
            waiting.ends.push(end);
            return Entered::Wait(told);
        }
        refilling.insert(key.clone(), None);
        Entered::Refill(
            Refill {
                refilling: self,
                key,
                left: false,
            },
            end,
        )
    }
}

impl Refill<'_> {
    /// The ends that came since the last round, with the latest campaign; else the refill ends
    /// (under the same lock: an end arriving after it starts a refill of its own).
    fn again(&mut self) -> Option<Waiting> {
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

/// Targets screened and due, with what claiming and dialling them needs.
struct Ready {
    agent: Agent,
    number: PhoneNumber,
    plan: Plan,
    targets: Vec<Target>,
    screened_at: DateTime<Utc>,
}

/// A target as read, and as claimed.
type Claiming = (Target, Target);

impl Ready {
    /// Up to `free` of the targets still in their call window, each with its claimed form, and
    /// the rest as spares. Refills running at once see the same soonest targets: each starts
    /// at a place of its own among them, and takes a spare one when another got there first.
    fn pick(&self, campaign: &Campaign, free: u64, now: DateTime<Utc>) -> (Vec<Claiming>, Vec<Claiming>) {
        let at = switchboard_core::clock::api_time(now);
        let lease = Duration::seconds(i64::from(self.agent.max_call_duration)) + LEASE_GRACE;
        let mut ready: Vec<Claiming> = self
            .targets
            .iter()
            .filter(|t| campaign.call_window.contains(now, callee_zone(t, campaign)))
            .map(|target| {
                let claimed = Target {
                    status: TargetStatus::Dialing,
                    attempts: target.attempts + 1,
                    lease_until: Some(at + lease),
                    last_call_id: Some(ids::new_id_at(prefix::CALL, now)),
                    updated_at: at,
                    ..target.clone()
                };
                (target.clone(), claimed)
            })
            .collect();
        if ready.len() as u64 > free {
            let start = rand::random_range(0..ready.len());
            ready.rotate_left(start);
        }
        let spares = ready.split_off((free as usize).min(ready.len()));
        (ready, spares)
    }

    /// The spares left after a round, ready for the next one while fresh.
    fn left(&self, spares: Vec<Claiming>) -> Option<Ready> {
        (!spares.is_empty()).then(|| Ready {
            agent: self.agent.clone(),
            number: self.number.clone(),
            plan: self.plan,
            targets: spares.into_iter().map(|(target, _)| target).collect(),
            screened_at: self.screened_at,
        })
    }
}

/// Targets claimed, with what placing their calls needs.
struct Claimed {
    campaign: Campaign,
    agent: Agent,
    number: PhoneNumber,
    plan: Plan,
    targets: Vec<Target>,
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

/// Removes the items at `indices`.
fn remove_at<T>(items: &mut Vec<T>, indices: &[usize]) {
    let mut index = 0;
    items.retain(|_| {
        index += 1;
        !indices.contains(&(index - 1))
    });
}

/// Puts spares in the place of the claims (their indices) another refill or tick took first.
fn replace_taken(batch: &mut Vec<Claiming>, taken: &[usize], spares: &mut Vec<Claiming>) {
    remove_at(batch, taken);
    let room = taken.len().min(spares.len());
    batch.extend(spares.drain(..room));
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
        let (mut dialed, claimed) = self.claim_due(ws, campaign, free, now).await?;
        if let Some(claimed) = claimed
            && self.place_claimed(ws, claimed, now).await?
        {
            // The refused targets wait; the next tick is when they are due again.
            dialed.next_due = sooner(dialed.next_due, now + HOLD_RETRY);
        }
        Ok(dialed)
    }

    /// Claims up to `free` slots for the targets that are due: what it saw, and the calls to
    /// place.
    async fn claim_due(
        &self,
        ws: &str,
        campaign: &Campaign,
        free: u64,
        now: DateTime<Utc>,
    ) -> Result<(Dialed, Option<Claimed>), Error> {
        let (mut dialed, ready) = self.screen_due(ws, campaign, free, now).await?;
        let Some(ready) = ready else {
            return Ok((dialed, None));
        };
        let (batch, mut spares) = ready.pick(campaign, free, now);
        dialed.more_due |= !spares.is_empty();
        let mut targets = Vec::new();
        for batch in batch.chunks(MAX_CLAIM_BATCH) {
            let (claimed, slots_left) = self.claim(ws, campaign, batch.to_vec(), &mut spares).await?;
            targets.extend(claimed);
            if !slots_left {
                break;
            }
        }
        dialed.claimed = targets.len() as u64;
        dialed.next_lease = targets.iter().filter_map(|t| t.lease_until).min();
        let claimed = (!targets.is_empty()).then(|| Claimed {
            campaign: campaign.clone(),
            agent: ready.agent,
            number: ready.number,
            plan: ready.plan,
            targets,
        });
        Ok((dialed, claimed))
    }

    /// Reads the targets that are due (up to twice `free`) and what dialling them needs, skips
    /// those the workspace may not call and defers those outside their call window: the rest,
    /// ready to claim.
    async fn screen_due(
        &self,
        ws: &str,
        campaign: &Campaign,
        free: u64,
        now: DateTime<Utc>,
    ) -> Result<(Dialed, Option<Ready>), Error> {
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
            return Ok((dialed, None));
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
            return Ok((Dialed::default(), None));
        };
        let Some(number) = number else {
            self.pause_itself(ws, &campaign.id, "number_deleted", now).await?;
            return Ok((Dialed::default(), None));
        };
        let at = switchboard_core::clock::api_time(now);
        let mut targets = Vec::new();
        for target in due {
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
            targets.push(target);
        }
        let ready = (!targets.is_empty()).then_some(Ready {
            agent,
            number,
            plan,
            targets,
            screened_at: now,
        });
        Ok((dialed, ready))
    }

    /// Places the calls of claimed targets; whether the wallet refused some (they wait again,
    /// or the campaign pauses itself when no call ending will lift the refusal).
    async fn place_claimed(&self, ws: &str, claimed: Claimed, now: DateTime<Utc>) -> Result<bool, Error> {
        let Claimed {
            campaign,
            agent,
            number,
            plan,
            targets,
        } = claimed;
        let placed: Vec<Result<Option<ErrorCode>, Error>> = stream::iter(targets)
            .map(|target| self.dial(ws, &campaign, &agent, &number, plan, target, now))
            .buffer_unordered(DIAL_CONCURRENCY)
            .collect()
            .await;
        let refusals: Vec<ErrorCode> = placed
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect();
        if refusals.is_empty() {
            return Ok(false);
        }
        self.wallet_refused(ws, &campaign, &agent, plan, &refusals, now).await?;
        Ok(true)
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
        mut batch: Vec<Claiming>,
        spares: &mut Vec<Claiming>,
    ) -> Result<(Vec<Target>, bool), Error> {
        for _ in 0..CLAIM_ATTEMPTS {
            if batch.is_empty() {
                return Ok((Vec::new(), true));
            }
            match self.store.claim(ws, &batch, campaign.max_concurrent_calls).await? {
                Claim::Claimed => return Ok((batch.into_iter().map(|(_, claimed)| claimed).collect(), true)),
                Claim::Taken(taken) => replace_taken(&mut batch, &taken, spares),
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
        let ended = WaitingEnd {
            call_id: call_id.to_owned(),
            to: end.to.clone(),
            outcome: end.status,
            attempts,
            done: None,
        };
        match self.refilling.enter(ws, &campaign, ended) {
            Entered::Refill(refill, ended) => self.refill(ws, campaign, refill, ended).await,
            Entered::Wait(told) => match told.await {
                Ok(true) => Ok(()),
                // Its job is tried again, and settles it then.
                _ => Err(Error::unavailable(anyhow::anyhow!(
                    "the refill that was to settle this call's end failed"
                ))),
            },
        }
    }

    /// Settles calls' ends and fills the slots they free, here and now: each round settles the
    /// ends that came and claims as many targets in one transaction, as a tick claims, from the
    /// campaign as the ends found it. The ends this instance sees meanwhile wait for its next
    /// round (refills running at once in one instance would race for the same targets); rounds
    /// claim while the calls of earlier rounds are being placed. Expired leases are left to the
    /// scheduled ticks (every lease has one, queued by the tick that took it or one before);
    /// when nothing was due, the refill completes the campaign or schedules its next tick.
    async fn refill(
        &self,
        ws: &str,
        campaign: Versioned<Campaign>,
        mut refill: Refill<'_>,
        first: WaitingEnd,
    ) -> Result<(), Error> {
        let (claimed_tx, claimed_rx) = futures::channel::mpsc::unbounded::<Claimed>();
        let claiming = async move {
            let (mut campaign, mut ends, mut ready) = (campaign, vec![first], None);
            loop {
                while !ends.is_empty() {
                    let rest = ends.split_off(ends.len().min(MAX_SETTLE_BATCH));
                    let round = self.settle_round(ws, &mut campaign, &ends, ready.take()).await;
                    for end in std::mem::replace(&mut ends, rest) {
                        if let Some(done) = end.done {
                            let _ = done.send(round.is_ok());
                        }
                    }
                    let (claimed, left) = round?;
                    ready = left;
                    if let Some(claimed) = claimed {
                        let _ = claimed_tx.unbounded_send(claimed);
                    }
                }
                match refill.again() {
                    Some(waiting) => {
                        if waiting.campaign.version > campaign.version {
                            campaign = waiting.campaign;
                        }
                        ends = waiting.ends;
                    }
                    None => return Ok::<_, Error>(()),
                }
            }
        };
        let placing = async {
            let rounds: Vec<Result<(String, bool), Error>> = claimed_rx
                .map(|claimed| async {
                    let campaign_id = claimed.campaign.id.clone();
                    let refused = self.place_claimed(ws, claimed, self.clock.now()).await?;
                    Ok((campaign_id, refused))
                })
                .buffer_unordered(CLAIMED_ROUNDS_PLACED_AT_ONCE)
                .collect()
                .await;
            for round in rounds {
                if let (campaign_id, true) = round? {
                    // The refused targets wait; a tick comes when they are due again.
                    let now = self.clock.now();
                    self.schedule(ws, &campaign_id, now + HOLD_RETRY, now).await?;
                }
            }
            Ok(())
        };
        let (claimed, placed) = futures::join!(claiming, placing);
        claimed.and(placed)
    }

    /// The targets a round may claim for `free` slots of an active campaign: `fresh` ones an
    /// earlier round left, or those due now.
    async fn candidates(
        &self,
        ws: &str,
        campaign: &Campaign,
        free: usize,
        fresh: Option<Ready>,
        now: DateTime<Utc>,
    ) -> Result<(Dialed, Option<Ready>), Error> {
        if campaign.status != CampaignStatus::Active || free == 0 {
            return Ok((Dialed::default(), None));
        }
        match fresh {
            Some(ready) => Ok((
                Dialed {
                    found: true,
                    ..Dialed::default()
                },
                Some(ready),
            )),
            None => self.screen_due(ws, campaign, free as u64, now).await,
        }
    }

    /// Settles `ends` (at most [`MAX_SETTLE_BATCH`]) and claims as many targets due in the
    /// slots they free, in one transaction: the calls to place, and the targets left ready.
    /// `ready` are those an earlier round screened and left, claimed while fresh.
    async fn settle_round(
        &self,
        ws: &str,
        campaign: &mut Versioned<Campaign>,
        ends: &[WaitingEnd],
        ready: Option<Ready>,
    ) -> Result<(Option<Claimed>, Option<Ready>), Error> {
        let now = self.clock.now();
        let mut ends: Vec<&WaitingEnd> = ends.iter().collect();
        let fresh = ready.filter(|r| now - r.screened_at < READY_FOR && r.targets.len() >= ends.len());
        let (mut dialed, mut candidates) = self.candidates(ws, &campaign.value, ends.len(), fresh, now).await?;
        let (mut batch, mut spares) = candidates
            .as_ref()
            .map(|ready| ready.pick(&campaign.value, ends.len() as u64, now))
            .unwrap_or_default();
        for _ in 0..CLAIM_ATTEMPTS * 2 {
            let settled: Vec<EndedCall> = ends
                .iter()
                .map(|e| EndedCall {
                    phone: e.to.clone(),
                    call_id: e.call_id.clone(),
                    end: call_end(&campaign.value, e.attempts, e.outcome, now),
                })
                .collect();
            let outcome = self
                .store
                .settle_and_claim(
                    ws,
                    &campaign.value.id,
                    campaign.version,
                    &settled,
                    &batch,
                    campaign.value.max_concurrent_calls,
                )
                .await?;
            match outcome {
                SettledAndClaimed::Done => {
                    let left = candidates.as_ref().and_then(|ready| ready.left(spares));
                    if batch.is_empty() {
                        if campaign.value.status == CampaignStatus::Active {
                            self.plan_next(ws, campaign, CampaignStats::default(), None, dialed, now)
                                .await?;
                        }
                        return Ok((None, left));
                    }
                    let claimed = candidates.map(|ready| Claimed {
                        campaign: campaign.value.clone(),
                        agent: ready.agent,
                        number: ready.number,
                        plan: ready.plan,
                        targets: batch.into_iter().map(|(_, claimed)| claimed).collect(),
                    });
                    return Ok((claimed, left));
                }
                // Settled already (a repeated message, a lease taken back): fewer slots free.
                SettledAndClaimed::SettledBefore(before) => {
                    remove_at(&mut ends, &before);
                    let room = ends.len().min(batch.len());
                    spares.splice(0..0, batch.drain(room..));
                }
                SettledAndClaimed::CampaignChanged => {
                    self.seen.forget(ws, &campaign.value.id);
                    let Some(read) = self.campaign(ws, &campaign.value.id).await? else {
                        return Ok((None, None));
                    };
                    self.seen.keep(ws, &read);
                    *campaign = read;
                    // Claimed as the campaign now says (agent, window, slots), if at all.
                    (dialed, candidates) = self.candidates(ws, &campaign.value, ends.len(), None, now).await?;
                    (batch, spares) = candidates
                        .as_ref()
                        .map(|ready| ready.pick(&campaign.value, ends.len() as u64, now))
                        .unwrap_or_default();
                }
                SettledAndClaimed::NoSlot => {
                    let in_flight = self.stats(ws, &campaign.value.id).await?.in_flight;
                    let room = (u64::from(campaign.value.max_concurrent_calls) + ends.len() as u64)
                        .saturating_sub(in_flight) as usize;
                    batch.truncate(room);
                }
                SettledAndClaimed::Taken(taken) => replace_taken(&mut batch, &taken, &mut spares),
            }
        }
        Err(Error::refused(
            ErrorCode::ConcurrentModification,
            ErrorCode::ConcurrentModification.description(),
        ))
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
