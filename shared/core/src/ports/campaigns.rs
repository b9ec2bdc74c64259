//! Campaigns' targets, counters and audience imports: what the dialer claims, settles and
//! counts.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Page, PageRequest};
use crate::error::StoreError;
use crate::model::{
    Agent, AudienceCounts, AudienceImport, CallStatus, CampaignStats, PhoneNumber, Plan, Screening, Target,
    TargetStatus,
};

/// What claiming targets for calls came to: all of them or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    Claimed,
    /// Fewer slots are free than targets were claimed.
    NoSlot,
    /// Another tick moved these targets (their indices) first.
    Taken(Vec<usize>),
}

/// What becomes of a target whose call ended, decided from its campaign's retry policy.
#[derive(Debug, Clone, PartialEq)]
pub struct CallEnd {
    pub outcome: CallStatus,
    /// Pending again (a retry), completed or failed.
    pub status: TargetStatus,
    /// When a retry is due.
    pub retry_at: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
}

/// A campaign call's end to settle: its target `phone`, while that is dialing `call_id`.
#[derive(Debug, Clone)]
pub struct EndedCall {
    pub phone: String,
    pub call_id: String,
    pub end: CallEnd,
}

/// What [`CampaignStore::settle_and_claim`] did; nothing was written unless `Done`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettledAndClaimed {
    Done,
    /// These ends (their indices) were settled before, or their leases taken back.
    SettledBefore(Vec<usize>),
    /// The campaign changed since the ends were decided from it.
    CampaignChanged,
    /// Fewer slots are free than the claims need.
    NoSlot,
    /// Another refill or tick moved these targets (their indices) first.
    Taken(Vec<usize>),
}

/// Ends [`CampaignStore::settle_and_claim`] settles at once, at most; with as many claims.
pub const MAX_SETTLE_BATCH: usize = 24;

/// What placing a campaign's calls needs ([`CampaignStore::dialing`]).
#[derive(Debug, Clone)]
pub struct Dialing {
    pub agent: Option<Agent>,
    pub number: Option<PhoneNumber>,
    pub plan: Plan,
    pub allowed_countries: Vec<String>,
    /// By number.
    pub screened: HashMap<String, Screening>,
}

/// Targets a transaction claims at most (each with its number's cool-down, and the campaign's
/// counter: within DynamoDB's 100 items).
pub const MAX_CLAIM_BATCH: usize = 49;

/// How a target's call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// The call was placed and ended.
    Ended,
    /// The call was never placed (the worker stopped between the claim and the dial).
    NeverPlaced,
}

#[async_trait]
pub trait CampaignStore: Send + Sync {
    /// Counters of campaigns (zeros for those with none yet).
    async fn stats(&self, ws: &str, campaign_ids: &[String]) -> Result<HashMap<String, CampaignStats>, StoreError>;
    /// The numbers among `phones` that are targets of the campaign already, with the import
    /// that added each.
    async fn existing_targets(
        &self,
        ws: &str,
        campaign_id: &str,
        phones: &[String],
    ) -> Result<HashMap<String, String>, StoreError>;
    /// Writes new targets of an import (in batches); they count once their chunk is finished.
    async fn add_targets(&self, ws: &str, import_id: &str, targets: &[Target]) -> Result<(), StoreError>;
    async fn target(&self, ws: &str, campaign_id: &str, phone: &str) -> Result<Option<Target>, StoreError>;
    async fn targets(
        &self,
        ws: &str,
        campaign_id: &str,
        status: Option<TargetStatus>,
        page: PageRequest,
    ) -> Result<Page<Target>, StoreError>;
    /// Up to `limit` targets waiting in the campaign's `status` queue, soonest first: pending
    /// ones by when they are due, dialing ones by when their lease runs out.
    async fn queue(
        &self,
        ws: &str,
        campaign_id: &str,
        status: TargetStatus,
        limit: u32,
    ) -> Result<Vec<Target>, StoreError>;
    /// What placing the campaign's calls to `phones` needs, in one read: its agent and number
    /// (`None` when gone), the workspace's plan, the countries its wallet allows, and what the
    /// do-not-call lists and cool-downs say of each number.
    async fn dialing(
        &self,
        ws: &str,
        agent_id: &str,
        number_id: &str,
        phones: &[String],
        now: DateTime<Utc>,
    ) -> Result<Dialing, StoreError>;
    /// Moves each target (as read) to its next state (dialing), takes a slot for each and
    /// starts each number's cool-down, in one transaction (at most [`MAX_CLAIM_BATCH`] targets
    /// of one campaign).
    async fn claim(&self, ws: &str, claims: &[(Target, Target)], max_in_flight: u32) -> Result<Claim, StoreError>;
    /// Moves a dialing `target` (as read) to `next` and frees its slot; false when the target
    /// had moved on already (its call was settled before).
    async fn settle(
        &self,
        ws: &str,
        target: &Target,
        next: &Target,
        settlement: Settlement,
    ) -> Result<bool, StoreError>;
    /// Moves a pending `target` to `next`, skipped; false when it had moved on.
    async fn skip(&self, ws: &str, target: &Target, next: &Target) -> Result<bool, StoreError>;
    /// Settles the targets of the campaign's `ended` calls as each end says, without reading
    /// them (only while each is dialing its call, and the campaign is still at
    /// `campaign_version`, which the ends were decided from), and claims `claims` (targets as
    /// read, and claimed) in the slots they free or others free ones: one transaction, at most
    /// [`MAX_SETTLE_BATCH`] ends and as many claims.
    async fn settle_and_claim(
        &self,
        ws: &str,
        campaign_id: &str,
        campaign_version: u64,
        ended: &[EndedCall],
        claims: &[(Target, Target)],
        max_in_flight: u32,
    ) -> Result<SettledAndClaimed, StoreError>;
    /// Moves a pending `target` to a later `next_attempt_at`; false when it had moved on.
    async fn defer(&self, ws: &str, target: &Target, next: &Target) -> Result<bool, StoreError>;
    /// Records that the campaign's next tick is due at `at` (unix s), unless one is due no
    /// later (and not before `lost_before`); whether the caller should queue it.
    async fn schedule_tick(&self, ws: &str, campaign_id: &str, at: i64, lost_before: i64) -> Result<bool, StoreError>;
    /// Forgets the scheduled tick of `at`, which ran; the campaign's counters, read in the
    /// same request (`None` before it has any).
    async fn tick_ran(&self, ws: &str, campaign_id: &str, at: i64) -> Result<Option<CampaignStats>, StoreError>;
    /// Records an import and its chunks of rows (JSON) to screen and write; the campaign
    /// counts them pending.
    async fn create_import(&self, ws: &str, import: &AudienceImport, chunks: &[Vec<String>]) -> Result<(), StoreError>;
    async fn import_chunk(&self, ws: &str, import_id: &str, chunk: usize) -> Result<Option<Vec<String>>, StoreError>;
    /// Counts a chunk's outcome into its import and its accepted targets into the campaign,
    /// once, with the chunk's deletion; the import then (`None`: counted before).
    async fn finish_chunk(
        &self,
        ws: &str,
        campaign_id: &str,
        import_id: &str,
        chunk: usize,
        counts: &AudienceCounts,
    ) -> Result<Option<AudienceImport>, StoreError>;
    async fn audience_import(&self, ws: &str, import_id: &str) -> Result<Option<AudienceImport>, StoreError>;
    /// The workspace's contacts with these numbers: id and time zone, by number.
    async fn contacts_by_phone(
        &self,
        ws: &str,
        phones: &[String],
    ) -> Result<HashMap<String, (String, Option<String>)>, StoreError>;
    async fn complete_import(&self, ws: &str, import: &AudienceImport) -> Result<(), StoreError>;
}
