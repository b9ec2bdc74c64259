//! What a workspace may bring of its own (its "byok" mode): the providers, and the fields each
//! one's credential needs. A `bundled` workspace uses the platform's accounts instead.

use serde::Serialize;
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
        fields: &[field("api_key", "An API key of the account.", true)],
        // The bundled voices are Amazon Polly's.
        bundled: false,
    },
];
