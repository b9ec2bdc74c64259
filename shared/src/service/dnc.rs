//! The do-not-call list.

use chrono::{DateTime, Utc};

use crate::error::{ApiError, ErrorCode};
use crate::model::{DncEntry, DncEntryObject, DncList, DncSource};
use crate::ports::DncStore;

/// Puts a number on the list (or refreshes its entry).
pub async fn add(
    store: &dyn DncStore,
    workspace_id: &str,
    phone_e164: &str,
    reason: Option<String>,
    source: DncSource,
    now: DateTime<Utc>,
) -> Result<DncEntry, ApiError> {
    let entry = DncEntry {
        object: DncEntryObject,
        phone_e164: phone_e164.to_owned(),
        list: DncList::Dnc,
        reason,
        source,
        added_at: crate::clock::api_time(now),
    };
    store
        .add_dnc(workspace_id, &entry)
        .await
        .map_err(|e| e.into_api(ErrorCode::InternalError))?;
    Ok(entry)
}

pub async fn contains(store: &dyn DncStore, workspace_id: &str, phone_e164: &str) -> Result<bool, ApiError> {
    Ok(store
        .dnc_entry(workspace_id, DncList::Dnc, phone_e164)
        .await
        .map_err(|e| e.into_api(ErrorCode::InternalError))?
        .is_some())
}
