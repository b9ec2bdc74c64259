//! `auth`: sign up, verify email, log in and out, and who am I (`/v1/auth/*`).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use http::{Method, header};
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_core::clock::api_time;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{
    Plan, Role, Scope, User, UserObject, UserStatus, Workspace, WorkspaceObject, WorkspaceStatus,
};
use switchboard_core::ports::{Acceptance, AccountStore, CredentialKind, Mail, Mailer, NewAccount, NewSession, Team};
use switchboard_core::{ErrorCode, StoreError, secret, validate};
use switchboard_http::crud::Deleted;
use switchboard_http::jwt::{JwtKeys, SESSION_TTL, SessionClaims};
use switchboard_http::{Access, ApiError, Platform, QueryParam, Reply, Request, Route, SESSION_COOKIE, Service};
use switchboard_runtime::config::MailConfig;
use switchboard_store::DynamoStore;
use utoipa::ToSchema;

pub use self::config::AuthConfig;

mod config;
mod password;

pub struct State {
    pub accounts: Arc<dyn AccountStore>,
    pub mailer: Arc<dyn Mailer>,
    pub team: Arc<dyn Team>,
    pub jwt: JwtKeys,
    /// Where links in emails point.
    pub mail_links: MailConfig,
    pub signup_plan: Plan,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn service(
    platform: Arc<Platform>,
    store: &DynamoStore,
    mailer: Arc<dyn Mailer>,
    config: &AuthConfig,
) -> Service<State> {
    let state = State {
        accounts: Arc::new(store.clone()),
        team: Arc::new(store.clone()),
        mailer,
        jwt: platform.jwt.clone(),
        mail_links: config.mail.clone(),
        signup_plan: config.signup_plan,
    };
    Service::new(platform, state, routes())
}

const TAG: &str = "Auth";
/// Trial credit on a new workspace's wallet, in cents.
const TRIAL_CREDIT_MINOR: i64 = 500;
const VERIFICATION_TTL: Duration = Duration::hours(24);
/// Sign-ins for one email are locked for the rest of a 15-minute window after this many
/// failures in it (on top of the per-address limit of public routes).
const MAX_FAILED_LOGINS: u32 = 10;
const LOCKOUT_WINDOW_SECS: i64 = 15 * 60;

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::POST, "/v1/auth/signup", signup)
            .access(Access::PublicLimited)
            .doc(TAG, "signup", "Sign up")
            .describe("Creates a workspace and its owner, credits the trial, and sends a verification email.")
            .body::<Signup>(|| json!({"email": "ada@example.com", "password": "correct horse battery", "full_name": "Ada Lovelace", "country": "US"}))
            .returns::<SignedUp>(201, "The new workspace and owner."),
        Route::new(Method::GET, "/v1/auth/verify-email", verify_email)
            .access(Access::PublicLimited)
            .doc(TAG, "verifyEmail", "Verify an email address")
            .describe("Idempotent: verifying again answers the same. Tokens last 24 hours.")
            .query([QueryParam::string("token", "The token from the verification email.").required()])
            .returns::<Verified>(200, "The address is verified."),
        Route::new(Method::POST, "/v1/auth/login", login)
            .access(Access::PublicLimited)
            .doc(TAG, "login", "Log in")
            .describe("Returns a JWT (7 days) and sets the `sb_session` cookie. A person in several workspaces names the one to open with `workspace_id`.")
            .body::<Login>(|| json!({"email": "ada@example.com", "password": "correct horse battery"}))
            .returns::<LoggedIn>(200, "A session."),
        Route::new(Method::POST, "/v1/auth/accept-invitation", accept_invitation)
            .access(Access::PublicLimited)
            .doc(TAG, "acceptInvitation", "Accept an invitation")
            .describe("Joins the workspace with the role the invitation offers and signs in. A new person sets a password; a person with an account joins with it. Each invitation works once, within 7 days.")
            .body::<AcceptInvitation>(|| json!({"token": "9f86d081884c7d65...", "password": "correct horse battery", "full_name": "Grace Hopper"}))
            .returns::<LoggedIn>(200, "A session in the workspace joined."),
        Route::new(Method::POST, "/v1/auth/forgot-password", forgot_password)
            .access(Access::PublicLimited)
            .doc(TAG, "forgotPassword", "Ask for a password reset")
            .describe("Emails a reset token, valid one hour and once, if an account has this email; the answer is the same either way. One request a minute per email.")
            .body::<ForgotPassword>(|| json!({"email": "ada@example.com"}))
            .returns::<Done>(200, "Asked."),
        Route::new(Method::POST, "/v1/auth/reset-password", reset_password)
            .access(Access::PublicLimited)
            .doc(TAG, "resetPassword", "Reset a forgotten password")
            .describe("Sets a new password with the emailed token and ends every session of the account, in every workspace.")
            .body::<ResetPassword>(|| json!({"token": "9f86d081884c7d65...", "password": "a new long password"}))
            .returns::<Done>(200, "The password is set."),
        Route::new(Method::POST, "/v1/auth/change-password", change_password)
            .access(Access::Session(Scope::Read))
            .doc(TAG, "changePassword", "Change your password")
            .describe("Needs the current password; ends every other session of yours, in every workspace, and emails you that it changed.")
            .body::<ChangePassword>(|| json!({"current_password": "correct horse battery", "new_password": "a new long password"}))
            .returns::<Done>(200, "The password is changed."),
        Route::new(Method::GET, "/v1/auth/sessions", list_sessions)
            .access(Access::Session(Scope::Read))
            .doc(TAG, "listSessions", "Your sessions")
            .describe("Your sessions in this workspace: when and where each began and was last used; `current` is this one.")
            .returns_list::<SessionView>("Your sessions."),
        Route::new(Method::DELETE, "/v1/auth/sessions/{id}", end_session)
            .access(Access::Session(Scope::Read))
            .doc(TAG, "endSession", "End one of your sessions")
            .describe("Its token and cookie stop working at once.")
            .returns::<Deleted>(200, "The session is ended."),
        Route::new(Method::POST, "/v1/auth/sessions/revoke-others", end_other_sessions)
            .access(Access::Session(Scope::Read))
            .doc(TAG, "endOtherSessions", "End your other sessions")
            .describe("Every session of yours in this workspace but this one.")
            .returns::<Done>(200, "They are ended."),
        Route::new(Method::POST, "/v1/auth/logout", logout)
            .access(Access::Session(Scope::Read))
            .doc(TAG, "logout", "Log out")
            .describe("Ends the session: its token and cookie stop working at once.")
            .returns_nothing(204, "The session is ended."),
        Route::new(Method::GET, "/v1/auth/me", me)
            .access(Access::Session(Scope::Read))
            .doc(TAG, "me", "The signed-in user")
            .returns::<Me>(200, "The user, their workspace and when the session ends."),
    ]
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Signup {
    pub email: String,
    /// At least 10 characters.
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
    #[schema(max_length = 120)]
    pub full_name: Option<String>,
    /// ISO 3166-1 alpha-2; phone numbers without a country code are read in this country.
    pub country: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignedUp {
    pub workspace: Workspace,
    pub user: User,
    /// Whether the verification email was handed to the mail queue.
    pub verify_email_sent: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Verified {
    pub ok: bool,
    pub email: String,
    pub verified_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub email: String,
    pub password: String,
    /// The workspace to sign in to, for a person who belongs to several; default: the one
    /// they signed up in or first joined.
    pub workspace_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    /// The token from the invitation email.
    pub token: String,
    /// A new person's password (at least 10 characters); a person who has an account already
    /// joins with it and leaves this out.
    #[schema(min_length = 10, max_length = 256)]
    pub password: Option<String>,
    #[schema(max_length = 120)]
    pub full_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoggedIn {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
    pub expires_at: DateTime<Utc>,
    pub user: User,
    pub workspace: Workspace,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotPassword {
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    /// The token from the reset email.
    pub token: String,
    /// At least 10 characters.
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    /// At least 10 characters.
    #[schema(min_length = 10, max_length = 256)]
    pub new_password: String,
}

/// Done.
#[derive(Debug, Serialize, ToSchema)]
pub struct Done {
    pub ok: bool,
}

switchboard_core::object_name!(SessionObject, "session");

/// One of your sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    #[schema(example = "ses_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: SessionObject,
    pub created_at: Option<DateTime<Utc>>,
    pub created_ip: Option<String>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_used_ip: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether this is the session the request came with.
    pub current: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user: User,
    pub workspace: Workspace,
    pub expires_at: DateTime<Utc>,
}

/// Runs CPU-heavy password hashing off the request's async worker.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(ApiError::internal)
}

async fn signup(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: Signup = req.json()?;
    let email = validate::email("email", &input.email)?;
    let password = validate::text("password", &input.password, 10, 256).map(|_| input.password.clone())?;
    let full_name = input
        .full_name
        .map(|n| validate::text("full_name", &n, 1, 120))
        .transpose()?;
    let country = input
        .country
        .map(|c| validate::country("country", &c).map(|id| id.as_ref().to_owned()))
        .transpose()?;

    let now = api_time(req.now);
    let workspace = Workspace {
        id: ids::new_id_at(prefix::WORKSPACE, req.now),
        object: WorkspaceObject,
        name: full_name
            .clone()
            .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned()),
        plan: state.signup_plan,
        country,
        status: WorkspaceStatus::Active,
        parent_workspace_id: None,
        created_at: now,
        updated_at: now,
    };
    let user = User {
        id: ids::new_id_at(prefix::USER, req.now),
        object: UserObject,
        workspace_id: workspace.id.clone(),
        email: email.clone(),
        full_name,
        role: Role::Owner,
        status: UserStatus::Active,
        email_verified: false,
        email_verified_at: None,
        last_seen_at: None,
        created_at: now,
        updated_at: now,
    };
    let token = secret::new_token();
    let password_hash = blocking(move || password::hash(&password))
        .await?
        .map_err(ApiError::internal)?;
    let account = NewAccount {
        workspace: workspace.clone(),
        user: user.clone(),
        password_hash,
        verification_token_hash: secret::sha256_hex(&token),
        verification_expires_at: now + VERIFICATION_TTL,
        trial_credit_minor: TRIAL_CREDIT_MINOR,
        ledger_entry_id: ids::new_id_at(prefix::LEDGER_ENTRY, req.now),
    };
    state.accounts.create_account(&account).await.map_err(|e| match e {
        StoreError::Conflict(ErrorCode::EmailTaken) => ApiError::param(
            ErrorCode::EmailTaken,
            "email",
            "An account with this email already exists; log in instead.",
        ),
        e => e.into(),
    })?;

    let base = state
        .mail_links
        .link_base(req.domain.as_deref())
        .map_err(ApiError::internal)?;
    let link = format!("{base}/v1/auth/verify-email?token={token}");
    let mail = Mail {
        to: email,
        subject: "Verify your Switchboard email".into(),
        text: format!("Welcome to Switchboard!\n\nConfirm your email address within 24 hours:\n{link}\n"),
        kind: "verify_email".into(),
        attachments: Vec::new(),
    };
    // Best effort: the account exists either way, and verification is not needed to use it.
    let verify_email_sent = match state.mailer.send(&mail).await {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "verification email not queued");
            false
        }
    };
    Ok(Reply::created(&SignedUp {
        workspace,
        user,
        verify_email_sent,
    }))
}

async fn verify_email(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let invalid = || {
        ApiError::param(
            ErrorCode::InvalidToken,
            "token",
            "This verification link is invalid or has expired.",
        )
    };
    let token = req.query("token").unwrap_or_default();
    let found = state
        .accounts
        .find_verification(&secret::sha256_hex(token))
        .await?
        .ok_or_else(invalid)?;
    if found.expires_at <= req.now {
        return Err(invalid());
    }
    let user = state
        .accounts
        .mark_email_verified(&found.workspace_id, &found.user_id, req.now)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => invalid(),
            e => e.into(),
        })?;
    let verified_at = user
        .email_verified_at
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("verified user without time")))?;
    Ok(Reply::ok(&Verified {
        ok: true,
        email: user.email,
        verified_at,
    }))
}

fn session_cookie(token: &str, max_age: i64) -> String {
    format!("{SESSION_COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=Lax")
}

async fn login(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: Login = req.json()?;
    let invalid = || ApiError::new(ErrorCode::InvalidLogin, "The email or password is not right.");
    let email = validate::email("email", &input.email).map_err(|_| invalid())?;
    let password = input.password;
    // Unknown emails are counted and locked like known ones: the answers do not tell them apart.
    let now_s = req.now.timestamp();
    let window = now_s.div_euclid(LOCKOUT_WINDOW_SECS);
    let window_end = (window + 1) * LOCKOUT_WINDOW_SECS;
    if !state
        .accounts
        .take_login_attempt(&email, window, window_end, MAX_FAILED_LOGINS)
        .await?
    {
        let retry_after = u64::try_from(window_end - now_s).unwrap_or(1).max(1);
        let mut locked = ApiError::new(
            ErrorCode::TooManyFailedLogins,
            format!("Too many failed sign-ins for this email; retry in {retry_after} s."),
        );
        locked.retry_after = Some(retry_after);
        return Err(locked);
    }
    // The attempt taken stays counted as a failure unless the password is right.
    let Some(login) = state.accounts.find_login(&email).await? else {
        blocking(move || password::verify_against_nothing(&password)).await?;
        return Err(invalid());
    };
    let hash = login.password_hash.clone();
    if !blocking(move || password::verify(&password, &hash)).await? {
        return Err(invalid());
    }
    state.accounts.return_login_attempt(&email, window).await?;
    let workspace_id = input.workspace_id.as_deref().unwrap_or(&login.workspace_id);
    let inactive = || {
        ApiError::new(
            ErrorCode::AccountInactive,
            "This account is not active in this workspace. Contact the workspace's owner.",
        )
    };
    let (user, workspace) = state
        .accounts
        .get_user_and_workspace(workspace_id, &login.user_id)
        .await?
        .ok_or_else(inactive)?;
    if user.status != UserStatus::Active || workspace.status != WorkspaceStatus::Active {
        return Err(inactive());
    }
    open_session(&state, &req, user, workspace).await
}

/// Signs the member in: a session of what their role grants now, as a token and a cookie.
async fn open_session(state: &State, req: &Request, user: User, workspace: Workspace) -> Result<Reply, ApiError> {
    let inactive = || {
        ApiError::new(
            ErrorCode::AccountInactive,
            "This account is not active in this workspace.",
        )
    };
    let grants = state
        .team
        .grants_of(&workspace.id, &user.role)
        .await?
        .ok_or_else(inactive)?;
    let now = api_time(req.now);
    let expires_at = now + SESSION_TTL;
    let session = NewSession {
        session_id: ids::new_id_at(prefix::SESSION, req.now),
        workspace_id: workspace.id.clone(),
        plan: workspace.plan,
        user_id: user.id.clone(),
        role: user.role.clone(),
        grants,
        email: user.email.clone(),
        created_at: now,
        expires_at,
        client_ip: req.client_ip.clone(),
    };
    state.accounts.create_session(&session).await.map_err(|e| match e {
        StoreError::Conflict(_) => inactive(),
        e => e.into(),
    })?;
    let claims = SessionClaims {
        sub: user.id.clone(),
        tid: workspace.id.clone(),
        role: user.role.clone(),
        email: user.email.clone(),
        iat: now.timestamp(),
        exp: expires_at.timestamp(),
        jti: session.session_id,
    };
    let token = state.jwt.issue(&claims).map_err(ApiError::internal)?;
    let body = LoggedIn {
        token: token.clone(),
        token_type: "Bearer".into(),
        expires_in: SESSION_TTL.num_seconds(),
        expires_at,
        user,
        workspace,
    };
    Ok(Reply::ok(&body).header(header::SET_COOKIE, &session_cookie(&token, SESSION_TTL.num_seconds())))
}

async fn accept_invitation(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: AcceptInvitation = req.json()?;
    let invalid = || {
        ApiError::param(
            ErrorCode::InvalidToken,
            "token",
            "This invitation is invalid, used or expired.",
        )
    };
    let token_hash = secret::sha256_hex(&input.token);
    let found = state.team.find_invitation(&token_hash).await?.ok_or_else(invalid)?;
    let invitation = found.invitation;
    if invitation.expires_at <= req.now {
        return Err(invalid());
    }
    let full_name = input
        .full_name
        .map(|n| validate::text("full_name", &n, 1, 120))
        .transpose()?;
    // The link reached the invitee's mailbox: that proves the address, for a new person and
    // for one who has an account (who joins without their password).
    let (user_id, new_login) = match state.accounts.find_login(&invitation.email).await? {
        Some(login) => (login.user_id, None),
        None => {
            let password = input.password.ok_or_else(|| {
                ApiError::param(
                    ErrorCode::ValidationFailed,
                    "password",
                    "Choose a password (at least 10 characters) to create your account.",
                )
            })?;
            validate::text("password", &password, 10, 256)?;
            let hash = blocking(move || password::hash(&password))
                .await?
                .map_err(ApiError::internal)?;
            (ids::new_id_at(prefix::USER, req.now), Some(hash))
        }
    };
    let now = api_time(req.now);
    let user = User {
        id: user_id,
        object: UserObject,
        workspace_id: found.workspace_id.clone(),
        email: invitation.email.clone(),
        full_name,
        role: invitation.role.clone(),
        status: UserStatus::Active,
        email_verified: true,
        email_verified_at: Some(now),
        last_seen_at: None,
        created_at: now,
        updated_at: now,
    };
    let acceptance = Acceptance {
        token_hash,
        workspace_id: found.workspace_id.clone(),
        user: user.clone(),
        new_login,
    };
    state.team.accept_invitation(&acceptance).await.map_err(|e| match e {
        StoreError::NotFound(ErrorCode::InvalidToken) => invalid(),
        StoreError::NotFound(ErrorCode::RoleNotFound) => ApiError::new(
            ErrorCode::RoleNotFound,
            "The role this invitation offered was deleted; ask for a new invitation.",
        ),
        StoreError::Conflict(ErrorCode::AlreadyMember) => ApiError::new(
            ErrorCode::AlreadyMember,
            "You are a member of this workspace already; log in.",
        ),
        StoreError::Conflict(ErrorCode::EmailTaken) => ApiError::new(
            ErrorCode::EmailTaken,
            "An account with this email was created meanwhile; accept the invitation again to join with it.",
        ),
        e => e.into(),
    })?;
    let (user, workspace) = state
        .accounts
        .get_user_and_workspace(&found.workspace_id, &user.id)
        .await?
        .ok_or_else(invalid)?;
    open_session(&state, &req, user, workspace).await
}

const RESET_TTL: Duration = Duration::hours(1);

/// Sends the "your password changed" notice; the change stands if it cannot be queued.
async fn password_changed_mail(state: &State, req: &Request, email: &str) {
    let base = state.mail_links.link_base(req.domain.as_deref()).unwrap_or_default();
    let mail = Mail {
        to: email.to_owned(),
        subject: "Your Switchboard password was changed".into(),
        text: format!(
            "The password of your Switchboard account was changed at {}.\n\n\
             If this was not you, reset it now: POST {base}/v1/auth/forgot-password with {{\"email\": \"{email}\"}}.\n",
            api_time(req.now).to_rfc3339()
        ),
        kind: "password_changed".into(),
        attachments: Vec::new(),
    };
    if let Err(e) = state.mailer.send(&mail).await {
        tracing::error!(error = format!("{e:#}"), "password-changed notice not queued");
    }
}

async fn forgot_password(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: ForgotPassword = req.json()?;
    let email = validate::email("email", &input.email)?;
    let token = secret::new_token();
    // The same answer whether or not an account has this email.
    if state
        .accounts
        .start_password_reset(&email, &secret::sha256_hex(&token), req.now + RESET_TTL, req.now)
        .await?
    {
        let base = state
            .mail_links
            .link_base(req.domain.as_deref())
            .map_err(ApiError::internal)?;
        let mail = Mail {
            to: email,
            subject: "Reset your Switchboard password".into(),
            text: format!(
                "Someone asked to reset the password of your Switchboard account.\n\n\
                 Within one hour: POST {base}/v1/auth/reset-password with\n\
                 {{\"token\": \"{token}\", \"password\": \"<your new password>\"}}\n\n\
                 If this was not you, ignore this email: your password stays as it is.\n"
            ),
            kind: "password_reset".into(),
            attachments: Vec::new(),
        };
        state.mailer.send(&mail).await.map_err(ApiError::internal)?;
    }
    Ok(Reply::ok(&Done { ok: true }))
}

async fn reset_password(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: ResetPassword = req.json()?;
    let invalid = || {
        ApiError::param(
            ErrorCode::InvalidToken,
            "token",
            "This reset token is invalid, used or expired.",
        )
    };
    validate::text("password", &input.password, 10, 256)?;
    let token_hash = secret::sha256_hex(&input.token);
    let email = state
        .accounts
        .find_password_reset(&token_hash)
        .await?
        .ok_or_else(invalid)?;
    let password = input.password;
    let hash = blocking(move || password::hash(&password))
        .await?
        .map_err(ApiError::internal)?;
    state
        .accounts
        .set_password(&email, &hash, Some(&token_hash), req.now)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => invalid(),
            e => e.into(),
        })?;
    if let Some(login) = state.accounts.find_login(&email).await? {
        state
            .accounts
            .end_sessions(&login.workspaces, &login.user_id, None)
            .await?;
    }
    password_changed_mail(&state, &req, &email).await;
    Ok(Reply::ok(&Done { ok: true }))
}

/// The signed-in person: their user id, email and this session's id.
fn session_of(req: &Request) -> Result<(&str, &str, &str), ApiError> {
    match &req.principal()?.kind {
        CredentialKind::Session {
            user_id,
            email,
            session_id,
            ..
        } => Ok((user_id, email, session_id)),
        CredentialKind::ApiKey { .. } => Err(ApiError::of(ErrorCode::SessionRequired)),
    }
}

async fn change_password(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: ChangePassword = req.json()?;
    let (user_id, email, session_id) = session_of(&req)?;
    validate::text("new_password", &input.new_password, 10, 256)?;
    let login = state
        .accounts
        .find_login(email)
        .await?
        .ok_or_else(|| ApiError::of(ErrorCode::InvalidCredential))?;
    let (current, stored) = (input.current_password, login.password_hash.clone());
    if !blocking(move || password::verify(&current, &stored)).await? {
        return Err(ApiError::param(
            ErrorCode::ValidationFailed,
            "current_password",
            "The current password is not right.",
        ));
    }
    let new = input.new_password;
    let hash = blocking(move || password::hash(&new))
        .await?
        .map_err(ApiError::internal)?;
    state.accounts.set_password(email, &hash, None, req.now).await?;
    state
        .accounts
        .end_sessions(&login.workspaces, user_id, Some(session_id))
        .await?;
    password_changed_mail(&state, &req, email).await;
    Ok(Reply::ok(&Done { ok: true }))
}

async fn list_sessions(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let (user_id, _, current) = session_of(&req)?;
    let mut sessions: Vec<SessionView> = state
        .accounts
        .sessions(req.workspace_id()?, user_id)
        .await?
        .into_iter()
        .map(|s| SessionView {
            current: s.session_id == current,
            id: s.session_id,
            object: SessionObject,
            created_at: s.created_at,
            created_ip: s.created_ip,
            last_used_at: s.last_used_at,
            last_used_ip: s.last_used_ip,
            expires_at: s.expires_at,
        })
        .collect();
    sessions.sort_by(|a, b| b.id.cmp(&a.id));
    req.page("")?;
    Ok(req.list(sessions, None, ""))
}

async fn end_session(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let (user_id, _, _) = session_of(&req)?;
    let id = req.param("id");
    let not_found = || ApiError::param(ErrorCode::SessionNotFound, "id", "No session of yours with this id.");
    if !ids::is_valid(prefix::SESSION, id) {
        return Err(not_found());
    }
    state
        .accounts
        .end_own_session(req.workspace_id()?, user_id, id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => not_found(),
            e => e.into(),
        })?;
    Ok(Reply::ok(&Deleted::new(id, "session")))
}

async fn end_other_sessions(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let (user_id, _, current) = session_of(&req)?;
    let workspace = [req.workspace_id()?.to_owned()];
    state.accounts.end_sessions(&workspace, user_id, Some(current)).await?;
    Ok(Reply::ok(&Done { ok: true }))
}

async fn logout(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let principal = req.principal()?;
    if let CredentialKind::Session { session_id, .. } = &principal.kind {
        state.accounts.end_session(&principal.workspace_id, session_id).await?;
    }
    Ok(Reply::no_content().header(header::SET_COOKIE, &session_cookie("", 0)))
}

async fn me(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let principal = req.principal()?;
    let CredentialKind::Session {
        user_id, expires_at, ..
    } = &principal.kind
    else {
        return Err(ApiError::of(ErrorCode::SessionRequired));
    };
    let (user, workspace) = state
        .accounts
        .get_user_and_workspace(&principal.workspace_id, user_id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidCredential, "The session's user no longer exists."))?;
    Ok(Reply::ok(&Me {
        user,
        workspace,
        expires_at: *expires_at,
    }))
}
