//! Campaigns' targets, counters and audience imports.
//!
//! A target is `PK=<ws>#TARGET, SK=<campaign>#<phone>` (one per number and campaign). While
//! pending or dialing it sits in GSI1 at `<ws>#TARGET#<campaign>#<STATUS>`, sorted by when it is
//! due (`next_attempt_at`) or when its lease runs out (`lease_until`): the dialer's two
//! queries. A campaign's counters are one item, `PK=<ws>#CAMPAIGN_STATE, SK=<campaign>`,
//! changed in the same transaction as the target that moves: a slot is taken only while
//! `in_flight < max_concurrent_calls`, and only by the tick whose condition on the target
//! still holds, so no target is dialled twice and no slot is counted twice.
//!
//! An audience import writes its chunks of rows, then the import item and the chunks to go
//! into the counters. Each chunk's targets carry the import's id and are counted in with the
//! chunk's deletion: a chunk done twice (a worker stopped half-way) counts its own targets once
//! and finds nobody else's counted twice.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::keys::{self, entity};
use super::layout::{CONTACT_PHONE, Layout, stamp};
use super::{
    BATCH_GET_KEYS, DynamoStore, Item, NEW_ITEM, TransactError, from_item, from_items, get_n, get_s, is_at, item_of,
    key_map, n, s, sdk_error, start_key,
};
use switchboard_core::StoreError;
use switchboard_core::model::{
    Agent, AudienceCounts, AudienceImport, Campaign, CampaignStats, ImportStatus, PhoneNumber, Plan, Target,
    TargetStatus, Workspace,
};
use switchboard_core::ports::{
    CampaignStore, Claim, Dialing, EndedCall, MAX_SETTLE_BATCH, Page, PageKey, PageRequest, SettledAndClaimed,
    Settlement,
};

use super::billing::WalletItem;
use super::resources::decode;

/// The attribute of a target naming the import that added it.
const IMPORT_ID: &str = "import_id";

fn target_key(ws: &str, target: &Target) -> keys::Key {
    keys::target(ws, &target.campaign_id, &target.phone)
}

/// Where a target sits in GSI1 while it waits (pending) or holds a slot (dialing).
fn queue_position(ws: &str, target: &Target) -> Option<(String, String)> {
    let at = match target.status {
        TargetStatus::Pending => target.next_attempt_at,
        TargetStatus::Dialing => target.lease_until?,
        _ => return None,
    };
    Some((
        keys::target_queue(ws, &target.campaign_id, target.status),
        format!("{}#{}", stamp(at), target.phone),
    ))
}

fn target_item(ws: &str, target: &Target) -> Result<Item, StoreError> {
    let mut item = item_of(&target_key(ws, target), entity::TARGET, target)?;
    if let Some((pk, sk)) = queue_position(ws, target) {
        item.insert(keys::GSI1PK.into(), s(pk));
        item.insert(keys::GSI1SK.into(), s(sk));
    }
    Ok(item)
}

fn counters(item: &Item) -> CampaignStats {
    let get = |name: &str| get_n(item, name).unwrap_or(0).max(0) as u64;
    CampaignStats {
        targets_total: get("targets_total"),
        pending: get("pending"),
        in_flight: get("in_flight"),
        calls_total: get("calls_total"),
        calls_completed: get("calls_completed"),
        calls_failed: get("calls_failed"),
        skipped: get("skipped"),
        chunks_pending: get("chunks_pending"),
    }
}

impl DynamoStore {
    /// The Update of a transaction that moves `target` from `from` (as last read) to `next`.
    fn move_target(
        &self,
        ws: &str,
        from: &Target,
        next: &Target,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
        let mut values = Item::new();
        let mut sets = vec!["#status = :to", "attempts = :attempts", "updated_at = :now"];
        values.insert(":to".into(), s(status_name(next.status)));
        values.insert(":from".into(), s(status_name(from.status)));
        values.insert(":attempts".into(), n(next.attempts));
        values.insert(":now".into(), s(stamp(next.updated_at)));
        values.insert(":next_at".into(), s(stamp(next.next_attempt_at)));
        sets.push("next_attempt_at = :next_at");
        let mut removes = Vec::new();
        match &next.lease_until {
            Some(lease) => {
                values.insert(":lease".into(), s(stamp(*lease)));
                sets.push("lease_until = :lease");
            }
            None => removes.push("lease_until"),
        }
        for (name, value, placeholder) in [
            ("last_call_id", &next.last_call_id, ":call"),
            ("skip_reason", &next.skip_reason, ":skip"),
        ] {
            match value {
                Some(v) => {
                    values.insert(placeholder.into(), s(v));
                    sets.push(match placeholder {
                        ":call" => "last_call_id = :call",
                        _ => "skip_reason = :skip",
                    });
                }
                None => removes.push(name),
            }
        }
        match next.last_outcome {
            Some(outcome) => {
                values.insert(":outcome".into(), s(outcome.as_str()));
                sets.push("last_outcome = :outcome");
            }
            None => removes.push("last_outcome"),
        }
        match queue_position(ws, next) {
            Some((pk, sk)) => {
                values.insert(":qpk".into(), s(pk));
                values.insert(":qsk".into(), s(sk));
                sets.push("GSI1PK = :qpk");
                sets.push("GSI1SK = :qsk");
            }
            None => removes.extend(["GSI1PK", "GSI1SK"]),
        }
        let mut update = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            update.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        // The target is as it was read: same status, same place in its queue, same call.
        let mut condition = "#status = :from AND attempts = :seen_attempts".to_owned();
        values.insert(":seen_attempts".into(), n(from.attempts));
        if let Some(call) = &from.last_call_id {
            condition.push_str(" AND last_call_id = :seen_call");
            values.insert(":seen_call".into(), s(call));
        }
        if let Some((_, sk)) = queue_position(ws, from) {
            condition.push_str(" AND GSI1SK = :seen_sk");
            values.insert(":seen_sk".into(), s(sk));
        }
        self.tx_update(&target_key(ws, from), &update, Some(&condition), values)
    }

    /// Settles the target of an ended call as its end says: only while it is dialing that
    /// call (a target dialing a later attempt, or none, is left alone).
    fn settle_item(
        &self,
        ws: &str,
        campaign_id: &str,
        call: &EndedCall,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
        let EndedCall { phone, call_id, end } = call;
        let mut values = Item::from([
            (":to".to_owned(), s(status_name(end.status))),
            (":now".to_owned(), s(stamp(end.at))),
            (":outcome".to_owned(), s(end.outcome.as_str())),
            (":dialing".to_owned(), s(status_name(TargetStatus::Dialing))),
            (":call".to_owned(), s(call_id)),
        ]);
        let mut update = "SET #status = :to, updated_at = :now, last_outcome = :outcome".to_owned();
        match end.retry_at {
            Some(at) => {
                update.push_str(", next_attempt_at = :next_at, GSI1PK = :qpk, GSI1SK = :qsk REMOVE lease_until");
                values.insert(":next_at".into(), s(stamp(at)));
                values.insert(
                    ":qpk".into(),
                    s(keys::target_queue(ws, campaign_id, TargetStatus::Pending)),
                );
                values.insert(":qsk".into(), s(format!("{}#{phone}", stamp(at))));
            }
            None => update.push_str(" REMOVE lease_until, GSI1PK, GSI1SK"),
        }
        self.tx_update(
            &keys::target(ws, campaign_id, phone),
            &update,
            Some("#status = :dialing AND last_call_id = :call"),
            values,
        )
    }

    /// A transaction's claims: each target moved as claimed, then each number's cool-down
    /// (after all the targets, so a failed item's index names a target).
    fn claim_items(
        &self,
        ws: &str,
        claims: &[(Target, Target)],
    ) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>, StoreError> {
        let mut items = Vec::with_capacity(claims.len() * 2);
        for (target, next) in claims {
            items.push(self.move_target(ws, target, next)?);
        }
        for (target, next) in claims {
            let cooldown = self.cooldown_item(ws, &target.phone, &target.campaign_id, next.updated_at)?;
            items.push(self.tx_put(cooldown, None, Item::new())?);
        }
        Ok(items)
    }

    /// The Update of a transaction that adds `deltas` to a campaign's counters.
    fn count(
        &self,
        ws: &str,
        campaign_id: &str,
        deltas: &[(&str, i64)],
        condition: Option<(&str, Item)>,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
        let mut values = Item::new();
        let parts: Vec<String> = deltas
            .iter()
            .filter(|(_, d)| *d != 0)
            .enumerate()
            .map(|(i, (name, delta))| {
                values.insert(format!(":d{i}"), n(delta));
                format!("#{name} :d{i}")
            })
            .collect();
        let (condition, more) = condition.unwrap_or(("", Item::new()));
        values.extend(more);
        let condition = (!condition.is_empty()).then_some(condition);
        self.tx_update(
            &keys::campaign_state(ws, campaign_id),
            &format!("ADD {}", parts.join(", ")),
            condition,
            values,
        )
    }
}

/// What a campaign's counters gain when a dialing target moves on to `status`.
/// What claiming `taking` targets adds to the counters.
fn claimed_counts(taking: i64) -> [(&'static str, i64); 3] {
    [("in_flight", taking), ("pending", -taking), ("calls_total", taking)]
}

/// The counters' condition that `more` slots are free.
fn slots_free(max_in_flight: u32, more: i64) -> (&'static str, Item) {
    (
        "attribute_not_exists(in_flight) OR in_flight <= :most",
        HashMap::from([(":most".to_owned(), n(i64::from(max_in_flight) - more))]),
    )
}

fn settled_counts(status: TargetStatus, settlement: Settlement) -> Vec<(&'static str, i64)> {
    let mut deltas = vec![("in_flight", -1)];
    deltas.push(match status {
        TargetStatus::Pending => ("pending", 1),
        TargetStatus::Completed => ("calls_completed", 1),
        _ => ("calls_failed", 1),
    });
    if settlement == Settlement::NeverPlaced {
        deltas.push(("calls_total", -1));
    }
    deltas
}

fn status_name(status: TargetStatus) -> &'static str {
    match status {
        TargetStatus::Pending => "pending",
        TargetStatus::Dialing => "dialing",
        TargetStatus::Completed => "completed",
        TargetStatus::Failed => "failed",
        TargetStatus::Skipped => "skipped",
    }
}

fn page_key(last: Option<HashMap<String, AttributeValue>>) -> Option<PageKey> {
    last.filter(|k| !k.is_empty()).map(|k| {
        k.into_iter()
            .filter_map(|(name, v)| Some((name, v.as_s().ok()?.clone())))
            .collect()
    })
}

#[async_trait]
impl CampaignStore for DynamoStore {
    async fn stats(&self, ws: &str, campaign_ids: &[String]) -> Result<HashMap<String, CampaignStats>, StoreError> {
        let wanted: Vec<keys::Key> = campaign_ids.iter().map(|id| keys::campaign_state(ws, id)).collect();
        let mut stats: HashMap<String, CampaignStats> = campaign_ids
            .iter()
            .map(|id| (id.clone(), CampaignStats::default()))
            .collect();
        for item in self.get_many(&wanted).await? {
            if let Some(id) = get_s(&item, keys::SK) {
                stats.insert(id.to_owned(), counters(&item));
            }
        }
        Ok(stats)
    }

    async fn existing_targets(
        &self,
        ws: &str,
        campaign_id: &str,
        phones: &[String],
    ) -> Result<HashMap<String, String>, StoreError> {
        let wanted: Vec<keys::Key> = phones.iter().map(|p| keys::target(ws, campaign_id, p)).collect();
        Ok(self
            .get_many(&wanted)
            .await?
            .iter()
            .filter_map(|item| Some((get_s(item, "phone")?.to_owned(), get_s(item, IMPORT_ID)?.to_owned())))
            .collect())
    }

    async fn add_targets(&self, ws: &str, import_id: &str, targets: &[Target]) -> Result<(), StoreError> {
        let items = targets
            .iter()
            .map(|t| {
                let mut item = target_item(ws, t)?;
                item.insert(IMPORT_ID.into(), s(import_id));
                Ok(item)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.put_many(items).await
    }

    async fn target(&self, ws: &str, campaign_id: &str, phone: &str) -> Result<Option<Target>, StoreError> {
        self.get_as(&keys::target(ws, campaign_id, phone)).await
    }

    async fn targets(
        &self,
        ws: &str,
        campaign_id: &str,
        status: Option<TargetStatus>,
        page: PageRequest,
    ) -> Result<Page<Target>, StoreError> {
        let PageRequest { limit, after } = page;
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :campaign)")
            .expression_attribute_values(":pk", s(keys::target_partition(ws)))
            .expression_attribute_values(":campaign", s(format!("{campaign_id}#")))
            .limit(limit as i32)
            .set_exclusive_start_key(start_key(after))
            .consistent_read(true);
        if let Some(status) = status {
            request = request
                .filter_expression("#status = :status")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(status_name(status)));
        }
        let out = request.send().await.map_err(sdk_error)?;
        let items = from_items(out.items)?;
        Ok(Page {
            items,
            next: page_key(out.last_evaluated_key),
        })
    }

    async fn queue(
        &self,
        ws: &str,
        campaign_id: &str,
        status: TargetStatus,
        limit: u32,
    ) -> Result<Vec<Target>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(":pk", s(keys::target_queue(ws, campaign_id, status)))
            .limit(limit as i32)
            .send()
            .await
            .map_err(sdk_error)?;
        from_items(out.items)
    }

    async fn dialing(
        &self,
        ws: &str,
        agent_id: &str,
        number_id: &str,
        phones: &[String],
        now: DateTime<Utc>,
    ) -> Result<Dialing, StoreError> {
        let agent_key = keys::resource(ws, <Agent as Layout>::COLLECTION, agent_id);
        let number_key = keys::resource(ws, <PhoneNumber as Layout>::COLLECTION, number_id);
        let (workspace_key, wallet_key) = (keys::workspace(ws), keys::wallet(ws));
        // Both lists, whatever their counts: this read brings the rest in the same request.
        let screen = self.screen_read(ws, phones, [true; 3])?;
        let mut wanted = vec![
            agent_key.clone(),
            number_key.clone(),
            workspace_key.clone(),
            wallet_key.clone(),
        ];
        wanted.extend(screen.keys.iter().cloned());
        let items = self.get_many(&wanted).await?;
        let mut dialing = Dialing {
            agent: None,
            number: None,
            plan: Plan::Starter,
            allowed_countries: Vec::new(),
            screened: screen.screened(&items, now),
        };
        for item in items {
            if is_at(&item, &agent_key) {
                dialing.agent = Some(decode::<Agent>(item)?.value);
            } else if is_at(&item, &number_key) {
                dialing.number = Some(decode::<PhoneNumber>(item)?.value);
            } else if is_at(&item, &workspace_key) {
                dialing.plan = from_item::<Workspace>(item)?.plan;
            } else if is_at(&item, &wallet_key) {
                dialing.allowed_countries = from_item::<WalletItem>(item)?.allowed_countries;
            }
        }
        Ok(dialing)
    }

    async fn claim(&self, ws: &str, claims: &[(Target, Target)], max_in_flight: u32) -> Result<Claim, StoreError> {
        let Some((first, _)) = claims.first() else {
            return Ok(Claim::Claimed);
        };
        let taking = claims.len() as i64;
        if taking > i64::from(max_in_flight) {
            return Ok(Claim::NoSlot);
        }
        let mut items = vec![self.count(
            ws,
            &first.campaign_id,
            &claimed_counts(taking),
            Some(slots_free(max_in_flight, taking)),
        )?];
        items.extend(self.claim_items(ws, claims)?);
        match self.transact(items).await {
            Ok(()) => Ok(Claim::Claimed),
            Err(e) if e.failed_at(0) => Ok(Claim::NoSlot),
            Err(e) => {
                let taken: Vec<usize> = (0..claims.len()).filter(|i| e.failed_at(i + 1)).collect();
                if taken.is_empty() {
                    Err(e.into_store())
                } else {
                    Ok(Claim::Taken(taken))
                }
            }
        }
    }

    async fn settle(
        &self,
        ws: &str,
        target: &Target,
        next: &Target,
        settlement: Settlement,
    ) -> Result<bool, StoreError> {
        let items = vec![
            self.move_target(ws, target, next)?,
            self.count(ws, &target.campaign_id, &settled_counts(next.status, settlement), None)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(e) if e.failed_at(0) => Ok(false),
            Err(e) => Err(e.into_store()),
        }
    }

    async fn settle_and_claim(
        &self,
        ws: &str,
        campaign_id: &str,
        campaign_version: u64,
        ended: &[EndedCall],
        claims: &[(Target, Target)],
        max_in_flight: u32,
    ) -> Result<SettledAndClaimed, StoreError> {
        if ended.is_empty() && claims.is_empty() {
            return Ok(SettledAndClaimed::Done);
        }
        if ended.len() > MAX_SETTLE_BATCH || claims.len() > MAX_SETTLE_BATCH {
            return Err(StoreError::Other(anyhow::anyhow!(
                "at most {MAX_SETTLE_BATCH} ends and claims at once"
            )));
        }
        // One update of the counters (an item appears once in a transaction): every end's
        // and every claim's, added up.
        let mut deltas = std::collections::BTreeMap::<&str, i64>::new();
        for call in ended {
            for (name, delta) in settled_counts(call.end.status, Settlement::Ended) {
                *deltas.entry(name).or_default() += delta;
            }
        }
        let taking = claims.len() as i64;
        for (name, delta) in claimed_counts(taking) {
            *deltas.entry(name).or_default() += delta;
        }
        let deltas: Vec<(&str, i64)> = deltas.into_iter().collect();
        let more = taking - ended.len() as i64;
        // Any claim is held to the cap, even one that only takes an ended call's slot: the cap
        // may have been lowered below the calls in flight.
        let mut items = vec![
            self.count(
                ws,
                campaign_id,
                &deltas,
                (taking > 0).then(|| slots_free(max_in_flight, more)),
            )?,
            self.tx_check(
                &keys::resource(ws, <Campaign as Layout>::COLLECTION, campaign_id),
                "version = :v",
                Item::from([(":v".to_owned(), n(campaign_version))]),
            )?,
        ];
        for call in ended {
            items.push(self.settle_item(ws, campaign_id, call)?);
        }
        items.extend(self.claim_items(ws, claims)?);
        let Err(e) = self.transact(items).await else {
            return Ok(SettledAndClaimed::Done);
        };
        let first_claim = 2 + ended.len();
        let settled_before: Vec<usize> = (0..ended.len()).filter(|i| e.failed_at(2 + i)).collect();
        let taken: Vec<usize> = (0..claims.len()).filter(|i| e.failed_at(first_claim + i)).collect();
        Ok(if e.failed_at(1) {
            SettledAndClaimed::CampaignChanged
        } else if !settled_before.is_empty() {
            SettledAndClaimed::SettledBefore(settled_before)
        } else if !taken.is_empty() {
            SettledAndClaimed::Taken(taken)
        } else if e.failed_at(0) {
            SettledAndClaimed::NoSlot
        } else {
            return Err(e.into_store());
        })
    }

    async fn skip(&self, ws: &str, target: &Target, next: &Target) -> Result<bool, StoreError> {
        let items = vec![
            self.move_target(ws, target, next)?,
            self.count(ws, &target.campaign_id, &[("pending", -1), ("skipped", 1)], None)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(e) if e.failed_at(0) => Ok(false),
            Err(e) => Err(e.into_store()),
        }
    }

    async fn defer(&self, ws: &str, target: &Target, next: &Target) -> Result<bool, StoreError> {
        match self.transact(vec![self.move_target(ws, target, next)?]).await {
            Ok(()) => Ok(true),
            Err(e) if e.failed_at(0) => Ok(false),
            Err(e) => Err(e.into_store()),
        }
    }

    async fn schedule_tick(&self, ws: &str, campaign_id: &str, at: i64, lost_before: i64) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(&keys::campaign_state(ws, campaign_id))))
            .update_expression("SET next_tick_at = :at")
            .condition_expression("attribute_not_exists(next_tick_at) OR next_tick_at > :at OR next_tick_at < :lost")
            .expression_attribute_values(":at", n(at))
            .expression_attribute_values(":lost", n(lost_before))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(sdk_error(err)),
        }
    }

    async fn tick_ran(&self, ws: &str, campaign_id: &str, at: i64) -> Result<Option<CampaignStats>, StoreError> {
        use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
        use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(&keys::campaign_state(ws, campaign_id))))
            .update_expression("REMOVE next_tick_at")
            .condition_expression("next_tick_at = :at")
            .expression_attribute_values(":at", n(at))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.attributes.map(|item| counters(&item))),
            // Another tick was scheduled meanwhile: it stays; the counters come all the same.
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(e)) => Ok(e.item().map(counters)),
                _ => Err(sdk_error(err)),
            },
        }
    }

    async fn create_import(&self, ws: &str, import: &AudienceImport, chunks: &[Vec<String>]) -> Result<(), StoreError> {
        let expires = n(import.created_at.timestamp() + 86_400);
        let chunk_items = chunks
            .iter()
            .enumerate()
            .map(|(i, rows)| {
                let mut chunk = key_map(&keys::import_chunk(ws, &import.id, i));
                chunk.insert(keys::ENTITY.into(), s(entity::IMPORT_CHUNK));
                chunk.insert("rows".into(), AttributeValue::L(rows.iter().map(s).collect()));
                chunk.insert(keys::TTL.into(), expires.clone());
                chunk
            })
            .collect();
        // The chunks first: without the import they are never read, and expire.
        self.put_many(chunk_items).await?;
        let mut item = item_of(&keys::audience_import(ws, &import.id), entity::AUDIENCE_IMPORT, import)?;
        item.insert("chunks_total".into(), n(chunks.len()));
        item.insert("chunks_done".into(), n(0));
        item.insert(keys::TTL.into(), n(import.created_at.timestamp() + 7 * 86_400));
        let mut items = vec![self.tx_put(item, NEW_ITEM, Item::new())?];
        if !chunks.is_empty() {
            items.push(self.count(
                ws,
                &import.campaign_id,
                &[("chunks_pending", chunks.len() as i64)],
                None,
            )?);
        }
        self.transact(items).await.map_err(TransactError::into_store)
    }

    async fn import_chunk(&self, ws: &str, import_id: &str, chunk: usize) -> Result<Option<Vec<String>>, StoreError> {
        Ok(self
            .get_item(&keys::import_chunk(ws, import_id, chunk))
            .await?
            .map(|item| {
                item.get("rows")
                    .and_then(|v| v.as_l().ok())
                    .map(|list| list.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
                    .unwrap_or_default()
            }))
    }

    async fn finish_chunk(
        &self,
        ws: &str,
        campaign_id: &str,
        import_id: &str,
        chunk: usize,
        counts: &AudienceCounts,
    ) -> Result<Option<AudienceImport>, StoreError> {
        // The chunk item is the proof a chunk was not counted yet: deleting it and counting
        // happen together, so a repeated job counts nothing twice.
        let mut values = Item::new();
        let mut adds = vec!["chunks_done :one".to_owned()];
        values.insert(":one".into(), n(1));
        for (i, (name, value)) in counter_values(counts).into_iter().enumerate() {
            adds.push(format!("{name} :c{i}"));
            values.insert(format!(":c{i}"), n(value));
        }
        let items = vec![
            self.tx_delete(
                &keys::import_chunk(ws, import_id, chunk),
                Some("attribute_exists(PK)"),
                Item::new(),
            )?,
            self.tx_update(
                &keys::audience_import(ws, import_id),
                &format!("ADD {}", adds.join(", ")),
                None,
                values,
            )?,
            self.count(
                ws,
                campaign_id,
                &[
                    ("targets_total", counts.accepted as i64),
                    ("pending", counts.accepted as i64),
                    ("chunks_pending", -1),
                ],
                None,
            )?,
        ];
        match self.transact(items).await {
            Ok(()) => {}
            Err(e) if e.failed_at(0) => return Ok(None),
            Err(e) => return Err(e.into_store()),
        }
        self.audience_import(ws, import_id).await
    }

    async fn audience_import(&self, ws: &str, import_id: &str) -> Result<Option<AudienceImport>, StoreError> {
        let Some(item) = self.get_item(&keys::audience_import(ws, import_id)).await? else {
            return Ok(None);
        };
        let mut import: AudienceImport = from_item(item.clone())?;
        let get = |name: &str| get_n(&item, name).unwrap_or(0).max(0) as u64;
        import.counts = AudienceCounts {
            accepted: get("accepted"),
            rejected_dnc: get("rejected_dnc"),
            rejected_cooldown: get("rejected_cooldown"),
            rejected_invalid: get("rejected_invalid"),
            rejected_duplicate: get("rejected_duplicate"),
        };
        if get("chunks_done") >= get("chunks_total") {
            import.status = ImportStatus::Completed;
        }
        Ok(Some(import))
    }

    async fn contacts_by_phone(
        &self,
        ws: &str,
        phones: &[String],
    ) -> Result<HashMap<String, (String, Option<String>)>, StoreError> {
        // A workspace with no contact's number has none to look up.
        if phones.len() > BATCH_GET_KEYS && !self.any_in(&keys::unique(ws, CONTACT_PHONE, "").pk).await? {
            return Ok(HashMap::new());
        }
        let guards: Vec<keys::Key> = phones.iter().map(|p| keys::unique(ws, CONTACT_PHONE, p)).collect();
        let owners: HashMap<String, String> = self
            .get_many(&guards)
            .await?
            .iter()
            .filter_map(|item| Some((get_s(item, "owner_id")?.to_owned(), get_s(item, keys::SK)?.to_owned())))
            .collect();
        let wanted: Vec<keys::Key> = owners.keys().map(|id| keys::resource(ws, "CONTACT", id)).collect();
        let mut found = HashMap::new();
        for item in self.get_many(&wanted).await? {
            if let (Some(id), Some(phone)) = (get_s(&item, "id"), get_s(&item, "phone")) {
                let timezone = get_s(&item, "timezone").map(str::to_owned);
                found.insert(phone.to_owned(), (id.to_owned(), timezone));
            }
        }
        Ok(found)
    }

    async fn complete_import(&self, ws: &str, import: &AudienceImport) -> Result<(), StoreError> {
        let mut values = Item::new();
        values.insert(":done".into(), s("completed"));
        values.insert(":at".into(), s(stamp(import.completed_at.unwrap_or_else(Utc::now))));
        values.insert(":total".into(), n(import.total_targets.unwrap_or(0)));
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(&keys::audience_import(ws, &import.id))))
            .update_expression("SET #status = :done, completed_at = :at, total_targets = :total")
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}

fn counter_values(counts: &AudienceCounts) -> [(&'static str, u64); 5] {
    [
        ("accepted", counts.accepted),
        ("rejected_dnc", counts.rejected_dnc),
        ("rejected_cooldown", counts.rejected_cooldown),
        ("rejected_invalid", counts.rejected_invalid),
        ("rejected_duplicate", counts.rejected_duplicate),
    ]
}
