//! `api-keys`: signed-in users mint, list, revoke and delete the workspace's API keys
//! (`/v1/api-keys`). API keys cannot manage keys.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{ApiKey, ApiKeyObject, ApiKeyStatus, KeyMode, MAX_ACTIVE_API_KEYS, Scope};
use switchboard_core::ports::{ApiKeyStore, CredentialKind, NewApiKey};
use switchboard_core::{ErrorCode, StoreError, secret, validate};
use switchboard_http::crud::Deleted;
use switchboard_http::{Access, ApiError, Platform, Reply, Request, Route, Service};
use switchboard_store::DynamoStore;
use utoipa::ToSchema;

pub struct State {
    pub keys: Arc<dyn ApiKeyStore>,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn service(platform: Arc<Platform>, store: &DynamoStore) -> Service<State> {
    let state = State {
        keys: Arc::new(store.clone()),
    };
    Service::new(platform, state, routes())
}

const TAG: &str = "API keys";
const MAX_LIFETIME_DAYS: i64 = 3650;

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/api-keys", list)
            .access(Access::Session(Scope::Read))
            .doc(TAG, "listApiKeys", "List API keys")
            .describe("Every key of the workspace (active, expired, revoked), newest first. Secrets are never returned.")
            .returns_list::<ApiKey>("A page of keys."),
        Route::new(Method::POST, "/v1/api-keys", create)
            .access(Access::Session(Scope::Write))
            .doc(TAG, "createApiKey", "Create an API key")
            .describe("The secret is in this response only. At most 10 active keys per workspace; a key's scope cannot exceed its creator's role. `mode: test` makes a test-mode key (`sb_test_...`): it acts on the workspace's test data alone, through the simulator, the offline model and offline payments, paid with test money.")
            .body::<CreateApiKey>(|| json!({"name": "CRM sync", "scope": "write", "expires_in_days": 90}))
            .returns::<CreatedApiKey>(201, "The key, with its secret."),
        Route::new(Method::POST, "/v1/api-keys/{id}/revoke", revoke)
            .access(Access::Session(Scope::Admin))
            .doc(TAG, "revokeApiKey", "Revoke an API key")
            .describe("The very next request with the key is refused. Revoking a revoked key changes nothing.")
            .optional_body::<RevokeApiKey>(|| json!({"reason": "rotated"}))
            .returns::<ApiKey>(200, "The revoked key."),
        Route::new(Method::DELETE, "/v1/api-keys/{id}", delete)
            .access(Access::Session(Scope::Admin))
            .doc(TAG, "deleteApiKey", "Delete a revoked API key")
            .returns::<Deleted>(200, "The key was deleted."),
    ]
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    #[schema(max_length = 120)]
    pub name: String,
    /// Default `admin`.
    pub scope: Option<Scope>,
    /// Days until the key expires (1 to 3650). Leave out both expiry fields for a key that never expires.
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<i64>,
    /// When the key expires; not with `expires_in_days`.
    pub expires_at: Option<DateTime<Utc>>,
    /// `test` makes a test-mode key (`sb_test_...`; default `live`): it sees only the
    /// workspace's test data, and its calls go through the simulator and the offline model
    /// and are paid with test money.
    pub mode: Option<KeyMode>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeApiKey {
    #[schema(max_length = 80)]
    pub reason: Option<String>,
}

/// A new key with its secret, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKey,
    /// The full key. Store it now: it is never shown again.
    #[schema(example = "sb_live_aB3xYzQ9...")]
    pub secret: String,
}

fn not_found() -> ApiError {
    ApiError::of(ErrorCode::ApiKeyNotFound)
}

async fn list(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let page = req.page("")?;
    let found = state.keys.list_keys(req.workspace_id()?, page).await?;
    let keys = found.items.into_iter().map(|k| k.with_status_at(req.now)).collect();
    Ok(req.list(keys, found.next, ""))
}

fn expiry(input: &CreateApiKey, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, ApiError> {
    let latest = now + Duration::days(MAX_LIFETIME_DAYS);
    match (input.expires_in_days, input.expires_at) {
        (Some(_), Some(_)) => Err(ApiError::validation(
            "expires_at",
            "Give `expires_in_days` or `expires_at`, not both.",
        )),
        (Some(days), None) => Ok(Some(
            now + Duration::days(validate::range("expires_in_days", days, 1, MAX_LIFETIME_DAYS)?),
        )),
        (None, Some(at)) if at <= now || at > latest => Err(ApiError::validation(
            "expires_at",
            "`expires_at` must be in the future and within 10 years.",
        )),
        (None, at) => Ok(at.map(switchboard_core::clock::api_time)),
    }
}

async fn create(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: CreateApiKey = req.json()?;
    let principal = req.principal()?;
    let CredentialKind::Session { user_id, role, .. } = &principal.kind else {
        return Err(ApiError::of(ErrorCode::SessionRequired));
    };
    let scope = input.scope.unwrap_or(Scope::Admin);
    // The key works only where its creator's role does, too; a scope above everything the
    // role grants is refused rather than silently narrowed.
    if principal.grants.0.values().max().is_none_or(|&highest| scope > highest) {
        return Err(ApiError::param(
            ErrorCode::InsufficientScope,
            "scope",
            "A key's scope cannot exceed your role's.",
        ));
    }
    let mode = input.mode.unwrap_or_default();
    let secret = secret::new_api_key(mode == KeyMode::Live);
    let key = ApiKey {
        id: ids::new_id_at(prefix::API_KEY, req.now),
        object: ApiKeyObject,
        name: validate::text("name", &input.name, 1, 120)?,
        prefix: secret::display_prefix(&secret),
        scope,
        status: ApiKeyStatus::Active,
        created_at: switchboard_core::clock::api_time(req.now),
        created_by_user_id: user_id.clone(),
        expires_at: expiry(&input, req.now)?,
        last_used_at: None,
        last_used_ip: None,
        revoked_at: None,
        revoked_reason: None,
        mode,
    };
    let new = NewApiKey {
        key: key.clone(),
        workspace_id: principal.workspace_id.clone(),
        plan: principal.plan,
        secret_hash: secret::sha256_hex(&secret),
        creator_workspace_id: principal.home_workspace_id().to_owned(),
        creator_role: role.clone(),
        creator_grants: principal.grants.clone(),
    };
    state
        .keys
        .create_key(&new, MAX_ACTIVE_API_KEYS)
        .await
        .map_err(|e| match e {
            StoreError::LimitReached => ApiError::new(
                ErrorCode::LimitReached,
                format!("A workspace may have {MAX_ACTIVE_API_KEYS} active API keys; revoke one first."),
            ),
            StoreError::Conflict(ErrorCode::AccountInactive) => ApiError::new(
                ErrorCode::ConcurrentModification,
                "Your role changed while the key was made; sign in again and retry.",
            ),
            e => e.into(),
        })?;
    Ok(Reply::created(&CreatedApiKey { key, secret }))
}

async fn revoke(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: RevokeApiKey = if req.body.is_empty() {
        RevokeApiKey::default()
    } else {
        req.json()?
    };
    let reason = input.reason.map(|r| validate::text("reason", &r, 1, 80)).transpose()?;
    let id = req.param("id");
    if !ids::is_valid(prefix::API_KEY, id) {
        return Err(not_found());
    }
    let key = state.keys.revoke_key(req.workspace_id()?, id, reason, req.now).await?;
    Ok(Reply::ok(&key.with_status_at(req.now)))
}

async fn delete(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let id = req.param("id");
    if !ids::is_valid(prefix::API_KEY, id) {
        return Err(not_found());
    }
    state
        .keys
        .delete_key(req.workspace_id()?, id)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(ErrorCode::KeyStillActive) => ApiError::new(
                ErrorCode::KeyStillActive,
                "Revoke the key (POST /v1/api-keys/{id}/revoke) before deleting it.",
            ),
            e => e.into(),
        })?;
    Ok(Reply::ok(&Deleted::new(id, "api_key")))
}
