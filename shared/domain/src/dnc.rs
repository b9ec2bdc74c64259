//! The do-not-call list.

use chrono::{DateTime, Utc};

use switchboard_core::Error;
use switchboard_core::model::{DncEntry, DncEntryObject, DncList, DncSource};
use switchboard_core::ports::DncStore;

/// Puts a number on the list (or refreshes its entry).
pub async fn add(
    store: &dyn DncStore,
    workspace_id: &str,
    phone_e164: &str,
    reason: Option<String>,
    source: DncSource,
    now: DateTime<Utc>,
) -> Result<DncEntry, Error> {
    let entry = DncEntry {
        object: DncEntryObject,
        phone_e164: phone_e164.to_owned(),
        list: DncList::Dnc,
        reason,
        source,
        added_at: switchboard_core::clock::api_time(now),
    };
    store.add_dnc(workspace_id, &entry).await?;
    Ok(entry)
}

pub async fn contains(store: &dyn DncStore, workspace_id: &str, phone_e164: &str) -> Result<bool, Error> {
    Ok(store.dnc_entry(workspace_id, DncList::Dnc, phone_e164).await?.is_some())
}
