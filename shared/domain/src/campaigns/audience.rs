//! Audiences: the rows users upload, normalised and screened (the do-not-call lists, the
//! registry, cool-downs, the campaign's own numbers) and written as targets, in the request for
//! small uploads and in chunks on the dialer's queue for large ones.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_core::Error;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{
    AudienceCounts, AudienceImport, AudienceImportObject, Campaign, CampaignStatus, Country, ImportStatus, Target,
    TargetObject, TargetStatus,
};
use switchboard_core::ports::DialerJob;

use super::Dialer;

/// Uploads up to this many rows are screened and written in the request; larger ones in chunks
/// by the dialer.
pub const SYNC_AUDIENCE: usize = 2_000;
/// Rows per chunk of an upload, and bytes: a chunk is one record (of at most 400 KB).
const CHUNK_ROWS: usize = 2_500;
const CHUNK_BYTES: usize = 300_000;
/// When the jobs of an import done in its request come to finish it, should the request have
/// stopped: after API Gateway's 30-second limit.
const IMPORT_RESCUE_DELAY: StdDuration = StdDuration::from_secs(120);

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

impl Dialer {
    /// Records an import of `rows` (normalised; `counts` of those refused already, `total_rows`
    /// uploaded) and has it screened and written: in this call for small uploads, then the
    /// import as done (`true`); by the dialer's queue for large ones, the import as it starts.
    pub async fn import_audience(
        &self,
        ws: &str,
        campaign: &Campaign,
        rows: &[AudienceRow],
        counts: AudienceCounts,
        total_rows: u64,
        now: DateTime<Utc>,
    ) -> Result<(AudienceImport, bool), Error> {
        let at = switchboard_core::clock::api_time(now);
        let mut import = AudienceImport {
            id: ids::new_id_at(prefix::IMPORT, now),
            object: AudienceImportObject,
            campaign_id: campaign.id.clone(),
            status: ImportStatus::Processing,
            rows: total_rows,
            counts,
            total_targets: None,
            created_at: at,
            completed_at: None,
        };
        let chunks = chunk_rows(rows);
        if chunks.is_empty() {
            // Nothing valid to screen: done already.
            import.status = ImportStatus::Completed;
            import.completed_at = Some(at);
            import.total_targets = Some(self.stats(ws, &campaign.id).await?.targets_total);
        }
        self.store.create_import(ws, &import, &chunks).await?;
        let jobs: Vec<DialerJob> = (0..chunks.len())
            .map(|chunk| DialerJob::ImportChunk {
                workspace_id: ws.to_owned(),
                campaign_id: campaign.id.clone(),
                import_id: import.id.clone(),
                chunk,
            })
            .collect();
        let in_request = rows.len() <= SYNC_AUDIENCE;
        // A small import is done here; its jobs only come (later) to finish one that stopped
        // half-way, and find nothing left to do otherwise.
        let delay = if in_request {
            IMPORT_RESCUE_DELAY
        } else {
            StdDuration::ZERO
        };
        if !jobs.is_empty() {
            self.jobs.enqueue(&jobs, delay).await.map_err(Error::unavailable)?;
        }
        if !in_request {
            return Ok((import, false));
        }
        for chunk in 0..chunks.len() {
            self.import_chunk(ws, &campaign.id, &import.id, chunk).await?;
        }
        let done = self
            .store
            .audience_import(ws, &import.id)
            .await?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("the import just written is gone")))?;
        Ok((done, true))
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
    ) -> Result<AudienceCounts, Error> {
        let mut counts = AudienceCounts::default();
        let phones: Vec<String> = rows.iter().map(|r| r.phone.clone()).collect();
        let existing = self.store.existing_targets(ws, campaign_id, &phones).await?;
        let screened = self.dnc.screen(ws, &phones, now).await?;
        let contacts = self.store.contacts_by_phone(ws, &phones).await?;
        let at = switchboard_core::clock::api_time(now);
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
        self.store.add_targets(ws, import_id, &accepted).await?;
        Ok(counts)
    }

    /// Screens and writes one chunk of an import (a job, or the request itself for small
    /// imports), and completes the import after its last chunk.
    pub async fn import_chunk(&self, ws: &str, campaign_id: &str, import_id: &str, chunk: usize) -> Result<(), Error> {
        let Some(encoded) = self.store.import_chunk(ws, import_id, chunk).await? else {
            // Done before (a repeated message).
            return Ok(());
        };
        let rows = encoded
            .iter()
            .map(|row| serde_json::from_str::<AudienceRow>(row))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::internal(anyhow::anyhow!("an import chunk does not decode: {e}")))?;
        let now = self.clock.now();
        let counts = self.screen_and_add(ws, campaign_id, import_id, rows, now).await?;
        let import = match self
            .store
            .finish_chunk(ws, campaign_id, import_id, chunk, &counts)
            .await?
        {
            Some(import) => Some(import),
            // Counted by an earlier run, which may have stopped before completing the import.
            None => self.store.audience_import(ws, import_id).await?,
        };
        let Some(import) = import.filter(|i| i.status == ImportStatus::Completed && i.completed_at.is_none()) else {
            return Ok(());
        };
        let total = self.stats(ws, campaign_id).await?.targets_total;
        let done = AudienceImport {
            completed_at: Some(switchboard_core::clock::api_time(now)),
            total_targets: Some(total),
            ..import
        };
        self.store.complete_import(ws, &done).await?;
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

/// Rows as chunks of JSON rows: at most `CHUNK_ROWS` rows and `CHUNK_BYTES` bytes each.
fn chunk_rows(rows: &[AudienceRow]) -> Vec<Vec<String>> {
    let mut chunks = Vec::new();
    let mut chunk: Vec<String> = Vec::new();
    let mut bytes = 0;
    for row in rows {
        let encoded = serde_json::to_string(row).expect("rows serialise");
        if chunk.len() == CHUNK_ROWS || bytes + encoded.len() > CHUNK_BYTES {
            chunks.push(std::mem::take(&mut chunk));
            bytes = 0;
        }
        bytes += encoded.len();
        chunk.push(encoded);
    }
    if !chunk.is_empty() {
        chunks.push(chunk);
    }
    chunks
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
            Some(code) => match switchboard_core::validate::country("country", &code) {
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
        match switchboard_core::validate::phone("phone", &row.phone, row_region) {
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
