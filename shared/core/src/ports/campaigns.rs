//! Campaigns' targets, counters and audience imports: what the dialer claims, settles and
//! counts.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Page, PageRequest};
use crate::error::StoreError;
use crate::model::{AudienceCounts, AudienceImport, CampaignStats, Target, TargetStatus};

/// What claiming targets for calls came to: all of them or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    Claimed,
    /// Fewer slots are free than targets were claimed.
    NoSlot,
    /// Another tick moved these targets (their indices) first.
    Taken(Vec<usize>),
}

/// Targets a transaction claims at most (with the campaign's counter, within DynamoDB's 100).
pub const MAX_CLAIM_BATCH: usize = 50;

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
    /// Pending targets due by `until`, or dialing ones whose lease ends by then, soonest first.
    async fn due_targets(
        &self,
        ws: &str,
        campaign_id: &str,
        status: TargetStatus,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Target>, StoreError>;
    /// The pending target due first, or the dialing one whose lease ends first.
    async fn next_due(&self, ws: &str, campaign_id: &str, status: TargetStatus) -> Result<Option<Target>, StoreError>;
    /// Moves each target (as read) to its next state (dialing) and takes a slot for each, in
    /// one transaction (at most [`MAX_CLAIM_BATCH`] targets of one campaign).
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
    /// Moves a pending `target` to a later `next_attempt_at`; false when it had moved on.
    async fn defer(&self, ws: &str, target: &Target, next: &Target) -> Result<bool, StoreError>;
    /// Records that the campaign's next tick is due at `at` (unix s), unless one is due no
    /// later (and not before `lost_before`); whether the caller should queue it.
    async fn schedule_tick(&self, ws: &str, campaign_id: &str, at: i64, lost_before: i64) -> Result<bool, StoreError>;
    /// Forgets the scheduled tick of `at`, which ran.
    async fn tick_ran(&self, ws: &str, campaign_id: &str, at: i64) -> Result<(), StoreError>;
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
