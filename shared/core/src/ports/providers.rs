//! Providers we reach over the network: telephony and its live calls, language models, mail,
//! and the receivers of webhooks.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ProviderError;
use crate::model::{AvailableNumber, Call, CallStatus, Message, PhoneNumber, Voice};

/// An outbound call to place.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundCall {
    pub workspace_id: String,
    pub call_id: String,
    pub from: String,
    pub to: String,
    /// Seconds after which the provider ends the call.
    pub max_duration: u32,
}

/// What to look for among the numbers a provider offers.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberSearch {
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub area_code: Option<String>,
    /// Digits the number contains.
    pub contains: Option<String>,
    pub limit: u32,
}

/// The telephony provider: places calls and prepares numbers; its status reports come back
/// through the calls function's callback path.
#[async_trait]
pub trait Telephony: Send + Sync {
    /// `simulator` or `twilio`.
    fn provider(&self) -> &'static str;
    /// Whether its calls reach real phones (and cost real money), which only workspaces whose
    /// owner verified their email may place.
    fn is_live(&self) -> bool {
        true
    }
    /// Points a number the workspace holds at the provider to this service; returns the
    /// provider's id for it.
    async fn attach_number(&self, phone_e164: &str) -> Result<Option<String>, ProviderError>;
    /// Numbers the provider offers to buy.
    async fn search_numbers(&self, search: &NumberSearch) -> Result<Vec<AvailableNumber>, ProviderError>;
    /// Buys a number, its calls and status reports pointed to this service; the provider's id
    /// for it.
    async fn provision_number(&self, phone_e164: &str) -> Result<Option<String>, ProviderError>;
    /// Gives a number back: a provisioned one is released at the provider (and stops costing),
    /// an imported one stops pointing here. A number the provider no longer has is done.
    async fn release_number(&self, number: &PhoneNumber) -> Result<(), ProviderError>;
    /// Starts a call; returns the provider's id for it.
    async fn place_call(&self, call: &OutboundCall) -> Result<String, ProviderError>;
    /// The id `place_call` will return for our call `call_id`, when the provider can tell it
    /// beforehand: the call is then recorded with it, and not written again once placed.
    fn call_id_for(&self, _call_id: &str) -> Option<String> {
        None
    }
    async fn hang_up(&self, provider_call_id: &str) -> Result<(), ProviderError>;
    /// What the provider says of a call now (to reconcile a call whose reports were lost);
    /// `None` from a provider that reports everything itself.
    async fn fetch_call(&self, provider_call_id: &str) -> Result<Option<ProviderCall>, ProviderError>;
    /// The ended call's recording as the provider made it (the agent speaking in `voice`), or
    /// `None` when it made none; `Unavailable` while the provider is still preparing it.
    async fn recording(&self, call: &Call, voice: &Voice) -> Result<Option<Speech>, ProviderError>;
    /// Deletes the provider's copies of the call's recording, once ours is kept or declined.
    async fn discard_recording(&self, call: &Call) -> Result<(), ProviderError>;
}

/// A call as its provider sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderCall {
    pub status: CallStatus,
    pub duration_seconds: Option<u32>,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// JSON Schema of the tool's input.
    pub input_schema: serde_json::Value,
}

/// The model asking to run a tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolUse {
    pub id: String,
    pub name: String,
    pub input: serde_json::Value,
}

/// One message of a model conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum LlmMessage {
    User {
        text: String,
    },
    Assistant {
        text: String,
        tool_uses: Vec<ToolUse>,
    },
    /// What the tools the model called returned: `(tool_use_id, content)`.
    ToolResults {
        results: Vec<(String, String)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct LlmRequest {
    pub system: String,
    pub messages: Vec<LlmMessage>,
    pub tools: Vec<ToolSpec>,
    /// Makes the model answer by calling this tool (structured output).
    pub force_tool: Option<&'static str>,
    /// The time the conversation happens at, for "tomorrow" and the like.
    pub now: DateTime<Utc>,
    pub max_tokens: u32,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LlmReply {
    pub text: String,
    pub tool_uses: Vec<ToolUse>,
}

/// A language model.
#[async_trait]
pub trait Llm: Send + Sync {
    /// `offline` or `anthropic`.
    fn provider(&self) -> &'static str;
    async fn complete(&self, request: &LlmRequest) -> Result<LlmReply, ProviderError>;
}

/// Spoken audio.
#[derive(Debug, Clone, PartialEq)]
pub struct Speech {
    pub audio: Vec<u8>,
    pub content_type: &'static str,
}

impl Speech {
    /// A WAV file (16-bit mono PCM).
    pub fn wav(audio: Vec<u8>) -> Self {
        Self {
            audio,
            content_type: "audio/wav",
        }
    }

    /// Seconds of audio, rounded up, read from the WAV header; `None` when it is not WAV.
    pub fn duration_seconds(&self) -> Option<u32> {
        let reader = hound::WavReader::new(self.audio.as_slice()).ok()?;
        let rate = reader.spec().sample_rate.max(1);
        Some(reader.duration().div_ceil(rate))
    }
}

/// A text-to-speech service.
#[async_trait]
pub trait TextToSpeech: Send + Sync {
    /// `text` spoken in the voice.
    async fn speak(&self, voice: &crate::model::Voice, text: &str) -> Result<Speech, ProviderError>;
}

/// Where call recordings are kept, by workspace and call.
#[async_trait]
pub trait Recordings: Send + Sync {
    /// Keeps `audio` as the call's recording; the store deletes it after `retention_days`.
    async fn put(&self, workspace_id: &str, call_id: &str, audio: &Speech, retention_days: u32) -> anyhow::Result<()>;
    /// A link that serves the recording, to whoever holds it, for `valid_for`.
    async fn link(&self, workspace_id: &str, call_id: &str, valid_for: std::time::Duration) -> anyhow::Result<String>;
    /// Deletes the recording; one already gone is done.
    async fn delete(&self, workspace_id: &str, call_id: &str) -> anyhow::Result<()>;
}

/// Where files too large to answer inline are left for a while, behind a link.
#[async_trait]
pub trait Exports: Send + Sync {
    /// Keeps `body` as the workspace's export `export_id` for a day; a link that serves it for
    /// `valid_for`.
    async fn put_export(
        &self,
        workspace_id: &str,
        export_id: &str,
        body: Vec<u8>,
        content_type: &str,
        valid_for: std::time::Duration,
    ) -> anyhow::Result<String>;
}

/// An email to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    /// What the mail is for (`verify_email`), for logs and tests.
    pub kind: String,
    /// Files sent with it (the weekly report's PDF). Never queued: SQS carries at most 256 KB,
    /// so mail with attachments goes to the transport directly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// A file attached to a mail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    /// The file, base64 in JSON.
    #[serde(with = "base64_bytes")]
    pub content: Vec<u8>,
}

mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

impl Mail {
    /// The HTML part: the text's paragraphs, escaped, under the product's name.
    pub fn html(&self) -> String {
        let escape = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        };
        let paragraphs: String = self
            .text
            .split("\n\n")
            .filter(|p| !p.trim().is_empty())
            .map(|p| format!("<p>{}</p>\n", escape(p.trim()).replace('\n', "<br>\n")))
            .collect();
        format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
             <body style=\"font-family: sans-serif; line-height: 1.5\">\n\
             <h2 style=\"margin: 0 0 1em\">Switchboard</h2>\n{paragraphs}</body></html>\n",
            escape(&self.subject)
        )
    }
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &Mail) -> anyhow::Result<()>;
}

/// Speaks into live calls (Twilio ConversationRelay): what resumes a call's conversation from
/// outside the call, e.g. a decided approval, uses it to say the agent's answer.
#[async_trait]
pub trait LiveCalls: Send + Sync {
    /// Says the agent's lines among `messages` on the call's live connection, if it has one;
    /// ends the session when the conversation has `ended`.
    async fn say(&self, workspace_id: &str, call_id: &str, messages: &[Message], ended: bool) -> anyhow::Result<()>;
}

/// Sends messages down relay connections.
#[async_trait]
pub trait RelayConnections: Send + Sync {
    async fn send(&self, connection_id: &str, message: &str) -> anyhow::Result<()>;
}

/// What a webhook receiver answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub status: u16,
    /// The start of the body (kept for failed attempts).
    pub body_excerpt: String,
}

/// Posts signed webhook deliveries to receivers.
#[async_trait]
pub trait WebhookTransport: Send + Sync {
    /// `url` as deliveries will call it, if events may be sent there (scheme, host and, in
    /// production, a public address); why not otherwise.
    async fn check_destination(&self, url: &str) -> Result<String, String>;
    /// POSTs `body` (JSON) with `headers` to `url`; what went wrong when no answer came.
    async fn post(&self, url: &str, headers: &[(&'static str, String)], body: Vec<u8>) -> Result<Receipt, String>;
}

/// A request to an outside API, made for a workflow step or a connection's test.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundRequest {
    pub method: crate::model::HttpMethod,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

/// What an outside API answered: its status and (the start of) its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundResponse {
    pub status: u16,
    pub body: String,
}

/// Requests to outside APIs, with the guard webhook deliveries have: no redirects, a timeout,
/// and in production public addresses only.
#[async_trait]
pub trait OutboundHttp: Send + Sync {
    /// `url` as requests will call it, if they may (as [`WebhookTransport::check_destination`]).
    async fn check_destination(&self, url: &str) -> Result<String, String>;
    /// Sends `request`; what went wrong when no answer came.
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, String>;
}

/// A top-up to collect through the payment provider.
#[derive(Debug, Clone, PartialEq)]
pub struct TopUpRequest {
    pub workspace_id: String,
    pub amount_minor: i64,
    pub currency: String,
    /// Where the provider's checkout page sends the payer back to.
    pub success_url: Option<String>,
    pub cancel_url: Option<String>,
}

/// A checkout the payment provider opened for a top-up. Nothing is credited until its
/// provider reports, through the signed payment webhook, that it was paid.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkout {
    /// The provider's id of the checkout (`cs_...`).
    pub id: String,
    /// Where the payer pays, when the provider has a page for it.
    pub url: Option<String>,
}

/// A payment the provider says was made, read from its signed webhook: a paid top-up
/// checkout, or an auto-charge of the saved card.
#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    /// The provider's id of the payment (checkout session or payment intent): credited once per id.
    pub id: String,
    /// `TopUp` or `AutoCharge`.
    pub kind: crate::model::LedgerKind,
    pub workspace_id: String,
    pub amount_minor: i64,
    pub currency: String,
    /// The provider's customer whose card was saved for later charges, when it was.
    pub customer: Option<String>,
}

/// A charge of a workspace's saved card, started by the provider's API and credited, like a
/// top-up, only by its signed webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedCardCharge {
    pub workspace_id: String,
    pub customer: String,
    pub amount_minor: i64,
    pub currency: String,
    /// The same key starts the same charge once at the provider, however often it is asked.
    pub idempotency_key: String,
}

/// The payment provider: opens checkouts for top-ups, and reads the webhooks that say they
/// were paid.
#[async_trait]
pub trait Payments: Send + Sync {
    /// `offline` or `stripe`.
    fn provider(&self) -> &'static str;
    async fn checkout(&self, request: &TopUpRequest) -> Result<Checkout, ProviderError>;
    /// Starts a charge of the saved card; the provider's id of the payment.
    async fn charge_saved_card(&self, charge: &SavedCardCharge) -> Result<String, ProviderError>;
}

/// Asks a provider whether it accepts a credential a workspace brings. Each deployment has its
/// own: with the simulator and the offline model, only test credentials are accepted, as a
/// provider would refuse others.
#[async_trait]
pub trait ProviderChecks: Send + Sync {
    /// `Rejected` with the provider's reason when it refuses the credential.
    async fn check(&self, credential: &crate::model::ProviderCredential) -> Result<(), ProviderError>;
}

/// Makes a workspace's own provider adapters from the credentials it brought, for the kinds of
/// provider the function uses: a function that only asks for models links no telephony or
/// voice adapter.
pub trait ProviderFactory: Send + Sync {
    /// The workspace's telephony through its own account, and the key that account signs its
    /// webhooks with (`None` when nothing signs them, as with the simulator); `None` where the
    /// function has no telephony.
    #[allow(clippy::type_complexity)]
    fn telephony(
        &self,
        workspace_id: &str,
        account_sid: &str,
        auth_token: &str,
    ) -> Option<(std::sync::Arc<dyn Telephony>, Option<String>)>;
    fn llm(&self, api_key: &str) -> std::sync::Arc<dyn Llm>;
    /// Speech through the workspace's own voice account, in the voices it chose per persona;
    /// `None` where the function speaks no voices.
    fn speech(
        &self,
        api_key: &str,
        voices: &std::collections::BTreeMap<String, String>,
    ) -> Option<std::sync::Arc<dyn TextToSpeech>>;
}

/// The text-to-speech voice that speaks a persona on live calls, as the telephony provider is
/// told to synthesise it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveVoice {
    /// An Amazon Polly neural voice, by its Polly id (`Amy`): the platform's voices.
    AmazonPolly(String),
    /// An ElevenLabs voice, by its id: one a workspace chose in its own account.
    ElevenLabs(String),
}

/// How a workspace's agents sound: the platform's voices, except the personas the workspace
/// gave voices of its own account to.
#[derive(Clone, Default)]
pub struct Voices {
    /// Persona id → the workspace's own (ElevenLabs) voice id.
    pub own: std::collections::BTreeMap<String, String>,
    /// What speaks previews: the workspace's own account for the personas in `own`, the
    /// platform's for the others; `None` in functions that speak nothing themselves.
    pub speech: Option<std::sync::Arc<dyn TextToSpeech>>,
}

impl Voices {
    pub fn live(&self, voice: &Voice) -> LiveVoice {
        match self.own.get(voice.id) {
            Some(own) => LiveVoice::ElevenLabs(own.clone()),
            None => LiveVoice::AmazonPolly(voice.provider_voice_id.to_owned()),
        }
    }
}

/// The provider accounts a workspace's work goes through: the platform's (`bundled`) or the
/// workspace's own (`byok`).
#[async_trait]
pub trait ProviderAccounts: Send + Sync {
    async fn telephony(&self, workspace_id: &str) -> Result<std::sync::Arc<dyn Telephony>, crate::Error>;
    async fn llm(&self, workspace_id: &str) -> Result<std::sync::Arc<dyn Llm>, crate::Error>;
    /// The key the workspace's telephony account signs webhooks with; `None` for the platform's.
    async fn webhook_key(&self, workspace_id: &str) -> Result<Option<String>, crate::Error>;
    /// How its agents sound, on live calls and in previews.
    async fn voices(&self, workspace_id: &str) -> Result<Voices, crate::Error>;
    /// Whose accounts they are, which sets what its calls cost.
    async fn mode(&self, workspace_id: &str) -> Result<crate::model::ProviderMode, crate::Error>;
}
