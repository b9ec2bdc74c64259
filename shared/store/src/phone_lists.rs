//! The lists a number is checked against: the do-not-call list, imported registries, and
//! campaigns' 7-day cool-downs (items that expire by TTL, and are checked for expiry too, since
//! TTL deletes late). Each number is keyed by its pseudonym (`pseudonyms.rs`); list entries also
//! hold the number itself until its person is erased.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Duration, Utc};

use super::keys::{self, entity};
use super::{
    BATCH_GET_KEYS, DynamoStore, Item, NEW_ITEM, from_item, from_items, get_n, get_s, item_of, key_map, n, s,
    sdk_error, start_key,
};
use switchboard_core::StoreError;
use switchboard_core::model::{COOLDOWN_DAYS, DncEntry, DncList, Screening};
use switchboard_core::ports::{DncStore, Page, PageRequest};

/// The attribute of a list entry holding the number (gone once its person is erased).
const PHONE: &str = "phone_e164";

#[async_trait]
impl DncStore for DynamoStore {
    async fn add_dnc(&self, workspace_id: &str, entry: &DncEntry) -> Result<bool, StoreError> {
        let key = keys::dnc(
            workspace_id,
            entry.list,
            &self.pseudonym(workspace_id, &entry.phone_e164)?,
        );
        let item = item_of(&key, entity::DNC, entry)?;
        let added = vec![
            self.tx_put(item.clone(), NEW_ITEM, Item::new())?,
            self.count_listed(workspace_id, entry.list, 1)?,
        ];
        match self.transact(added).await {
            Ok(()) => return Ok(true),
            Err(e) if e.failed_at(0) => {}
            Err(e) => return Err(e.into_store()),
        }
        // Listed before: the entry is refreshed with this reason and time.
        self.put(item).await?;
        Ok(false)
    }

    async fn dnc_entry(
        &self,
        workspace_id: &str,
        list: DncList,
        phone_e164: &str,
    ) -> Result<Option<DncEntry>, StoreError> {
        let key = keys::dnc(workspace_id, list, &self.pseudonym(workspace_id, phone_e164)?);
        let Some(mut item) = self.get_item(&key).await? else {
            return Ok(None);
        };
        // An erased person's entry no longer holds the number: the caller knows it.
        item.entry(PHONE.into()).or_insert_with(|| s(phone_e164));
        Ok(Some(from_item(item)?))
    }

    async fn remove_dnc(&self, workspace_id: &str, list: DncList, phone_e164: &str) -> Result<bool, StoreError> {
        let key = keys::dnc(workspace_id, list, &self.pseudonym(workspace_id, phone_e164)?);
        let removed = vec![
            self.tx_delete(&key, Some("attribute_exists(PK)"), Item::new())?,
            self.count_listed(workspace_id, list, -1)?,
        ];
        match self.transact(removed).await {
            Ok(()) => Ok(true),
            Err(e) if e.failed_at(0) => Ok(false),
            Err(e) => Err(e.into_store()),
        }
    }

    async fn list_dnc(
        &self,
        workspace_id: &str,
        list: DncList,
        page: PageRequest,
    ) -> Result<Page<DncEntry>, StoreError> {
        let PageRequest { limit, after } = page;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            // Erased people's entries block their numbers but are not listed.
            .filter_expression("attribute_exists(#phone)")
            .expression_attribute_names("#phone", PHONE)
            .expression_attribute_values(":pk", s(keys::dnc_partition(workspace_id, list)))
            .limit(limit as i32)
            .set_exclusive_start_key(start_key(after))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        let next = out.last_evaluated_key.filter(|k| !k.is_empty()).map(|k| {
            k.into_iter()
                .filter_map(|(name, v)| Some((name, v.as_s().ok()?.clone())))
                .collect()
        });
        let items = from_items(out.items)?;
        Ok(Page { items, next })
    }

    async fn import_dnc(&self, workspace_id: &str, entries: &[DncEntry]) -> Result<usize, StoreError> {
        let keys: Vec<keys::Key> = entries
            .iter()
            .map(|e| {
                Ok(keys::dnc(
                    workspace_id,
                    e.list,
                    &self.pseudonym(workspace_id, &e.phone_e164)?,
                ))
            })
            .collect::<Result<_, StoreError>>()?;
        let existing: std::collections::HashSet<(String, String)> = self
            .get_many(&keys)
            .await?
            .iter()
            .filter_map(|item| Some((get_s(item, keys::PK)?.to_owned(), get_s(item, keys::SK)?.to_owned())))
            .collect();
        let new: Vec<(&DncEntry, &keys::Key)> = entries
            .iter()
            .zip(&keys)
            .filter(|(_, key)| !existing.contains(&(key.pk.clone(), key.sk.clone())))
            .collect();
        // Counted before they are written: a list is never counted short of what it holds.
        for list in [DncList::Dnc, DncList::Registry] {
            let listed = new.iter().filter(|(entry, _)| entry.list == list).count();
            if listed > 0 {
                self.write(self.count_listed(workspace_id, list, listed as i64)?)
                    .await?;
            }
        }
        let added = new.len();
        let items = new
            .into_iter()
            .map(|(entry, key)| item_of(key, entity::DNC, entry))
            .collect::<Result<_, _>>()?;
        self.put_many(items).await?;
        Ok(added)
    }

    async fn screen(
        &self,
        workspace_id: &str,
        phones: &[String],
        now: DateTime<Utc>,
    ) -> Result<HashMap<String, Screening>, StoreError> {
        // More numbers than one request reads: the lists' counts first, and whether any
        // cool-down runs; a list known to be empty is not looked in. Fewer: one request, all.
        let looked_in = if phones.len() * 3 <= BATCH_GET_KEYS {
            [true; 3]
        } else {
            let counts_key = keys::phone_list_counts(workspace_id);
            let cooldowns = keys::cooldown(workspace_id, "").pk;
            let (counts, cooldowns) = futures::try_join!(self.get_item(&counts_key), self.any_in(&cooldowns))?;
            let counts = counts.unwrap_or_default();
            let listed = |list| get_n(&counts, list_name(list)).is_some_and(|n| n > 0);
            [listed(DncList::Dnc), listed(DncList::Registry), cooldowns]
        };
        let read = self.screen_read(workspace_id, phones, looked_in)?;
        let items = self.get_many(&read.keys).await?;
        Ok(read.screened(&items, now))
    }

    async fn start_cooldown(
        &self,
        workspace_id: &str,
        phone_e164: &str,
        campaign_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.put(self.cooldown_item(workspace_id, phone_e164, campaign_id, at)?)
            .await
    }
}

/// What screening numbers reads: each number's list entries and cool-down (`keys`), read
/// alone or with other items.
pub(crate) struct ScreenRead {
    pub(crate) keys: Vec<keys::Key>,
    /// The number each pseudonym stands for.
    phone_of: HashMap<String, String>,
    dnc: String,
    registry: String,
}

impl ScreenRead {
    /// What the lists say about each number, from the items read (others are ignored).
    pub(crate) fn screened(&self, items: &[Item], now: DateTime<Utc>) -> HashMap<String, Screening> {
        let mut screened: HashMap<String, Screening> = self
            .phone_of
            .values()
            .map(|p| (p.clone(), Screening::default()))
            .collect();
        for item in items {
            let (Some(pk), Some(phone)) = (
                get_s(item, keys::PK),
                get_s(item, keys::SK).and_then(|sk| self.phone_of.get(sk)),
            ) else {
                continue;
            };
            let Some(screening) = screened.get_mut(phone) else {
                continue;
            };
            if pk == self.dnc {
                screening.on_dnc = true;
            } else if pk == self.registry {
                screening.on_registry = true;
            } else if get_s(item, keys::ENTITY) == Some(entity::COOLDOWN)
                && get_n(item, keys::TTL).is_some_and(|until| until > now.timestamp())
            {
                screening.cooldown_campaign = get_s(item, "campaign_id").map(str::to_owned);
            }
        }
        screened
    }
}

impl DynamoStore {
    /// The read that screens `phones`: the do-not-call list, the registry and the cool-downs,
    /// where `[dnc, registry, cooldown]` say so.
    pub(crate) fn screen_read(
        &self,
        workspace_id: &str,
        phones: &[String],
        [dnc, registry, cooldown]: [bool; 3],
    ) -> Result<ScreenRead, StoreError> {
        let mut keys = Vec::with_capacity(phones.len() * 3);
        let mut phone_of = HashMap::with_capacity(phones.len());
        for phone in phones {
            let pseudonym = self.pseudonym(workspace_id, phone)?;
            if dnc {
                keys.push(keys::dnc(workspace_id, DncList::Dnc, &pseudonym));
            }
            if registry {
                keys.push(keys::dnc(workspace_id, DncList::Registry, &pseudonym));
            }
            if cooldown {
                keys.push(keys::cooldown(workspace_id, &pseudonym));
            }
            phone_of.insert(pseudonym, phone.clone());
        }
        Ok(ScreenRead {
            keys,
            phone_of,
            dnc: keys::dnc_partition(workspace_id, DncList::Dnc),
            registry: keys::dnc_partition(workspace_id, DncList::Registry),
        })
    }

    /// The Update that counts `delta` numbers more on `list`.
    fn count_listed(&self, workspace_id: &str, list: DncList, delta: i64) -> Result<TransactWriteItem, StoreError> {
        self.tx_update(
            &keys::phone_list_counts(workspace_id),
            &format!("ADD {} :delta", list_name(list)),
            None,
            Item::from([(":delta".to_owned(), n(delta))]),
        )
    }

    /// The item of a number's cool-down, started by `campaign_id` calling it at `at`.
    pub(crate) fn cooldown_item(
        &self,
        workspace_id: &str,
        phone_e164: &str,
        campaign_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Item, StoreError> {
        let mut item = key_map(&keys::cooldown(
            workspace_id,
            &self.pseudonym(workspace_id, phone_e164)?,
        ));
        item.insert(keys::ENTITY.into(), s(entity::COOLDOWN));
        item.insert("campaign_id".into(), s(campaign_id));
        item.insert(
            "called_at".into(),
            s(switchboard_core::clock::api_time(at).to_rfc3339()),
        );
        item.insert(keys::TTL.into(), n((at + Duration::days(COOLDOWN_DAYS)).timestamp()));
        Ok(item)
    }
}

fn list_name(list: DncList) -> &'static str {
    match list {
        DncList::Dnc => "dnc",
        DncList::Registry => "registry",
    }
}
