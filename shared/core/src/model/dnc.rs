//! The lists a number is checked against before it is called: the workspace's do-not-call
//! list, the national registry it imported (e.g. India's NCPR), and the 7-day cool-down after
//! a campaign called it.

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

/// Which list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DncList {
    /// The workspace's own do-not-call list.
    #[default]
    Dnc,
    /// A national do-not-call registry the workspace imported.
    Registry,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DncEntry {
    pub object: DncEntryObject,
    #[schema(example = "+14155550100")]
    pub phone_e164: String,
    #[serde(default)]
    pub list: DncList,
    pub reason: Option<String>,
    pub source: DncSource,
    pub added_at: DateTime<Utc>,
}

/// How long after a campaign called a number no other campaign may call it.
pub const COOLDOWN_DAYS: i64 = 7;

/// What the lists say about a number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Screening {
    pub on_dnc: bool,
    pub on_registry: bool,
    /// The campaign that called the number in the last 7 days, if one did.
    pub cooldown_campaign: Option<String>,
}

impl Screening {
    /// Whether `campaign` may call the number: a campaign may call back whom it called itself.
    pub fn allows(&self, campaign: Option<&str>) -> bool {
        !self.on_dnc && !self.on_registry && self.cooldown_campaign.as_deref().is_none_or(|c| Some(c) == campaign)
    }
}
