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
