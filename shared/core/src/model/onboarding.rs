//! What a workspace may bring of its own (its "byok" mode): the providers, and the fields each
//! one's credential needs. A `bundled` workspace uses the platform's accounts instead.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::object_name;

object_name!(OnboardingProviderObject, "onboarding_provider");

/// What a provider does for calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Numbers and calls.
    Telephony,
    /// The language model agents think with.
    Llm,
    /// The voice agents speak with.
    Tts,
}

/// One field of a provider's credential.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CredentialField {
    #[schema(example = "account_sid")]
    pub name: &'static str,
    pub description: &'static str,
    /// Kept sealed and never shown again (else shown, like an account id).
    pub secret: bool,
    /// Whether a credential needs it.
    pub required: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OnboardingProvider {
    /// What `PUT /v1/onboarding/credentials/{provider}` names.
    #[schema(example = "twilio")]
    pub id: &'static str,
    pub object: OnboardingProviderObject,
    #[schema(example = "Twilio")]
    pub name: &'static str,
    pub kind: ProviderKind,
    pub fields: &'static [CredentialField],
    /// Whether the `bundled` mode offers this provider through the platform's own account.
    pub bundled: bool,
}

const fn field(name: &'static str, description: &'static str, secret: bool) -> CredentialField {
    CredentialField {
        name,
        description,
        secret,
        required: true,
    }
}

pub static ONBOARDING_PROVIDERS: &[OnboardingProvider] = &[
    OnboardingProvider {
        id: "twilio",
        object: OnboardingProviderObject,
        name: "Twilio",
        kind: ProviderKind::Telephony,
        fields: &[
            field("account_sid", "The account's SID (`AC...`).", false),
            field("auth_token", "The account's auth token.", true),
        ],
        bundled: true,
    },
    OnboardingProvider {
        id: "anthropic",
        object: OnboardingProviderObject,
        name: "Anthropic",
        kind: ProviderKind::Llm,
        fields: &[field("api_key", "An API key of the account (`sk-ant-...`).", true)],
        bundled: true,
    },
    OnboardingProvider {
        id: "elevenlabs",
        object: OnboardingProviderObject,
        name: "ElevenLabs",
        kind: ProviderKind::Tts,
        fields: &[
            field("api_key", "An API key of the account.", true),
            CredentialField {
                name: "voices",
                description: "Which of the account's voices speaks each persona `GET /v1/voices` lists, as \
                              `{\"amelia\": \"<ElevenLabs voice id>\"}`; personas it does not name speak with the \
                              platform's voices.",
                secret: false,
                required: false,
            },
        ],
        // The bundled voices are Amazon Polly's.
        bundled: false,
    },
];

impl OnboardingProvider {
    pub fn find(id: &str) -> Option<&'static OnboardingProvider> {
        ONBOARDING_PROVIDERS.iter().find(|p| p.id == id)
    }

    /// Whether a `byok` workspace must bring this provider before it is ready: telephony and
    /// the model; its own voices are optional (without them it speaks with the platform's).
    pub fn required_for_byok(&self) -> bool {
        self.kind != ProviderKind::Tts
    }
}

object_name!(OnboardingStatusObject, "onboarding_status");

/// Whose provider accounts a workspace's calls, numbers, conversations and voices go through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProviderMode {
    /// The platform's accounts, billed at the bundled per-minute rate.
    #[default]
    Bundled,
    /// The workspace's own accounts ("bring your own keys"), billed the platform fee.
    Byok,
}

/// What is known of a provider's credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialState {
    /// None was given.
    Missing,
    /// The provider accepted it when it was last checked.
    Valid,
    /// The provider refused it since it was stored (revoked, rotated elsewhere): `reason` says
    /// what the provider answered.
    Invalid,
}

/// A provider credential as the workspace gave it. Held opened only in memory: stored sealed,
/// never shown, never logged (its `Debug` shows the provider alone).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum ProviderCredential {
    Twilio {
        account_sid: String,
        auth_token: String,
    },
    Anthropic {
        api_key: String,
    },
    Elevenlabs {
        api_key: String,
        /// Persona id → the account's voice id.
        #[serde(default)]
        voices: BTreeMap<String, String>,
    },
}

impl std::fmt::Debug for ProviderCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProviderCredential({})", self.provider())
    }
}

impl ProviderCredential {
    pub fn provider(&self) -> &'static str {
        match self {
            Self::Twilio { .. } => "twilio",
            Self::Anthropic { .. } => "anthropic",
            Self::Elevenlabs { .. } => "elevenlabs",
        }
    }

    /// The fields that may be shown (Twilio's account SID names the account and a voice id a
    /// voice: they open nothing).
    pub fn shown(&self) -> BTreeMap<String, serde_json::Value> {
        match self {
            Self::Twilio { account_sid, .. } => [("account_sid".to_owned(), account_sid.as_str().into())].into(),
            Self::Elevenlabs { voices, .. } if !voices.is_empty() => {
                [("voices".to_owned(), serde_json::json!(voices))].into()
            }
            Self::Anthropic { .. } | Self::Elevenlabs { .. } => Default::default(),
        }
    }

    /// The values no answer, item or log line may hold.
    pub fn secret_values(&self) -> Vec<&str> {
        match self {
            Self::Twilio { auth_token, .. } => vec![auth_token],
            Self::Anthropic { api_key } | Self::Elevenlabs { api_key, .. } => vec![api_key],
        }
    }
}

/// A credential as stored: what may be shown in clear, the whole credential sealed under the
/// workspace's own key, and what its provider said of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCredential {
    pub provider: String,
    pub shown: BTreeMap<String, serde_json::Value>,
    /// The [`ProviderCredential`] as JSON, sealed.
    pub sealed: String,
    pub state: CredentialState,
    pub reason: Option<String>,
    pub checked_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The workspace's choice of mode, and when it finished onboarding.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OnboardingSettings {
    pub mode: ProviderMode,
    pub completed_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// Everything a workspace set in onboarding, as one read returns it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Onboarding {
    pub settings: OnboardingSettings,
    pub credentials: Vec<StoredCredential>,
}

impl Onboarding {
    pub fn credential(&self, provider: &str) -> Option<&StoredCredential> {
        self.credentials.iter().find(|c| c.provider == provider)
    }

    /// The providers its mode needs that have no valid credential, in catalogue order.
    pub fn missing(&self) -> Vec<&'static str> {
        if self.settings.mode == ProviderMode::Bundled {
            return Vec::new();
        }
        ONBOARDING_PROVIDERS
            .iter()
            .filter(|p| p.required_for_byok())
            .filter(|p| self.credential(p.id).is_none_or(|c| c.state != CredentialState::Valid))
            .map(|p| p.id)
            .collect()
    }

    pub fn status(&self) -> OnboardingStatus {
        let providers = ONBOARDING_PROVIDERS
            .iter()
            .map(|p| {
                let stored = self.credential(p.id);
                ProviderStatus {
                    provider: p.id,
                    kind: p.kind,
                    required: self.settings.mode == ProviderMode::Byok && p.required_for_byok(),
                    state: stored.map_or(CredentialState::Missing, |c| c.state),
                    reason: stored.and_then(|c| c.reason.clone()),
                    fields: stored.map(|c| c.shown.clone()).unwrap_or_default(),
                    checked_at: stored.map(|c| c.checked_at),
                }
            })
            .collect();
        OnboardingStatus {
            object: OnboardingStatusObject,
            mode: self.settings.mode,
            ready: self.settings.completed_at.is_some() && self.missing().is_empty(),
            completed_at: self.settings.completed_at,
            missing: self.missing(),
            providers,
        }
    }
}

/// A provider's place in the workspace's onboarding.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProviderStatus {
    #[schema(example = "twilio")]
    pub provider: &'static str,
    pub kind: ProviderKind,
    /// Whether the workspace's mode needs it before onboarding can complete.
    pub required: bool,
    pub state: CredentialState,
    /// What the provider answered when it refused the credential.
    pub reason: Option<String>,
    /// The credential's fields that are not secret (Twilio's `account_sid`, ElevenLabs' `voices`).
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// When the provider last checked it.
    pub checked_at: Option<DateTime<Utc>>,
}

/// Where the workspace stands: its mode, each provider's credential, what is missing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OnboardingStatus {
    pub object: OnboardingStatusObject,
    pub mode: ProviderMode,
    /// Onboarding was completed and nothing its mode needs is missing since.
    pub ready: bool,
    pub completed_at: Option<DateTime<Utc>>,
    /// The providers the mode needs without a valid credential.
    #[schema(example = json!(["twilio"]))]
    pub missing: Vec<&'static str>,
    pub providers: Vec<ProviderStatus>,
}
