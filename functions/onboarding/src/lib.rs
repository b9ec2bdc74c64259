//! `onboarding`: whose provider accounts a workspace's work goes through — the platform's
//! (`bundled`) or its own (`byok`) — and the credentials of the accounts it brings
//! (`/v1/onboarding/status|mode|credentials|complete`).
//!
//! A credential is checked live against its provider before anything is kept; it is kept
//! sealed under the workspace's own key (see `switchboard_domain::sealing`) and never shown
//! again: answers, errors, events, audit entries and logs name the provider and its non-secret
//! fields (Twilio's account SID) only.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::Method;
use serde::Deserialize;
use serde_json::json;
use switchboard_core::ErrorCode;
use switchboard_core::clock::api_time;
use switchboard_core::error::ProviderError;
use switchboard_core::model::{
    CredentialState, OnboardingProvider, OnboardingStatus, ProviderCredential, ProviderMode, Scope, StoredCredential,
    voice_by_id, voice_ids,
};
use switchboard_core::ports::{OnboardingStore, ProviderChecks};
use switchboard_domain::providers::seal;
use switchboard_domain::sealing::WorkspaceKeys;
use switchboard_http::crud::Deleted;
use switchboard_http::{Access, ApiError, Platform, Reply, Request, Route, Service};
use switchboard_store::DynamoStore;
use utoipa::ToSchema;

pub struct State {
    pub store: Arc<dyn OnboardingStore>,
    /// Asks each provider whether it takes a credential.
    pub checks: Arc<dyn ProviderChecks>,
    pub keys: WorkspaceKeys,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn service(
    platform: Arc<Platform>,
    store: &DynamoStore,
    checks: Arc<dyn ProviderChecks>,
    keys: WorkspaceKeys,
) -> Service<State> {
    let state = State {
        store: Arc::new(store.clone()),
        checks,
        keys,
    };
    Service::new(platform, state, routes())
}

const TAG: &str = "Onboarding";
/// The longest credential field we take.
const MAX_FIELD: usize = 512;

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/onboarding/status", status)
            .doc(TAG, "getOnboardingStatus", "Get the onboarding status")
            .describe(
                "The workspace's mode, each provider's credential (missing, valid, or invalid with the provider's \
                 reason; never its secret fields) and what the mode still needs before onboarding can complete.",
            )
            .returns::<OnboardingStatus>(200, "Where the workspace stands."),
        Route::new(Method::PUT, "/v1/onboarding/mode", set_mode)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "setOnboardingMode", "Choose whose provider accounts to use")
            .describe(
                "`bundled`: calls, numbers, conversations and voices go through the platform's accounts, billed at \
                 the bundled rate. `byok`: through the workspace's own (Twilio and Anthropic; ElevenLabs voices \
                 optional), billed the platform fee; what needs a provider without a valid credential is refused \
                 with 409 `provider_credential_missing`. Running instances pick a change up within a minute.",
            )
            .body::<SetMode>(|| json!({"mode": "byok"}))
            .returns::<OnboardingStatus>(200, "The status in the new mode."),
        Route::new(Method::PUT, "/v1/onboarding/credentials/{provider}", set_credential)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "setProviderCredential", "Bring a provider account")
            .describe(
                "Checks the credential live against the provider, then keeps it sealed in place of the provider's \
                 previous one; it is never shown again. The fields are the provider's own (`GET \
                 /v1/onboarding/providers`): Twilio `account_sid` and `auth_token` (the auth token, not an API key: \
                 Twilio signs its webhooks with it), Anthropic `api_key`, ElevenLabs `api_key` and optionally \
                 `voices` (each checked against the account). A credential the provider refuses answers 422 \
                 `credential_rejected` with the provider's reason, and nothing is kept.",
            )
            .body::<CredentialInput>(
                || json!({"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": "test_0123456789abcdef"}),
            )
            .returns::<OnboardingStatus>(200, "The status with the credential valid."),
        Route::new(
            Method::DELETE,
            "/v1/onboarding/credentials/{provider}",
            delete_credential,
        )
        .access(Access::Scoped(Scope::Admin))
        .doc(TAG, "deleteProviderCredential", "Forget a provider account")
        .describe("Deletes the credential. In `byok` mode, what needs this provider is refused until another is set.")
        .returns::<Deleted>(200, "Deleted (`id` is the provider)."),
        Route::new(Method::POST, "/v1/onboarding/complete", complete)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "completeOnboarding", "Complete onboarding")
            .describe(
                "Marks the workspace ready when its mode has everything it needs; else 409 `onboarding_incomplete` \
                 naming each missing provider. Completing again changes nothing.",
            )
            .returns::<OnboardingStatus>(200, "The status, `ready`."),
    ]
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetMode {
    pub mode: ProviderMode,
}

/// A provider's credential: the fields its provider needs, and no other.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialInput {
    /// Twilio: the account's SID (`AC` and 32 hexadecimal digits).
    pub account_sid: Option<String>,
    /// Twilio: the account's auth token.
    pub auth_token: Option<String>,
    /// Anthropic, ElevenLabs: an API key of the account.
    pub api_key: Option<String>,
    /// ElevenLabs, optional: which of the account's voices speaks each persona (`GET
    /// /v1/voices` lists them), checked against the account.
    #[schema(example = json!({"amelia": "21m00Tcm4TlvDq8ikWAM"}))]
    pub voices: Option<BTreeMap<String, String>>,
}

impl CredentialInput {
    fn field(&self, name: &str) -> Option<&String> {
        match name {
            "account_sid" => self.account_sid.as_ref(),
            "auth_token" => self.auth_token.as_ref(),
            "api_key" => self.api_key.as_ref(),
            _ => None,
        }
    }
}

fn provider(req: &Request) -> Result<&'static OnboardingProvider, ApiError> {
    let id = req.param("provider");
    OnboardingProvider::find(id).ok_or_else(|| {
        ApiError::new(
            ErrorCode::ProviderNotFound,
            "No onboarding provider has this id: GET /v1/onboarding/providers lists them.",
        )
    })
}

/// The credential the input gives for `provider`: its fields exactly, each well formed.
fn credential(provider: &OnboardingProvider, input: &CredentialInput) -> Result<ProviderCredential, ApiError> {
    if input.voices.is_some() && !provider.fields.iter().any(|f| f.name == "voices") {
        return Err(ApiError::param(
            ErrorCode::UnknownField,
            "voices",
            format!("{} credentials have no `voices`.", provider.name),
        ));
    }
    for name in ["account_sid", "auth_token", "api_key"] {
        let wanted = provider.fields.iter().any(|f| f.name == name);
        match input.field(name) {
            Some(_) if !wanted => {
                return Err(ApiError::param(
                    ErrorCode::UnknownField,
                    name,
                    format!("{} credentials have no `{name}`.", provider.name),
                ));
            }
            None if wanted => {
                return Err(ApiError::param(
                    ErrorCode::MissingField,
                    name,
                    format!("{} credentials need `{name}`.", provider.name),
                ));
            }
            Some(value) if value.trim() != value || value.is_empty() || value.len() > MAX_FIELD => {
                return Err(ApiError::validation(
                    name,
                    format!("`{name}` is 1 to {MAX_FIELD} characters without surrounding spaces."),
                ));
            }
            _ => {}
        }
    }
    let text = |name: &str| input.field(name).cloned().unwrap_or_default();
    Ok(match provider.id {
        "twilio" => {
            let account_sid = text("account_sid");
            let well_formed = account_sid.len() == 34
                && account_sid.starts_with("AC")
                && account_sid[2..].chars().all(|c| c.is_ascii_hexdigit());
            if !well_formed {
                return Err(ApiError::param(
                    ErrorCode::InvalidValue,
                    "account_sid",
                    "A Twilio account SID is `AC` followed by 32 hexadecimal digits.",
                ));
            }
            ProviderCredential::Twilio {
                account_sid,
                auth_token: text("auth_token"),
            }
        }
        "anthropic" => ProviderCredential::Anthropic {
            api_key: text("api_key"),
        },
        _ => ProviderCredential::Elevenlabs {
            api_key: text("api_key"),
            voices: own_voices(input.voices.clone().unwrap_or_default())?,
        },
    })
}

/// The longest voice id taken (ElevenLabs' are 20 characters).
const MAX_VOICE_ID: usize = 64;

/// The voices a workspace chose: each for a persona we have, each id as its provider writes it.
fn own_voices(voices: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, ApiError> {
    for (persona, id) in &voices {
        let field = format!("voices.{persona}");
        if voice_by_id(persona).is_none() {
            return Err(ApiError::param(
                ErrorCode::InvalidValue,
                "voices",
                format!(
                    "`voices` names personas GET /v1/voices lists ({}); `{persona}` is not one.",
                    voice_ids().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        if id.is_empty() || id.len() > MAX_VOICE_ID || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ApiError::param(
                ErrorCode::InvalidValue,
                &field,
                format!("`{field}` is a voice id of the account: 1 to {MAX_VOICE_ID} letters and digits."),
            ));
        }
    }
    Ok(voices)
}

async fn status(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let onboarding = state.store.onboarding(req.workspace_id()?).await?;
    Ok(Reply::ok(&onboarding.status()))
}

async fn set_mode(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: SetMode = req.json()?;
    let ws = req.workspace_id()?;
    state.store.set_provider_mode(ws, input.mode, api_time(req.now)).await?;
    Ok(Reply::ok(&state.store.onboarding(ws).await?.status()))
}

async fn set_credential(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: CredentialInput = req.json()?;
    let provider = provider(&req)?;
    let credential = credential(provider, &input)?;
    let ws = req.workspace_id()?;
    state.checks.check(&credential).await.map_err(|e| match e {
        ProviderError::Rejected(reason) | ProviderError::Unauthorized(reason) => ApiError::new(
            ErrorCode::CredentialRejected,
            format!(
                "{} refused the credential: {}. Nothing was kept.",
                provider.name,
                redacted(&reason, &credential)
            ),
        ),
        ProviderError::Unavailable(cause) => ApiError::unavailable(cause),
    })?;
    let at = api_time(req.now);
    let stored = StoredCredential {
        provider: provider.id.to_owned(),
        shown: credential.shown(),
        sealed: seal(&state.keys, ws, &credential),
        state: CredentialState::Valid,
        reason: None,
        checked_at: at,
        updated_at: at,
    };
    state.store.put_credential(ws, &stored).await?;
    let mut onboarding = state.store.onboarding(ws).await?;
    // What was just written, whatever a lagging read says.
    onboarding.credentials.retain(|c| c.provider != stored.provider);
    onboarding.credentials.push(stored);
    Ok(Reply::ok(&onboarding.status()))
}

/// A provider's answer with any of the credential's secret values cut out, should it echo one.
fn redacted(reason: &str, credential: &ProviderCredential) -> String {
    credential
        .secret_values()
        .into_iter()
        .filter(|secret| !secret.is_empty())
        .fold(reason.to_owned(), |reason, secret| reason.replace(secret, "[redacted]"))
}

async fn delete_credential(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let provider = provider(&req)?;
    if !state.store.delete_credential(req.workspace_id()?, provider.id).await? {
        return Err(ApiError::new(
            ErrorCode::CredentialNotFound,
            format!("This workspace brought no {} credential.", provider.name),
        ));
    }
    Ok(Reply::ok(&Deleted::new(provider.id, "onboarding_credential")))
}

async fn complete(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let ws = req.workspace_id()?;
    let mut onboarding = state.store.onboarding(ws).await?;
    let missing = onboarding.missing();
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|id| format!("`{id}`")).collect();
        return Err(ApiError::new(
            ErrorCode::OnboardingIncomplete,
            format!(
                "Mode `byok` needs a valid credential for {}: set each with PUT /v1/onboarding/credentials/{{provider}}.",
                names.join(", ")
            ),
        ));
    }
    if onboarding.settings.completed_at.is_none() {
        state.store.complete_onboarding(ws, api_time(req.now)).await?;
        onboarding = state.store.onboarding(ws).await?;
    }
    Ok(Reply::ok(&onboarding.status()))
}
