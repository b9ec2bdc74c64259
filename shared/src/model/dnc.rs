//! The do-not-call list: numbers a workspace never dials.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::object_name;

object_name!(DncEntryObject, "dnc_entry");

/// How a number came onto the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DncSource {
    /// Added through the API.
    Api,
    /// The callee asked, during a call or chat, not to be called again.
    Conversation,
    Import,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DncEntry {
    pub object: DncEntryObject,
    pub phone_e164: String,
    pub reason: Option<String>,
    pub source: DncSource,
    pub added_at: DateTime<Utc>,
}
