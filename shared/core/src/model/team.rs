//! Who may do what in a workspace: resource families, the grants a role gives on them, custom
//! roles, and invitations.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Scope;
use crate::object_name;

object_name!(RoleObject, "role");
object_name!(InvitationObject, "invitation");

/// The resource families permissions are granted on. Every authenticated route belongs to one,
/// named by the first segment of its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Agents,
    Calls,
    Campaigns,
    Contacts,
    Numbers,
    Appointments,
    Approvals,
    Billing,
    Webhooks,
    ApiKeys,
    /// Members, roles, the audit log and secrets.
    Workspace,
    /// Workflows with their triggers and runs, connectors, connections and the automation
    /// assistant.
    Automation,
}

impl Family {
    pub const ALL: [Family; 12] = [
        Family::Agents,
        Family::Calls,
        Family::Campaigns,
        Family::Contacts,
        Family::Numbers,
        Family::Appointments,
        Family::Approvals,
        Family::Billing,
        Family::Webhooks,
        Family::ApiKeys,
        Family::Workspace,
        Family::Automation,
    ];

    /// The family of a route path; `None` for the caller's own account (`/v1/auth/...`) and
    /// public paths, which no role restricts.
    pub fn of_path(path: &str) -> Option<Family> {
        let segment = path.strip_prefix("/v1/")?.split('/').next()?;
        Some(match segment {
            "agents" | "voices" => Family::Agents,
            "calls" | "telephony" | "reports" => Family::Calls,
            "campaigns" => Family::Campaigns,
            "contacts" | "dnc" | "timeline" | "dsr" => Family::Contacts,
            "numbers" => Family::Numbers,
            "appointments" => Family::Appointments,
            "approvals" => Family::Approvals,
            "billing" => Family::Billing,
            "webhooks" => Family::Webhooks,
            "api-keys" => Family::ApiKeys,
            "users" | "roles" | "audit" | "secrets" | "onboarding" | "customers" => Family::Workspace,
            "workflows" | "executions" | "triggers" | "connectors" | "connections" | "ai" => Family::Automation,
            _ => return None,
        })
    }
}

/// What a role may do on each family: `read` (GET), `write` (changes), `admin` (destructive
/// changes and workspace administration) — the scopes of API keys, per family. A family left
/// out is not visible at all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"agents": "write", "calls": "read"}))]
pub struct Grants(pub BTreeMap<Family, Scope>);

impl Grants {
    pub fn all(scope: Scope) -> Self {
        Grants(Family::ALL.iter().map(|&f| (f, scope)).collect())
    }

    pub fn get(&self, family: Family) -> Option<Scope> {
        self.0.get(&family).copied()
    }

    pub fn allows(&self, family: Family, needed: Scope) -> bool {
        self.get(family).is_some_and(|granted| granted >= needed)
    }

    /// Whether everything `other` grants, this grants too.
    pub fn covers(&self, other: &Grants) -> bool {
        other.0.iter().all(|(&family, &scope)| self.allows(family, scope))
    }

    /// The grants of an API key of `scope` made by someone with these grants.
    pub fn capped(&self, scope: Scope) -> Grants {
        Grants(self.0.iter().map(|(&f, &s)| (f, s.min(scope))).collect())
    }
}

/// A member's role: one of the four built in, or a custom role of the workspace (`rol_...`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Role {
    Owner,
    Admin,
    Member,
    Viewer,
    Custom(String),
}

impl Role {
    pub const BUILT_IN: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Viewer];

    pub fn as_str(&self) -> &str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
            Role::Custom(id) => id,
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Some(match text {
            "owner" => Role::Owner,
            "admin" => Role::Admin,
            "member" => Role::Member,
            "viewer" => Role::Viewer,
            id if crate::ids::is_valid(crate::ids::prefix::ROLE, id) => Role::Custom(id.to_owned()),
            _ => return None,
        })
    }

    /// What a built-in role grants; `None` for a custom role, whose grants are stored with it.
    pub fn built_in_grants(&self) -> Option<Grants> {
        Some(match self {
            Role::Owner | Role::Admin => Grants::all(Scope::Admin),
            Role::Member => {
                let mut grants = Grants::all(Scope::Write);
                grants.0.insert(Family::Billing, Scope::Read);
                grants.0.insert(Family::Workspace, Scope::Read);
                grants
            }
            Role::Viewer => {
                let mut grants = Grants::all(Scope::Read);
                // Minting keys is a change; a viewer's keys would be read-only, but a viewer
                // makes no changes at all.
                grants.0.insert(Family::ApiKeys, Scope::Read);
                grants
            }
            Role::Custom(_) => return None,
        })
    }
}

impl Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Role::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown role `{text}`: owner, admin, member, viewer or a custom role's id (rol_...)"
            ))
        })
    }
}

impl utoipa::PartialSchema for Role {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "`owner`, `admin`, `member`, `viewer`, or the id of a custom role (`rol_...`).",
            ))
            .examples([serde_json::json!("member")])
            .into()
    }
}

impl ToSchema for Role {}

/// A role a workspace defined: a name and what it grants.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomRole {
    #[schema(example = "rol_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: RoleObject,
    #[schema(example = "Campaign manager")]
    pub name: String,
    pub description: Option<String>,
    pub grants: Grants,
    /// How many members hold the role; a role still held cannot be deleted.
    pub member_count: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A role as `GET /v1/roles` lists it: built-in ones have their name as id.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoleView {
    #[schema(example = "member")]
    pub id: String,
    pub object: RoleObject,
    pub name: String,
    pub built_in: bool,
    pub grants: Grants,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Expired,
}

/// An invitation to join a workspace, sent by email; the link in it is valid for 7 days, once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Invitation {
    #[schema(example = "inv_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: InvitationObject,
    pub email: String,
    pub role: Role,
    pub status: InvitationStatus,
    pub invited_by_user_id: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_has_a_path_and_auth_has_none() {
        for path in [
            "/v1/agents",
            "/v1/calls/{id}",
            "/v1/campaigns",
            "/v1/contacts",
            "/v1/numbers",
            "/v1/appointments",
            "/v1/approvals",
            "/v1/billing/balance",
            "/v1/webhooks",
            "/v1/api-keys",
            "/v1/users",
        ] {
            assert!(Family::of_path(path).is_some(), "{path}");
        }
        assert_eq!(Family::of_path("/v1/auth/me"), None);
        assert_eq!(Family::of_path("/v1/dnc/{phone}"), Some(Family::Contacts));
    }

    #[test]
    fn built_in_roles_nest() {
        let [owner, admin, member, viewer] = Role::BUILT_IN.map(|r| r.built_in_grants().unwrap());
        assert!(owner.covers(&admin) && admin.covers(&member) && member.covers(&viewer));
        assert!(!viewer.allows(Family::Agents, Scope::Write));
        assert!(!member.allows(Family::Agents, Scope::Admin));
        assert!(!member.allows(Family::Billing, Scope::Write));
    }

    #[test]
    fn roles_read_back_what_they_write() {
        for text in ["owner", "viewer", "rol_01JD3QZ9R6X4Y7T2W8V5N1M0KA"] {
            let role: Role = serde_json::from_value(serde_json::json!(text)).unwrap();
            assert_eq!(serde_json::to_value(&role).unwrap(), serde_json::json!(text));
        }
        assert!(serde_json::from_value::<Role>(serde_json::json!("superuser")).is_err());
    }
}
