//! Agents: the AI voice personalities that place and answer calls.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::object_name;

object_name!(AgentObject, "agent");

/// Starting points for an agent: `(id, system_prompt, first_message)`.
pub const AGENT_TEMPLATES: &[(&str, &str, &str)] = &[
    (
        "customer-service",
        "You are a friendly, concise customer service agent. Answer questions about the customer's account, resolve what you can, and offer a callback from a human when you cannot.",
        "Hi, thanks for calling. How can I help you today?",
    ),
    (
        "appointment-setter",
        "You call people who asked to be contacted and help them book a time that suits them. Confirm the date, time and time zone before you book.",
        "Hi, this is a quick call to help you find a time for your appointment. Is now a good moment?",
    ),
    (
        "lead-qualification",
        "You qualify inbound leads: learn their need, timeline and budget in a natural conversation, and book a follow-up with sales when they are a fit.",
        "Hi, thanks for your interest! Do you have two minutes to tell me what you're looking for?",
    ),
];

/// The schema of a voice: the id of one of the [`VOICES`](super::VOICES).
pub fn voice_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(super::voice::voice_ids()))
        .build()
}

/// The schema of a template name: one of [`AGENT_TEMPLATES`].
pub fn template_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(AGENT_TEMPLATES.iter().map(|(name, ..)| *name)))
        .build()
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Agent {
    #[schema(example = "agt_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: AgentObject,
    pub name: String,
    pub system_prompt: String,
    /// What the agent says when the call connects.
    pub first_message: String,
    #[schema(example = "amelia")]
    pub voice: String,
    /// BCP 47 language tag.
    #[schema(example = "en-US")]
    pub language: String,
    /// Seconds after which a call is ended.
    pub max_call_duration: u32,
    /// The template the agent was created from, if any.
    pub template: Option<String>,
    pub is_active: bool,
    /// Whether its calls are recorded. A recorded call starts with a notice in the agent's
    /// language, and a callee who declines keeps the call unrecorded.
    #[serde(default)]
    pub record_calls: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Agent {
    /// What the agent says when a call connects: its first message, after the recording notice
    /// when it records. The notice is said on every recorded call: some places the callee may be
    /// (California, Florida, most of Europe, India) need every party told, and a number does not
    /// say where its holder is.
    pub fn call_greeting(&self) -> String {
        if !self.record_calls {
            return self.first_message.clone();
        }
        let notice = recording_notice(&self.language);
        if self.first_message.is_empty() {
            notice.to_owned()
        } else {
            format!("{notice} {}", self.first_message)
        }
    }
}

/// The recording notice in a language (BCP 47); English where none is written.
pub fn recording_notice(language: &str) -> &'static str {
    match language.split('-').next().unwrap_or_default() {
        "hi" => "यह कॉल रिकॉर्ड की जा रही है; अगर आप नहीं चाहते, तो बता दीजिए।",
        "es" => "Esta llamada se está grabando; si prefiere que no, dígamelo.",
        "fr" => "Cet appel est enregistré ; si vous ne le souhaitez pas, dites-le-moi.",
        "de" => "Dieses Gespräch wird aufgezeichnet; wenn Sie das nicht möchten, sagen Sie es mir.",
        _ => "This call is recorded; if you'd rather it wasn't, just say so.",
    }
}

/// Whether the callee declined the recording in what they said (the library's recording
/// objection, in any language it lists).
pub fn recording_declined(transcript: &[super::Message]) -> bool {
    transcript
        .iter()
        .filter(|m| m.role == super::MessageRole::User)
        .filter_map(|m| super::objection_heard(&m.content.to_lowercase()))
        .any(|o| o.id == super::RECORDING_OBJECTION)
}

resource!(Agent, AGENT, AgentNotFound);
