//! Workspaces (tenants) and their users.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Plan, Role};
use crate::object_name;

object_name!(WorkspaceObject, "workspace");
object_name!(UserObject, "user");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkspaceStatus {
    Active,
    Suspended,
}

/// What ends the id of a workspace's test-mode twin. The twin holds the workspace's test data
/// in partitions of its own, since every key starts with the workspace id: a test key never
/// sees a live object, nor a live key a test one.
const TEST_SUFFIX: &str = "_test";

/// The id of the test-mode twin of the workspace `live`.
pub fn test_workspace_id(live: &str) -> String {
    format!("{live}{TEST_SUFFIX}")
}

/// Whether `workspace_id` has the shape of a workspace's id (a customer's among them), or of
/// its test-mode twin's.
pub fn is_workspace_id(workspace_id: &str) -> bool {
    let live = workspace_id.strip_suffix(TEST_SUFFIX).unwrap_or(workspace_id);
    crate::ids::is_valid(crate::ids::prefix::WORKSPACE, live)
        || crate::ids::is_valid(crate::ids::prefix::CUSTOMER, live)
}

/// Whether `workspace_id` is a test-mode twin.
pub fn is_test_workspace(workspace_id: &str) -> bool {
    workspace_id.ends_with(TEST_SUFFIX)
}

/// Test money a test-mode twin starts with: its calls cost nothing real.
pub const TEST_CREDIT_MINOR: i64 = 100_000;

pub(crate) fn live() -> bool {
    true
}

/// A tenant: every other resource belongs to exactly one workspace.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Workspace {
    #[schema(example = "ws_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: WorkspaceObject,
    pub name: String,
    pub plan: Plan,
    /// ISO 3166-1 alpha-2; the default region for phone numbers written without a country code.
    pub country: Option<String>,
    pub status: WorkspaceStatus,
    /// The agency whose customer this workspace is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_workspace_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Inactive,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct User {
    #[schema(example = "usr_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: UserObject,
    pub workspace_id: String,
    pub email: String,
    pub full_name: Option<String>,
    pub role: Role,
    pub status: UserStatus,
    pub email_verified: bool,
    pub email_verified_at: Option<DateTime<Utc>>,
    /// When any of the member's sessions was last used (lists of members only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
