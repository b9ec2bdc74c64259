//! `team`: the workspace's members, invitations, roles, audit log, secrets and customers
//! (`/v1/users`, `/v1/roles`, `/v1/audit`, `/v1/secrets`, `/v1/customers`).
//!
//! Only signed-in people manage people: API keys are refused here. Owners alone make, unmake
//! or remove owners, and the workspace always keeps one.

use std::sync::Arc;

use chrono::Duration;
use http::Method;
use serde::Deserialize;
use serde_json::json;
use switchboard_core::clock::api_time;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{
    AuditEntry, CustomRole, Customer, Grants, Invitation, InvitationObject, InvitationStatus, Role, RoleObject,
    RoleView, Scope, StoredSecret, User,
};
use switchboard_core::ports::{CredentialKind, Customers, ListBy, ListQuery, Mail, Mailer, Repository, Team};
use switchboard_core::{ErrorCode, StoreError, secret, validate};
use switchboard_domain::sealing::WorkspaceKeys;
use switchboard_http::crud::Deleted;
use switchboard_http::{Access, ApiError, Platform, QueryParam, Reply, Request, Route, Service};
use switchboard_runtime::config::MailConfig;
use switchboard_store::DynamoStore;
use utoipa::ToSchema;

pub mod customers;
pub mod secrets;

pub struct State {
    pub team: Arc<dyn Team>,
    pub audit: Arc<dyn Repository<AuditEntry>>,
    pub mailer: Arc<dyn Mailer>,
    pub mail_links: MailConfig,
    pub secrets: Arc<dyn Repository<StoredSecret>>,
    pub customers: Arc<dyn Repository<Customer>>,
    pub customer_accounts: Arc<dyn Customers>,
    /// Seal secrets' values, each workspace's under its own key.
    pub keys: WorkspaceKeys,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn service(
    platform: Arc<Platform>,
    store: &DynamoStore,
    mailer: Arc<dyn Mailer>,
    mail_links: MailConfig,
    keys: WorkspaceKeys,
) -> Service<State> {
    let state = State {
        team: Arc::new(store.clone()),
        audit: Arc::new(store.clone()),
        mailer,
        mail_links,
        secrets: Arc::new(store.clone()),
        customers: Arc::new(store.clone()),
        customer_accounts: Arc::new(store.clone()),
        keys,
    };
    Service::new(platform, state, routes())
}

const USERS: &str = "Members";
const ROLES: &str = "Roles";
const AUDIT: &str = "Audit log";
const INVITATION_TTL: Duration = Duration::days(7);
/// Custom roles a workspace may define.
const MAX_CUSTOM_ROLES: usize = 50;

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/users", list_members)
            .access(Access::Session(Scope::Admin))
            .doc(USERS, "listUsers", "List members")
            .describe("Everyone in the workspace, with their role, status and when they were last seen.")
            .returns_list::<User>("The members."),
        Route::new(Method::POST, "/v1/users/invite", invite)
            .access(Access::Session(Scope::Admin))
            .doc(USERS, "inviteUser", "Invite someone")
            .describe("Emails a link that joins the workspace with `role`, valid 7 days and once. Inviting the same email again sends a new link and retires the old one. Your email must be verified; only owners invite owners.")
            .body::<InviteUser>(|| json!({"email": "grace@example.com", "role": "member"}))
            .returns::<Invitation>(201, "The invitation (the link is only in the email)."),
        Route::new(Method::GET, "/v1/users/{id}", get_member)
            .access(Access::Session(Scope::Admin))
            .doc(USERS, "getUser", "Get a member")
            .returns::<User>(200, "The member."),
        Route::new(Method::PATCH, "/v1/users/{id}", change_role)
            .access(Access::Session(Scope::Admin))
            .doc(USERS, "updateUser", "Change a member's role")
            .describe("Takes effect on the member's very next request, with every session and API key they hold. The last owner cannot be demoted (409 `last_owner`).")
            .body::<UpdateUser>(|| json!({"role": "viewer"}))
            .returns::<User>(200, "The member with their new role."),
        Route::new(Method::DELETE, "/v1/users/{id}", remove_member)
            .access(Access::Session(Scope::Admin))
            .doc(USERS, "removeUser", "Remove a member")
            .describe("Ends their sessions and revokes the API keys they made, at once. The last owner cannot be removed (409 `last_owner`).")
            .returns::<Deleted>(200, "The member was removed."),
        Route::new(Method::GET, "/v1/audit", list_audit)
            .access(Access::Scoped(Scope::Admin))
            .query([
                QueryParam::string("actor", "Only changes by this user (`usr_...`) or API key (`key_...`)."),
                QueryParam::string("resource_id", "Only changes to this resource."),
                QueryParam::string("resource_type", "Only changes to resources of this type (`agent`, `campaign`...)."),
                QueryParam::string("action", "Only this action (`agent.update`...)."),
                QueryParam::string("from", "Only changes at or after this time (ISO 8601, or a date)."),
                QueryParam::string("to", "Only changes at or before this time (ISO 8601, or a date: its end)."),
            ])
            .doc(AUDIT, "listAuditEntries", "List the audit log")
            .describe("Every change made with the workspace's credentials, newest first: who (a person or an API key), what (action, resource, the names of the fields set, never their values), when, and from where (request id, IP, user agent). Entries cannot be changed or deleted; they leave after the plan's retention (Starter 30 days, Professional 90, Business 365, Enterprise 730). Owners and admins only.")
            .returns_list::<AuditEntry>("A page of entries, newest first."),
        Route::new(Method::GET, "/v1/audit/{id}", get_audit_entry)
            .access(Access::Scoped(Scope::Admin))
            .doc(AUDIT, "getAuditEntry", "Get an audit entry")
            .returns::<AuditEntry>(200, "The entry."),
        Route::new(Method::GET, "/v1/roles", list_roles)
            .access(Access::Session(Scope::Admin))
            .doc(ROLES, "listRoles", "List roles")
            .describe("The four built-in roles, then the workspace's own, with what each grants per resource family.")
            .returns_list::<RoleView>("The roles."),
        Route::new(Method::POST, "/v1/roles", create_role)
            .access(Access::Session(Scope::Admin))
            .doc(ROLES, "createRole", "Create a custom role")
            .describe("`grants` maps resource families (agents, calls, campaigns, contacts, numbers, appointments, approvals, billing, webhooks, api_keys, workspace, automation) to `read`, `write` or `admin`; a family left out is out of reach. At most 50 per workspace.")
            .body::<RoleInput>(|| json!({"name": "Campaign manager", "grants": {"campaigns": "write", "contacts": "write", "agents": "read", "calls": "read"}}))
            .returns::<CustomRole>(201, "The role."),
        Route::new(Method::PATCH, "/v1/roles/{id}", update_role)
            .access(Access::Session(Scope::Admin))
            .doc(ROLES, "updateRole", "Update a custom role")
            .describe("New grants apply to every member holding the role from their next request.")
            .body::<RolePatch>(|| json!({"grants": {"campaigns": "write", "calls": "read"}}))
            .returns::<CustomRole>(200, "The role as it now is."),
        Route::new(Method::DELETE, "/v1/roles/{id}", delete_role)
            .access(Access::Session(Scope::Admin))
            .doc(ROLES, "deleteRole", "Delete a custom role")
            .describe("Refused with 409 `role_in_use` while a member holds it.")
            .returns::<Deleted>(200, "The role was deleted."),
    ]
    .into_iter()
    .chain(secrets::routes())
    .chain(customers::routes())
    .collect()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteUser {
    pub email: String,
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    #[schema(max_length = 80)]
    pub name: String,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    pub grants: Grants,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolePatch {
    #[schema(max_length = 80)]
    pub name: Option<String>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    pub grants: Option<Grants>,
}

/// The signed-in caller: their user id and role.
fn caller(req: &Request) -> Result<(&str, &Role), ApiError> {
    match &req.principal()?.kind {
        CredentialKind::Session { user_id, role, .. } => Ok((user_id, role)),
        CredentialKind::ApiKey { .. } => Err(ApiError::of(ErrorCode::SessionRequired)),
    }
}

/// Refuses giving out, or acting on someone who holds, more than the caller's own role grants:
/// a role that administers members cannot raise anyone, its holder included, above itself.
fn within_own_grants(req: &Request, grants: &Grants, what: &str) -> Result<(), ApiError> {
    if req.principal()?.grants.covers(grants) {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::PermissionDenied,
        format!("Your role cannot {what}: that role grants more than yours does."),
    ))
}

fn owners_only(what: &str) -> ApiError {
    ApiError::new(ErrorCode::PermissionDenied, format!("Only an owner may {what}."))
}

fn user_not_found() -> ApiError {
    ApiError::param(
        ErrorCode::UserNotFound,
        "id",
        "No member with this id in the workspace.",
    )
}

fn role_not_found(param: &str) -> ApiError {
    ApiError::param(ErrorCode::RoleNotFound, param, "No role with this id in the workspace.")
}

fn last_owner() -> ApiError {
    ApiError::new(
        ErrorCode::LastOwner,
        "The workspace must keep an owner: make someone else owner first.",
    )
}

/// One page of a short list read whole (members, roles), in its order: the cursor names the
/// last id shown.
fn page_of<T>(req: &Request, items: Vec<T>, id: impl Fn(&T) -> &str) -> Result<Reply, ApiError>
where
    T: serde::Serialize,
{
    let page = req.page("")?;
    let start = match page.after.as_ref().and_then(|after| after.get("id")) {
        Some(after) => items
            .iter()
            .position(|item| id(item) == after)
            .map_or(items.len(), |i| i + 1),
        None => 0,
    };
    let limit = page.limit as usize;
    let more = items.len() > start + limit;
    let shown: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let next = more
        .then(|| {
            shown
                .last()
                .map(|last| [("id".to_owned(), id(last).to_owned())].into_iter().collect())
        })
        .flatten();
    Ok(req.list(shown, next, ""))
}

async fn list_members(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let mut members = state.team.members(req.workspace_id()?).await?;
    members.sort_by(|a, b| a.id.cmp(&b.id));
    page_of(&req, members, |m| &m.id)
}

async fn member(state: &State, req: &Request) -> Result<User, ApiError> {
    let id = req.param("id");
    if !ids::is_valid(prefix::USER, id) {
        return Err(user_not_found());
    }
    state
        .team
        .member(req.workspace_id()?, id)
        .await?
        .ok_or_else(user_not_found)
}

async fn get_member(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    Ok(Reply::ok(&member(&state, &req).await?))
}

/// What `role` grants in the workspace, or why it cannot be given.
async fn grants_for(state: &State, req: &Request, role: &Role) -> Result<Grants, ApiError> {
    state
        .team
        .grants_of(req.workspace_id()?, role)
        .await?
        .ok_or_else(|| role_not_found("role"))
}

async fn invite(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: InviteUser = req.json()?;
    let email = validate::email("email", &input.email)?;
    let (inviter_id, inviter_role) = caller(&req)?;
    if input.role == Role::Owner && *inviter_role != Role::Owner {
        return Err(owners_only("invite an owner"));
    }
    let workspace_id = req.workspace_id()?;
    let inviter = state
        .team
        .member(workspace_id, inviter_id)
        .await?
        .ok_or_else(|| ApiError::of(ErrorCode::InvalidCredential))?;
    if !inviter.email_verified {
        return Err(ApiError::new(
            ErrorCode::EmailNotVerified,
            "Verify your email address (the link in the welcome email) before inviting people.",
        ));
    }
    within_own_grants(
        &req,
        &grants_for(&state, &req, &input.role).await?,
        "invite someone as this",
    )?;
    let token = secret::new_token();
    let now = api_time(req.now);
    let invitation = Invitation {
        id: ids::new_id_at(prefix::INVITATION, req.now),
        object: InvitationObject,
        email: email.clone(),
        role: input.role,
        status: InvitationStatus::Pending,
        invited_by_user_id: inviter.id.clone(),
        expires_at: now + INVITATION_TTL,
        created_at: now,
    };
    state
        .team
        .invite(workspace_id, &invitation, &secret::sha256_hex(&token))
        .await
        .map_err(|e| match e {
            StoreError::Conflict(ErrorCode::AlreadyMember) => ApiError::param(
                ErrorCode::AlreadyMember,
                "email",
                "A member of this workspace has this email.",
            ),
            e => e.into(),
        })?;
    let base = state
        .mail_links
        .link_base(req.domain.as_deref())
        .map_err(ApiError::internal)?;
    let inviter_name = inviter.full_name.as_deref().unwrap_or(&inviter.email);
    let mail = Mail {
        to: email,
        subject: format!("{inviter_name} invited you to Switchboard"),
        text: format!(
            "{inviter_name} invited you to their Switchboard workspace as {role}.\n\n\
             Accept within 7 days: POST {base}/v1/auth/accept-invitation with\n\
             {{\"token\": \"{token}\", \"password\": \"<a new password, if you have no account yet>\"}}\n\n\
             If you did not expect this, ignore this email.\n",
            role = invitation.role.as_str(),
        ),
        kind: "invitation".into(),
        attachments: Vec::new(),
    };
    state.mailer.send(&mail).await.map_err(ApiError::internal)?;
    Ok(Reply::created(&invitation))
}

async fn change_role(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: UpdateUser = req.json()?;
    let (_, caller_role) = caller(&req)?;
    let member = member(&state, &req).await?;
    if (member.role == Role::Owner || input.role == Role::Owner) && *caller_role != Role::Owner {
        return Err(owners_only("make or unmake owners"));
    }
    within_own_grants(
        &req,
        &grants_for(&state, &req, &member.role).await?,
        "change this member's role",
    )?;
    let grants = grants_for(&state, &req, &input.role).await?;
    within_own_grants(&req, &grants, "give this role")?;
    let updated = state
        .team
        .change_role(
            req.workspace_id()?,
            &member.id,
            &member.role,
            &input.role,
            &grants,
            req.now,
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(ErrorCode::LastOwner) => last_owner(),
            StoreError::NotFound(ErrorCode::RoleNotFound) => role_not_found("role"),
            e => e.into(),
        })?;
    Ok(Reply::ok(&updated))
}

async fn remove_member(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let (_, caller_role) = caller(&req)?;
    let member = member(&state, &req).await?;
    if member.role == Role::Owner && *caller_role != Role::Owner {
        return Err(owners_only("remove an owner"));
    }
    within_own_grants(
        &req,
        &grants_for(&state, &req, &member.role).await?,
        "remove this member",
    )?;
    state
        .team
        .remove_member(req.workspace_id()?, &member, req.now)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(ErrorCode::LastOwner) => last_owner(),
            e => e.into(),
        })?;
    Ok(Reply::ok(&Deleted::new(&member.id, "user")))
}

fn view(role: &CustomRole) -> RoleView {
    RoleView {
        id: role.id.clone(),
        object: RoleObject,
        name: role.name.clone(),
        built_in: false,
        grants: role.grants.clone(),
    }
}

async fn list_roles(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let mut roles: Vec<RoleView> = Role::BUILT_IN
        .iter()
        .map(|role| RoleView {
            id: role.as_str().to_owned(),
            object: RoleObject,
            name: role.as_str().to_owned(),
            built_in: true,
            grants: role.built_in_grants().unwrap_or_default(),
        })
        .collect();
    let mut custom = state.team.roles(req.workspace_id()?).await?;
    custom.sort_by(|a, b| a.id.cmp(&b.id));
    roles.extend(custom.iter().map(view));
    page_of(&req, roles, |r| &r.id)
}

fn description(text: Option<String>) -> Result<Option<String>, ApiError> {
    Ok(text.map(|d| validate::text("description", &d, 1, 500)).transpose()?)
}

async fn create_role(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: RoleInput = req.json()?;
    within_own_grants(&req, &input.grants, "create this role")?;
    let workspace_id = req.workspace_id()?;
    if state.team.roles(workspace_id).await?.len() >= MAX_CUSTOM_ROLES {
        return Err(ApiError::new(
            ErrorCode::LimitReached,
            format!("A workspace may define {MAX_CUSTOM_ROLES} roles; delete one first."),
        ));
    }
    let now = api_time(req.now);
    let role = CustomRole {
        id: ids::new_id_at(prefix::ROLE, req.now),
        object: RoleObject,
        name: validate::text("name", &input.name, 1, 80)?,
        description: description(input.description)?,
        grants: input.grants,
        member_count: 0,
        created_at: now,
        updated_at: now,
    };
    state.team.create_role(workspace_id, &role).await?;
    Ok(Reply::created(&role))
}

async fn custom_role(state: &State, req: &Request) -> Result<CustomRole, ApiError> {
    let id = req.param("id");
    if !ids::is_valid(prefix::ROLE, id) {
        return Err(role_not_found("id"));
    }
    state
        .team
        .role(req.workspace_id()?, id)
        .await?
        .ok_or_else(|| role_not_found("id"))
}

async fn update_role(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: RolePatch = req.json()?;
    let mut role = custom_role(&state, &req).await?;
    if let Some(name) = input.name {
        role.name = validate::text("name", &name, 1, 80)?;
    }
    if input.description.is_some() {
        role.description = description(input.description)?;
    }
    if let Some(grants) = input.grants {
        within_own_grants(&req, &role.grants, "change this role")?;
        within_own_grants(&req, &grants, "grant this")?;
        role.grants = grants;
    }
    role.updated_at = api_time(req.now);
    state
        .team
        .update_role(req.workspace_id()?, &role)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => role_not_found("id"),
            e => e.into(),
        })?;
    Ok(Reply::ok(&role))
}

async fn delete_role(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let role = custom_role(&state, &req).await?;
    state
        .team
        .delete_role(req.workspace_id()?, &role.id)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(ErrorCode::RoleInUse) => ApiError::new(
                ErrorCode::RoleInUse,
                format!(
                    "{} member(s) hold this role; give them another role first.",
                    role.member_count
                ),
            ),
            StoreError::NotFound(_) => role_not_found("id"),
            e => e.into(),
        })?;
    Ok(Reply::ok(&Deleted::new(&role.id, "role")))
}

async fn list_audit(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let actor = req.query("actor");
    let resource_id = req.query("resource_id");
    let resource_type = req.query("resource_type");
    let action = req.query("action");
    let (from, to) = req.period()?;
    let filters = format!(
        "actor={actor:?}&resource_id={resource_id:?}&resource_type={resource_type:?}&action={action:?}&from={from:?}&to={to:?}"
    );
    let page = req.page(&filters)?;
    let mut equals = Vec::new();
    // The narrower list: a resource's entries, else an actor's; the other as a filter.
    let by = match (resource_id, actor) {
        (Some(id), actor) => {
            if let Some(actor) = actor {
                equals.push(("actor.id", actor.to_owned()));
            }
            ListBy::AuditResource(id.to_owned())
        }
        (None, Some(actor)) => ListBy::Actor(actor.to_owned()),
        (None, None) => ListBy::All,
    };
    if let Some(kind) = resource_type {
        equals.push(("resource.type", kind.to_owned()));
    }
    if let Some(action) = action {
        equals.push(("action", action.to_owned()));
    }
    let query = ListQuery {
        by,
        from,
        to,
        equals,
        ascending: false,
        limit: page.limit,
        after: page.after,
    };
    Ok(req.list_versioned(state.audit.query(req.workspace_id()?, &query).await?, &filters))
}

async fn get_audit_entry(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    switchboard_http::crud::get(state.audit.as_ref(), &req).await
}
