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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

resource!(Agent, AGENT, AgentNotFound);
