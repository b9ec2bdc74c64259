//! Credentials (authentication, rate limiting and last-used tracking in one round trip),
//! accounts, sessions, email verification and API keys.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Page, PageRequest, Quota, Versioned};
use crate::error::StoreError;
use crate::model::{ApiKey, CustomRole, Customer, Grants, Invitation, Plan, RateClass, Role, Scope, User, Workspace};

/// One request about to use a credential.
#[derive(Debug, Clone)]
pub struct Usage {
    pub class: RateClass,
    pub now: DateTime<Utc>,
    pub client_ip: Option<String>,
}

/// Who a credential belongs to and what it may do.
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialRecord {
    pub workspace_id: String,
    pub plan: Plan,
    pub kind: CredentialKind,
    /// What the person behind it may do: their role's grants (for an API key, its creator's,
    /// which the key's scope narrows further).
    pub grants: Grants,
    /// The credential's own workspace when it acts for one of its customers: `workspace_id`
    /// is then the customer's.
    pub agency_workspace_id: Option<String>,
}

impl CredentialRecord {
    /// The workspace the credential belongs to, whichever it acts in.
    pub fn home_workspace_id(&self) -> &str {
        self.agency_workspace_id.as_deref().unwrap_or(&self.workspace_id)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CredentialKind {
    ApiKey {
        key_id: String,
        scope: Scope,
    },
    Session {
        session_id: String,
        user_id: String,
        role: Role,
        email: String,
        expires_at: DateTime<Utc>,
    },
}

/// The rate-limit window after a request: the `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds at which `remaining` next grows.
    pub reset: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CredentialCheck {
    Allowed {
        credential: CredentialRecord,
        rate: RateWindow,
    },
    /// Valid credential, but over its limit; nothing was counted.
    Limited {
        rate: RateWindow,
        retry_after: u64,
    },
    Unknown,
    Revoked,
    Expired,
    /// The workspace is suspended.
    Suspended,
}

#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Checks the API key whose secret hashes to `key_hash` and counts `usage` against it.
    async fn use_api_key(&self, key_hash: &str, usage: &Usage) -> Result<CredentialCheck, StoreError>;
    /// Checks a user session and counts `usage` against it.
    async fn use_session(
        &self,
        workspace_id: &str,
        session_id: &str,
        usage: &Usage,
    ) -> Result<CredentialCheck, StoreError>;
    /// The agency workspace the customer `customer_id` belongs to, if it exists.
    async fn customer_agency(&self, customer_id: &str) -> Result<Option<String>, StoreError>;
    /// Counts a request of an anonymous client (public endpoints) against `limit` per minute.
    async fn use_client_ip(
        &self,
        ip: &str,
        usage: &Usage,
        limit: u32,
    ) -> Result<Result<RateWindow, (RateWindow, u64)>, StoreError>;
}

/// Everything signup writes, in one transaction.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub workspace: Workspace,
    pub user: User,
    pub password_hash: String,
    pub verification_token_hash: String,
    pub verification_expires_at: DateTime<Utc>,
    pub trial_credit_minor: i64,
    pub ledger_entry_id: String,
}

/// What login needs to check a password.
#[derive(Debug, Clone)]
pub struct LoginRecord {
    pub user_id: String,
    pub workspace_id: String,
    pub password_hash: String,
    /// Every workspace the person belongs to.
    pub workspaces: Vec<String>,
}

/// One of a person's sessions, as they see it.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub session_id: String,
    pub created_at: Option<DateTime<Utc>>,
    pub created_ip: Option<String>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_used_ip: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct Verification {
    pub workspace_id: String,
    pub user_id: String,
    pub email: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub session_id: String,
    pub workspace_id: String,
    pub plan: Plan,
    pub user_id: String,
    /// The role the session was made for: creating it fails with `Conflict(InvalidCredential)`
    /// when the member's role changed (or they left) meanwhile.
    pub role: Role,
    pub grants: Grants,
    pub email: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub client_ip: Option<String>,
}

/// Workspaces as every function but sign-in reads them: their country, plan, status and holdings.
#[async_trait]
pub trait Workspaces: Send + Sync {
    async fn get_workspace(&self, workspace_id: &str) -> Result<Option<Workspace>, StoreError>;
    /// How many of what the plan caps the workspace holds: `agents`, `api_keys` (active),
    /// `webhook_endpoints`.
    async fn holdings(&self, workspace_id: &str) -> Result<std::collections::BTreeMap<&'static str, u64>, StoreError>;
}

/// Sign-up, sign-in, sessions and passwords: the `auth` function's.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates workspace, owner, login, verification token and wallet; `Conflict(EmailTaken)`
    /// when the email is registered.
    async fn create_account(&self, account: &NewAccount) -> Result<(), StoreError>;
    async fn find_login(&self, email: &str) -> Result<Option<LoginRecord>, StoreError>;
    /// Takes one of the `max` sign-ins `email` (registered or not) may fail in the lockout window
    /// numbered `window`, forgotten after `expires` (unix seconds); false when none is left.
    /// Taken before the password is checked, so that guesses sent at once cannot all pass a
    /// count read before any of them failed.
    async fn take_login_attempt(&self, email: &str, window: i64, expires: i64, max: u32) -> Result<bool, StoreError>;
    /// Gives back the attempt a sign-in took in `window`: it did not fail.
    async fn return_login_attempt(&self, email: &str, window: i64) -> Result<(), StoreError>;
    async fn get_user_and_workspace(
        &self,
        workspace_id: &str,
        user_id: &str,
    ) -> Result<Option<(User, Workspace)>, StoreError>;
    async fn find_verification(&self, token_hash: &str) -> Result<Option<Verification>, StoreError>;
    /// Marks the email verified (once; later calls keep the first time) and returns the user.
    async fn mark_email_verified(
        &self,
        workspace_id: &str,
        user_id: &str,
        at: DateTime<Utc>,
    ) -> Result<User, StoreError>;
    async fn create_session(&self, session: &NewSession) -> Result<(), StoreError>;
    async fn end_session(&self, workspace_id: &str, session_id: &str) -> Result<(), StoreError>;
    /// The member's sessions in the workspace.
    async fn sessions(&self, workspace_id: &str, user_id: &str) -> Result<Vec<SessionRecord>, StoreError>;
    /// Ends one of the member's sessions; `NotFound` when they have none of that id.
    async fn end_own_session(&self, workspace_id: &str, user_id: &str, session_id: &str) -> Result<(), StoreError>;
    /// Ends the person's sessions in each of `workspaces`, all but `keep`.
    async fn end_sessions(&self, workspaces: &[String], user_id: &str, keep: Option<&str>) -> Result<(), StoreError>;
    /// Stores a password-reset token for the login `email` (replacing any earlier one), unless
    /// one was asked for less than a minute ago; whether it was stored (false also for an
    /// email nobody registered).
    async fn start_password_reset(
        &self,
        email: &str,
        token_hash: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// The email a password-reset token was made for.
    async fn find_password_reset(&self, token_hash: &str) -> Result<Option<String>, StoreError>;
    /// Sets the login's password: with a reset token, only while it is the login's current,
    /// unexpired one (then it is used up; `NotFound(InvalidToken)` otherwise).
    async fn set_password(
        &self,
        email: &str,
        password_hash: &str,
        reset_token_hash: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// A new key: its row and what authentication looks up by the secret's hash.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub key: ApiKey,
    pub workspace_id: String,
    pub plan: Plan,
    pub secret_hash: String,
    /// The workspace the creator is a member of: the agency's, for a key of its customer.
    pub creator_workspace_id: String,
    /// The creator's role when they made it, checked in the same write, and its grants.
    pub creator_role: Role,
    pub creator_grants: Grants,
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// The workspace's keys, newest first, with last-used data.
    async fn list_keys(&self, workspace_id: &str, page: PageRequest) -> Result<Page<ApiKey>, StoreError>;
    /// `LimitReached` when `max_active` keys are active; expired keys are revoked on the way.
    async fn create_key(&self, key: &NewApiKey, max_active: u32) -> Result<(), StoreError>;
    /// Revokes the key (idempotent) and returns it as it now is.
    async fn revoke_key(
        &self,
        workspace_id: &str,
        key_id: &str,
        reason: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<ApiKey, StoreError>;
    /// Deletes a revoked key; `Conflict(KeyStillActive)` otherwise, `NotFound` for no key.
    async fn delete_key(&self, workspace_id: &str, key_id: &str) -> Result<(), StoreError>;
}

/// An invitation as stored: the public object, its workspace, and whether the invitee is a
/// person with an account already.
#[derive(Debug, Clone)]
pub struct PendingInvitation {
    pub invitation: Invitation,
    pub workspace_id: String,
}

/// Everything accepting an invitation writes, in one transaction.
#[derive(Debug, Clone)]
pub struct Acceptance {
    pub token_hash: String,
    pub workspace_id: String,
    /// The new member (for a person with an account, their existing user id).
    pub user: User,
    /// A new person's password hash; `None` when the person has an account.
    pub new_login: Option<String>,
}

/// Members, their roles and invitations. Changes that affect what someone may do reach their
/// sessions and API keys before the call returns: their next request is judged by the change.
/// Customers of agency workspaces: what needs more than their row (read, listed and renamed
/// through `Repository<Customer>`).
#[async_trait]
pub trait Customers: Send + Sync {
    /// Creates `customer` of the agency `agency_workspace_id` (counted in `quota`) with its
    /// own workspace and that workspace's wallet, empty (test money for a test-mode agency's),
    /// in one transaction. The agency's owner having verified their email carries over.
    async fn create_customer(
        &self,
        agency_workspace_id: &str,
        customer: &Customer,
        plan: Plan,
        quota: Quota,
    ) -> Result<Versioned<Customer>, StoreError>;
}

#[async_trait]
pub trait Team: Send + Sync {
    /// The workspace's members, with when each was last seen.
    async fn members(&self, workspace_id: &str) -> Result<Vec<User>, StoreError>;
    async fn member(&self, workspace_id: &str, user_id: &str) -> Result<Option<User>, StoreError>;
    /// What `role` grants in the workspace; `None` for a custom role that does not exist.
    async fn grants_of(&self, workspace_id: &str, role: &Role) -> Result<Option<Grants>, StoreError>;
    /// Stores an invitation under `token_hash`, replacing (and invalidating) an earlier one to
    /// the same email; `Conflict(AlreadyMember)` when a member has that email.
    async fn invite(&self, workspace_id: &str, invitation: &Invitation, token_hash: &str) -> Result<(), StoreError>;
    async fn find_invitation(&self, token_hash: &str) -> Result<Option<PendingInvitation>, StoreError>;
    /// Adds the member and uses up the invitation; `NotFound(InvalidToken)` when it was used
    /// or replaced meanwhile, `Conflict(EmailTaken)` when a new person's email was registered.
    async fn accept_invitation(&self, acceptance: &Acceptance) -> Result<(), StoreError>;
    /// Gives the member `to` (granting `grants`) if their role is still `from`;
    /// `Conflict(LastOwner)` when it would leave no owner.
    async fn change_role(
        &self,
        workspace_id: &str,
        user_id: &str,
        from: &Role,
        to: &Role,
        grants: &Grants,
        at: DateTime<Utc>,
    ) -> Result<User, StoreError>;
    /// Removes the member, ends their sessions and revokes their API keys;
    /// `Conflict(LastOwner)` for the last owner.
    async fn remove_member(&self, workspace_id: &str, user: &User, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Suspends or reactivates the workspace; every credential of it is refused (or accepted
    /// again) from its next request.
    async fn set_suspended(&self, workspace_id: &str, suspended: bool, at: DateTime<Utc>) -> Result<(), StoreError>;
    async fn roles(&self, workspace_id: &str) -> Result<Vec<CustomRole>, StoreError>;
    async fn role(&self, workspace_id: &str, role_id: &str) -> Result<Option<CustomRole>, StoreError>;
    async fn create_role(&self, workspace_id: &str, role: &CustomRole) -> Result<(), StoreError>;
    /// Saves the role's name and grants and applies the grants to its members' credentials.
    async fn update_role(&self, workspace_id: &str, role: &CustomRole) -> Result<(), StoreError>;
    /// `Conflict(RoleInUse)` while a member holds it.
    async fn delete_role(&self, workspace_id: &str, role_id: &str) -> Result<(), StoreError>;
}

/// What the weekly report mail visits and notes.
#[async_trait]
pub trait ReportLog: Send + Sync {
    /// Every workspace's id.
    async fn workspace_ids(&self) -> Result<Vec<String>, StoreError>;
    /// Whether the workspace's owners got the report of the week ending `week_end`.
    async fn report_sent(&self, workspace_id: &str, week_end: chrono::NaiveDate) -> Result<bool, StoreError>;
    /// Notes that they did, kept until `expires_at` (unix seconds).
    async fn note_report_sent(
        &self,
        workspace_id: &str,
        week_end: chrono::NaiveDate,
        expires_at: i64,
    ) -> Result<(), StoreError>;
}

/// What a workspace set in onboarding: its mode and the provider credentials it brought.
#[async_trait]
pub trait OnboardingStore: Send + Sync {
    /// All of it, in one read.
    async fn onboarding(&self, workspace_id: &str) -> Result<crate::model::Onboarding, StoreError>;
    /// Sets the mode alone (a completion written meanwhile stays).
    async fn set_provider_mode(
        &self,
        workspace_id: &str,
        mode: crate::model::ProviderMode,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Notes onboarding complete at `at`, unless it was already (the mode stays as it is).
    async fn complete_onboarding(&self, workspace_id: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Keeps a credential over the provider's previous one.
    async fn put_credential(
        &self,
        workspace_id: &str,
        credential: &crate::model::StoredCredential,
    ) -> Result<(), StoreError>;
    /// Whether there was one to delete.
    async fn delete_credential(&self, workspace_id: &str, provider: &str) -> Result<bool, StoreError>;
    /// Marks the provider's credential invalid with the provider's `reason`, unless it was
    /// replaced since it was read (`updated_at` is what was read): whether it was marked.
    async fn mark_credential_invalid(
        &self,
        workspace_id: &str,
        provider: &str,
        updated_at: DateTime<Utc>,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}
