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

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::error::{ApiError, ErrorCode};
use crate::ids::{self, prefix};
use crate::model::{
    Agent, AudienceCounts, AudienceImport, Call, CallStatus, Campaign, CampaignStatus, Country, Event, EventType,
    ImportStatus, PhoneNumber, Plan, Target, TargetObject, TargetStatus, callee_zone,
};
use crate::ports::{AccountStore, CampaignStore, Claim, DncStore, MAX_CLAIM_BATCH, Repository, Settlement, Telephony};
use crate::queue::{MAX_DELAY, SqsQueue};
use crate::service::calls::{self, NewCall, StatusReport};
use crate::telephony::CallQueue;

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

/// Work of the dialer queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DialerJob {
    Tick {
        workspace_id: String,
        campaign_id: String,
        /// A scheduled tick (unix s); 0 for one that runs at once.
        #[serde(default)]
        not_before: i64,
    },
    /// Screen and write one chunk of an audience import.
    ImportChunk {
        workspace_id: String,
        campaign_id: String,
        import_id: String,
        chunk: usize,
    },
}

#[async_trait]
pub trait DialerQueue: Send + Sync {
    async fn enqueue(&self, jobs: &[DialerJob], delay: StdDuration) -> anyhow::Result<()>;
}

#[async_trait]
impl DialerQueue for SqsQueue {
    async fn enqueue(&self, jobs: &[DialerJob], delay: StdDuration) -> anyhow::Result<()> {
        self.send(jobs, delay).await
    }
}

/// A row of an audience, before it is screened.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AudienceRow {
    pub phone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

pub struct Dialer {
    pub campaigns: Arc<dyn Repository<Campaign>>,
    pub store: Arc<dyn CampaignStore>,
    pub agents: Arc<dyn Repository<Agent>>,
    pub numbers: Arc<dyn Repository<PhoneNumber>>,
    pub accounts: Arc<dyn AccountStore>,
    pub dnc: Arc<dyn DncStore>,
    pub calls: Arc<dyn Repository<Call>>,
    pub telephony: Arc<dyn Telephony>,
    pub call_jobs: Arc<dyn CallQueue>,
    pub jobs: Arc<dyn DialerQueue>,
    pub clock: Clock,
}

fn store_error(e: crate::ports::StoreError) -> ApiError {
    e.into_api(ErrorCode::CampaignNotFound)
}

/// What a target becomes once its call ended with `outcome`.
pub fn after_call(campaign: &Campaign, target: &Target, outcome: CallStatus, now: DateTime<Utc>) -> Target {
    let at = crate::clock::api_time(now);
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
    /// Does one job of the dialer queue.
    pub async fn run(&self, job: &DialerJob) -> Result<(), ApiError> {
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
    pub async fn queue_tick(&self, ws: &str, campaign_id: &str, at: Option<DateTime<Utc>>) -> Result<(), ApiError> {
        let now = self.clock.now();
        self.schedule(ws, campaign_id, at.unwrap_or(now).max(now), now).await
    }

    async fn campaign(
        &self,
        ws: &str,
        campaign_id: &str,
    ) -> Result<Option<crate::ports::Versioned<Campaign>>, ApiError> {
        self.campaigns.get(ws, campaign_id).await.map_err(store_error)
    }

    /// Moves a campaign to `status` (from what it is now), with its event.
    pub async fn set_status(
        &self,
        ws: &str,
        current: &crate::ports::Versioned<Campaign>,
        status: CampaignStatus,
        event: Option<EventType>,
        now: DateTime<Utc>,
    ) -> Result<crate::ports::Versioned<Campaign>, crate::ports::StoreError> {
        let at = crate::clock::api_time(now);
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

    async fn tick(&self, ws: &str, campaign_id: &str, not_before: i64) -> Result<(), ApiError> {
        let now = self.clock.now();
        if not_before > now.timestamp() {
            // Longer than SQS can wait at once: chained.
            let at = DateTime::from_timestamp(not_before, 0).unwrap_or(now);
            return self.queue_tick_at(ws, campaign_id, at).await;
        }
        if not_before > 0 {
            self.store
                .tick_ran(ws, campaign_id, not_before)
                .await
                .map_err(store_error)?;
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
                        Err(crate::ports::StoreError::VersionMismatch) => return Ok(()),
                        Err(e) => return Err(store_error(e)),
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

    async fn stats(&self, ws: &str, campaign_id: &str) -> Result<crate::model::CampaignStats, ApiError> {
        Ok(self
            .store
            .stats(ws, &[campaign_id.to_owned()])
            .await
            .map_err(store_error)?
            .remove(campaign_id)
            .unwrap_or_default())
    }

    /// Claims up to `free` slots for the targets that are due, and dials them.
    async fn dial_due(&self, ws: &str, campaign: &Campaign, free: u64, now: DateTime<Utc>) -> Result<(), ApiError> {
        let due = self
            .store
            .due_targets(
                ws,
                &campaign.id,
                TargetStatus::Pending,
                now,
                TICK_BATCH.min(free as u32 * 2).max(10),
            )
            .await
            .map_err(store_error)?;
        if due.is_empty() {
            return Ok(());
        }
        let phones: Vec<String> = due.iter().map(|t| t.phone.clone()).collect();
        let screened = self.dnc.screen(ws, &phones, now).await.map_err(store_error)?;
        let Some(agent) = self
            .agents
            .get(ws, &campaign.agent_id)
            .await
            .map_err(store_error)?
            .map(|a| a.value)
        else {
            return self.pause_itself(ws, &campaign.id, "agent_deleted", now).await;
        };
        let Some(number) = self
            .numbers
            .get(ws, &campaign.phone_number_id)
            .await
            .map_err(store_error)?
            .map(|n| n.value)
        else {
            return self.pause_itself(ws, &campaign.id, "number_deleted", now).await;
        };
        let plan = self
            .accounts
            .get_workspace(ws)
            .await
            .map_err(store_error)?
            .map_or(Plan::Starter, |w| w.plan);
        let at = crate::clock::api_time(now);
        let mut ready = Vec::new();
        for target in due {
            if ready.len() as u64 == free {
                break;
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
                    self.store.defer(ws, &target, &next).await.map_err(store_error)?;
                }
                continue;
            }
            let screening = screened.get(&target.phone).cloned().unwrap_or_default();
            if !screening.allows(Some(&campaign.id)) {
                let reason = if screening.on_dnc {
                    "dnc"
                } else if screening.on_registry {
                    "registry"
                } else {
                    "cooldown"
                };
                let next = Target {
                    status: TargetStatus::Skipped,
                    skip_reason: Some(reason.into()),
                    updated_at: at,
                    ..target.clone()
                };
                self.store.skip(ws, &target, &next).await.map_err(store_error)?;
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
            let placed: Vec<Result<(), ApiError>> = stream::iter(claimed)
                .map(|target| self.dial(ws, campaign, &agent, &number, plan, target, now))
                .buffer_unordered(DIAL_CONCURRENCY)
                .collect()
                .await;
            placed.into_iter().collect::<Result<(), _>>()?;
            if !slots_left {
                break;
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
    ) -> Result<(Vec<Target>, bool), ApiError> {
        for _ in 0..CLAIM_ATTEMPTS {
            if batch.is_empty() {
                return Ok((Vec::new(), true));
            }
            match self
                .store
                .claim(ws, &batch, campaign.max_concurrent_calls)
                .await
                .map_err(store_error)?
            {
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

    /// Places the call of a claimed target.
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
    ) -> Result<(), ApiError> {
        self.dnc
            .start_cooldown(ws, &target.phone, &campaign.id, now)
            .await
            .map_err(store_error)?;
        let mut record = NewCall {
            direction: crate::model::Direction::Outbound,
            agent,
            number,
            remote: target.phone.clone(),
            contact_id: target.contact_id.clone(),
            campaign_id: Some(campaign.id.clone()),
            metadata: BTreeMap::from([("target_id".to_owned(), target.id.clone())]),
            plan,
            provider: self.telephony.provider().to_owned(),
            provider_call_id: None,
        }
        .record(now);
        if let Some(call_id) = &target.last_call_id {
            record.id = call_id.clone();
        }
        // A provider that refuses or cannot be reached leaves the call failed; its end settles
        // the target like any other. Had the call not even been recorded, the lease would.
        if let Err(e) = calls::place(
            self.calls.as_ref(),
            self.telephony.as_ref(),
            self.call_jobs.as_ref(),
            ws,
            record,
            agent.max_call_duration,
            now,
        )
        .await
        {
            tracing::warn!(error = %e.message, campaign_id = campaign.id, "a campaign call was not placed");
        }
        Ok(())
    }

    /// Takes back the slots of calls whose lease ran out.
    async fn reclaim(&self, ws: &str, campaign: &Campaign, now: DateTime<Utc>) -> Result<(), ApiError> {
        let expired = self
            .store
            .due_targets(ws, &campaign.id, TargetStatus::Dialing, now, RECLAIM_BATCH)
            .await
            .map_err(store_error)?;
        for target in expired {
            let call = match &target.last_call_id {
                Some(id) => self.calls.get(ws, id).await.map_err(store_error)?.map(|c| c.value),
                None => None,
            };
            let at = crate::clock::api_time(now);
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
                    self.store
                        .settle(ws, &target, &next, Settlement::NeverPlaced)
                        .await
                        .map_err(store_error)?;
                }
                Some(call) if call.status.is_final() => {
                    let next = after_call(campaign, &target, call.status, now);
                    self.store
                        .settle(ws, &target, &next, Settlement::Ended)
                        .await
                        .map_err(store_error)?;
                }
                // Overstayed: hung up, failed; a late report of it finds the target settled.
                Some(call) => {
                    if let Some(provider_id) = &call.provider_call_id {
                        let _ = self.telephony.hang_up(provider_id).await;
                    }
                    let report = StatusReport {
                        status: CallStatus::Failed,
                        at: now,
                        duration_seconds: None,
                        reason: Some("exceeded_max_duration".into()),
                    };
                    calls::report(self.calls.as_ref(), self.call_jobs.as_ref(), ws, &call.id, report).await?;
                    let next = after_call(campaign, &target, CallStatus::Failed, now);
                    self.store
                        .settle(ws, &target, &next, Settlement::Ended)
                        .await
                        .map_err(store_error)?;
                }
            }
        }
        Ok(())
    }

    /// A campaign call ended: settles its target and lets the campaign go on.
    pub async fn call_ended(&self, ws: &str, call: &Call) -> Result<(), ApiError> {
        let Some(campaign_id) = &call.campaign_id else {
            return Ok(());
        };
        let Some(campaign) = self.campaign(ws, campaign_id).await? else {
            return Ok(());
        };
        let Some(target) = self
            .store
            .target(ws, campaign_id, &call.to)
            .await
            .map_err(store_error)?
        else {
            return Ok(());
        };
        if target.status == TargetStatus::Dialing && target.last_call_id.as_deref() == Some(call.id.as_str()) {
            let next = after_call(&campaign.value, &target, call.status, self.clock.now());
            self.store
                .settle(ws, &target, &next, Settlement::Ended)
                .await
                .map_err(store_error)?;
        }
        if campaign.value.status == CampaignStatus::Active {
            self.queue_tick(ws, campaign_id, None).await?;
        }
        Ok(())
    }

    async fn pause_itself(
        &self,
        ws: &str,
        campaign_id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let Some(current) = self.campaign(ws, campaign_id).await? else {
            return Ok(());
        };
        let mut paused = current.value.clone();
        paused.status = CampaignStatus::Paused;
        paused.paused_reason = Some(reason.to_owned());
        paused.updated_at = crate::clock::api_time(now);
        let event = Event::new(EventType::CampaignPaused, now, &paused);
        match self.campaigns.update(ws, &current, &paused, &[event]).await {
            Ok(_) | Err(crate::ports::StoreError::VersionMismatch) => Ok(()),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Completes the campaign when nothing is left, else makes sure a tick comes when the next
    /// target is due or the next lease runs out.
    async fn plan_next(
        &self,
        ws: &str,
        current: &crate::ports::Versioned<Campaign>,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
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
                Ok(_) | Err(crate::ports::StoreError::VersionMismatch) => Ok(()),
                Err(e) => Err(store_error(e)),
            };
        }
        let pending = self
            .store
            .next_due(ws, campaign_id, TargetStatus::Pending)
            .await
            .map_err(store_error)?;
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
            .await
            .map_err(store_error)?
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
    async fn schedule(
        &self,
        ws: &str,
        campaign_id: &str,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        if self
            .store
            .schedule_tick(ws, campaign_id, at.timestamp(), (now - TICK_LOST_AFTER).timestamp())
            .await
            .map_err(store_error)?
        {
            self.queue_tick_at(ws, campaign_id, at).await?;
        }
        Ok(())
    }

    async fn queue_tick_at(&self, ws: &str, campaign_id: &str, at: DateTime<Utc>) -> Result<(), ApiError> {
        let now = self.clock.now();
        let job = DialerJob::Tick {
            workspace_id: ws.to_owned(),
            campaign_id: campaign_id.to_owned(),
            not_before: at.timestamp(),
        };
        let delay = (at - now).to_std().unwrap_or_default().min(MAX_DELAY);
        self.jobs.enqueue(&[job], delay).await.map_err(ApiError::unavailable)
    }

    /// Screens rows of an import (different numbers) and writes the accepted ones; the counts
    /// of what was accepted and rejected. Numbers the import itself added before (a chunk done
    /// again) count as accepted.
    async fn screen_and_add(
        &self,
        ws: &str,
        campaign_id: &str,
        import_id: &str,
        rows: Vec<AudienceRow>,
        now: DateTime<Utc>,
    ) -> Result<AudienceCounts, ApiError> {
        let mut counts = AudienceCounts::default();
        let phones: Vec<String> = rows.iter().map(|r| r.phone.clone()).collect();
        let existing = self
            .store
            .existing_targets(ws, campaign_id, &phones)
            .await
            .map_err(store_error)?;
        let screened = self.dnc.screen(ws, &phones, now).await.map_err(store_error)?;
        let contacts = self.store.contacts_by_phone(ws, &phones).await.map_err(store_error)?;
        let at = crate::clock::api_time(now);
        let mut accepted = Vec::new();
        let mut added_before = 0;
        for row in rows {
            let screening = screened.get(&row.phone).cloned().unwrap_or_default();
            if let Some(by) = existing.get(&row.phone) {
                if by == import_id {
                    added_before += 1;
                } else {
                    counts.rejected_duplicate += 1;
                }
            } else if screening.on_dnc || screening.on_registry {
                counts.rejected_dnc += 1;
            } else if screening.cooldown_campaign.is_some() {
                counts.rejected_cooldown += 1;
            } else {
                let contact = contacts.get(&row.phone);
                accepted.push(Target {
                    id: ids::new_id_at(prefix::TARGET, now),
                    object: TargetObject,
                    campaign_id: campaign_id.to_owned(),
                    contact_id: contact.map(|(id, _)| id.clone()),
                    timezone: row.timezone.or_else(|| contact.and_then(|(_, tz)| tz.clone())),
                    phone: row.phone,
                    name: row.name,
                    attributes: row.attributes,
                    status: TargetStatus::Pending,
                    attempts: 0,
                    next_attempt_at: at,
                    lease_until: None,
                    last_call_id: None,
                    last_outcome: None,
                    skip_reason: None,
                    created_at: at,
                    updated_at: at,
                });
            }
        }
        counts.accepted = accepted.len() as u64 + added_before;
        self.store
            .add_targets(ws, import_id, &accepted)
            .await
            .map_err(store_error)?;
        Ok(counts)
    }

    /// Screens and writes one chunk of an import (a job, or the request itself for small
    /// imports), and completes the import after its last chunk.
    pub async fn import_chunk(
        &self,
        ws: &str,
        campaign_id: &str,
        import_id: &str,
        chunk: usize,
    ) -> Result<(), ApiError> {
        let Some(encoded) = self
            .store
            .import_chunk(ws, import_id, chunk)
            .await
            .map_err(store_error)?
        else {
            // Done before (a repeated message).
            return Ok(());
        };
        let rows = encoded
            .iter()
            .map(|row| serde_json::from_str::<AudienceRow>(row))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ApiError::internal(anyhow::anyhow!("an import chunk does not decode: {e}")))?;
        let now = self.clock.now();
        let counts = self.screen_and_add(ws, campaign_id, import_id, rows, now).await?;
        let import = match self
            .store
            .finish_chunk(ws, campaign_id, import_id, chunk, &counts)
            .await
            .map_err(store_error)?
        {
            Some(import) => Some(import),
            // Counted by an earlier run, which may have stopped before completing the import.
            None => self.store.audience_import(ws, import_id).await.map_err(store_error)?,
        };
        let Some(import) = import.filter(|i| i.status == ImportStatus::Completed && i.completed_at.is_none()) else {
            return Ok(());
        };
        let total = self.stats(ws, campaign_id).await?.targets_total;
        let done = AudienceImport {
            completed_at: Some(crate::clock::api_time(now)),
            total_targets: Some(total),
            ..import
        };
        self.store.complete_import(ws, &done).await.map_err(store_error)?;
        // A campaign resumed while its import ran waits for it rather than completing.
        if self
            .campaign(ws, campaign_id)
            .await?
            .is_some_and(|c| c.value.status == CampaignStatus::Active)
        {
            self.queue_tick(ws, campaign_id, None).await?;
        }
        Ok(())
    }
}

/// The most text a row may carry (name, time zone, attributes), so chunks of rows stay items.
pub const MAX_ROW_BYTES: usize = 4_096;

/// Rows as users send them, normalised: phones to E.164 (in the row's `country`, else the
/// workspace's), repeated numbers and invalid rows (bad number, country or time zone, too
/// much text) counted out.
pub fn normalize_rows(
    rows: Vec<AudienceRow>,
    countries: Vec<Option<String>>,
    region: Option<Country>,
) -> (Vec<AudienceRow>, AudienceCounts) {
    let mut counts = AudienceCounts::default();
    let mut seen = HashSet::new();
    let mut kept = Vec::with_capacity(rows.len());
    for (mut row, country) in rows.into_iter().zip(countries) {
        let row_region = match country {
            Some(code) => match crate::validate::country("country", &code) {
                Ok(c) => Some(c),
                Err(_) => {
                    counts.rejected_invalid += 1;
                    continue;
                }
            },
            None => region,
        };
        let timezone_ok = row
            .timezone
            .as_deref()
            .is_none_or(|tz| tz.parse::<chrono_tz::Tz>().is_ok());
        let text = [&row.name, &row.timezone]
            .into_iter()
            .flatten()
            .map(String::len)
            .sum::<usize>()
            + row.attributes.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        match crate::validate::phone("phone", &row.phone, row_region) {
            Ok(phone) if timezone_ok && text <= MAX_ROW_BYTES => {
                if seen.insert(phone.clone()) {
                    row.phone = phone;
                    kept.push(row);
                } else {
                    counts.rejected_duplicate += 1;
                }
            }
            _ => counts.rejected_invalid += 1,
        }
    }
    (kept, counts)
}

/// What is wrong with a rule book, if anything.
pub fn rule_book_problems(book: &crate::model::RuleBook) -> Vec<String> {
    let mut problems = Vec::new();
    let mut check = |what: &str, text: &str, min: usize, max: usize| {
        let len = text.trim().chars().count();
        if len < min || len > max {
            problems.push(format!("{what} must have {min} to {max} characters (it has {len})"));
        }
    };
    check("system_prompt", &book.system_prompt, 20, 8000);
    check("opening", &book.opening, 1, 500);
    check("closing", &book.closing, 1, 500);
    for (i, handler) in book.objection_handlers.iter().enumerate() {
        check(
            &format!("objection_handlers[{i}].objection"),
            &handler.objection,
            1,
            500,
        );
        check(&format!("objection_handlers[{i}].response"), &handler.response, 1, 500);
    }
    for (i, rule) in book.never.iter().enumerate() {
        check(&format!("never[{i}]"), rule, 1, 200);
    }
    if book.objection_handlers.len() > 20 {
        problems.push("at most 20 objection_handlers".into());
    }
    if book.never.len() > 20 {
        problems.push("at most 20 never rules".into());
    }
    problems
}

/// The rule book of a campaign briefed with `brief`, written by the model and checked.
pub async fn rule_book(
    llm: &dyn crate::ports::Llm,
    brief: &str,
    now: DateTime<Utc>,
) -> Result<crate::model::RuleBook, ApiError> {
    use crate::engine::tools;
    let request = crate::ports::LlmRequest {
        system: "You write the rule book an AI voice agent follows on the calls of an outbound campaign: its instructions, \
                 how it opens, how it answers objections, how it closes, and what it must never do. Stay within the brief."
            .into(),
        messages: vec![crate::ports::LlmMessage::User { text: brief.to_owned() }],
        tools: vec![tools::rule_book_tool()],
        force_tool: Some(tools::RECORD_RULE_BOOK),
        now,
        max_tokens: 1500,
    };
    let reply = llm.complete(&request).await.map_err(|e| match e {
        crate::ports::ProviderError::Rejected(why) => ApiError::internal(anyhow::anyhow!("the model refused: {why}")),
        crate::ports::ProviderError::Unavailable(e) => ApiError::unavailable(e),
    })?;
    let invalid = |problems: String| {
        ApiError::param(
            ErrorCode::RuleBookInvalid,
            "nl_prompt",
            format!("The rule book written from this brief does not pass validation: {problems}."),
        )
    };
    let book: crate::model::RuleBook = reply
        .tool_uses
        .into_iter()
        .find(|t| t.name == tools::RECORD_RULE_BOOK)
        .and_then(|t| serde_json::from_value(t.input).ok())
        .ok_or_else(|| invalid("the model did not write one".into()))?;
    let problems = rule_book_problems(&book);
    if problems.is_empty() {
        Ok(book)
    } else {
        Err(invalid(problems.join("; ")))
    }
}
