//! Plan tiers and the limits they set.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    Starter,
    Professional,
    Business,
    Enterprise,
}

/// Active API keys a workspace may have, on every plan.
pub const MAX_ACTIVE_API_KEYS: u32 = 10;
/// Webhook endpoints a workspace may have, on every plan.
pub const MAX_WEBHOOK_ENDPOINTS: u32 = 16;

/// Which rate limit a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateClass {
    Read,
    Write,
    CampaignStart,
}

impl RateClass {
    pub const ALL: [RateClass; 3] = [RateClass::Read, RateClass::Write, RateClass::CampaignStart];
}

impl Plan {
    /// Requests per 60 s per credential: a token bucket of this many, refilled evenly over a minute.
    pub fn rate_limit(self, class: RateClass) -> u32 {
        use RateClass::*;
        match (self, class) {
            (Plan::Starter, Read) => 100,
            (Plan::Starter, Write) => 20,
            (Plan::Starter, CampaignStart) => 5,
            (Plan::Professional, Read) => 300,
            (Plan::Professional, Write) => 60,
            (Plan::Professional, CampaignStart) => 10,
            (Plan::Business, Read) => 600,
            (Plan::Business, Write) => 120,
            (Plan::Business, CampaignStart) => 20,
            (Plan::Enterprise, Read) => 1000,
            (Plan::Enterprise, Write) => 500,
            (Plan::Enterprise, CampaignStart) => 30,
        }
    }

    /// Requests per 60 s of all the workspace's credentials together: three credentials at
    /// full speed, however many keys and sessions it has.
    pub fn workspace_rate_limit(self, class: RateClass) -> u32 {
        3 * self.rate_limit(class)
    }

    /// Price of a started minute of conversation in `mode`, in US cents: with the platform's
    /// providers the bundled rate, with the workspace's own only the platform's fee (its
    /// providers bill it directly).
    pub fn per_minute_minor_in(self, mode: super::ProviderMode) -> i64 {
        match mode {
            super::ProviderMode::Bundled => self.per_minute_minor(),
            super::ProviderMode::Byok => self.platform_fee_per_minute_minor(),
        }
    }

    /// The platform's fee for a started minute of a call through the workspace's own providers.
    pub fn platform_fee_per_minute_minor(self) -> i64 {
        match self {
            Plan::Starter | Plan::Professional => 3,
            Plan::Business | Plan::Enterprise => 2,
        }
    }

    /// Price of a started minute of conversation with the platform's providers, in US cents.
    pub fn per_minute_minor(self) -> i64 {
        match self {
            Plan::Starter => 12,
            Plan::Professional => 10,
            Plan::Business => 8,
            Plan::Enterprise => 6,
        }
    }

    /// Calls in progress at once across the workspace: single calls and every campaign's.
    pub fn max_active_calls(self) -> u32 {
        match self {
            Plan::Starter => 20,
            Plan::Professional => 50,
            Plan::Business => 200,
            Plan::Enterprise => 1000,
        }
    }

    /// Days an audit entry stays in the log.
    pub fn audit_retention_days(self) -> i64 {
        match self {
            Plan::Starter => 30,
            Plan::Professional => 90,
            Plan::Business => 365,
            Plan::Enterprise => 730,
        }
    }

    /// Days a call recording is kept (the recordings bucket's lifecycle deletes it then).
    pub fn recording_retention_days(self) -> u32 {
        match self {
            Plan::Starter => 30,
            Plan::Professional => 90,
            Plan::Business => 365,
            Plan::Enterprise => 730,
        }
    }

    /// Customers an agency workspace may have.
    pub fn max_customers(self) -> u32 {
        match self {
            Plan::Starter => 5,
            Plan::Professional => 50,
            Plan::Business => 250,
            Plan::Enterprise => 2500,
        }
    }

    pub fn max_agents(self) -> u32 {
        match self {
            Plan::Starter => 10,
            Plan::Professional => 50,
            Plan::Business => 250,
            Plan::Enterprise => 1000,
        }
    }
}

impl FromStr for Plan {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "starter" => Ok(Plan::Starter),
            "professional" => Ok(Plan::Professional),
            "business" => Ok(Plan::Business),
            "enterprise" => Ok(Plan::Enterprise),
            _ => Err("expected starter, professional, business or enterprise".into()),
        }
    }
}
