//! API keys: long-lived workspace credentials with a scope.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::object_name;

object_name!(ApiKeyObject, "api_key");

/// What a credential may do: `read` (GET only) < `write` (state changes) < `admin` (destructive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Read,
    Write,
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyStatus {
    Active,
    Expired,
    Revoked,
}

/// An API key as listed: never its secret.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiKey {
    #[schema(example = "key_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: ApiKeyObject,
    pub name: String,
    /// The first characters of the secret, to recognise the key.
    #[schema(example = "sb_live_aB3xYz")]
    pub prefix: String,
    pub scope: Scope,
    pub status: ApiKeyStatus,
    pub created_at: DateTime<Utc>,
    pub created_by_user_id: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_used_ip: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_reason: Option<String>,
    /// `test` for a test-mode key (`sb_test_...`): it sees only the workspace's test data, and
    /// its calls go through the simulator and the offline model whatever the workspace's mode.
    #[serde(default)]
    pub mode: KeyMode,
}

/// Which data a key acts on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyMode {
    #[default]
    Live,
    Test,
}

impl ApiKey {
    /// Sets `status` from the revocation and expiry times as of `now`.
    pub fn with_status_at(mut self, now: DateTime<Utc>) -> Self {
        self.status = if self.revoked_at.is_some() {
            ApiKeyStatus::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now) {
            ApiKeyStatus::Expired
        } else {
            ApiKeyStatus::Active
        };
        self
    }
}
