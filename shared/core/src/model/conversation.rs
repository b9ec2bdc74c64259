//! Conversations between an agent and a person, by text chat or on a call.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::object_name;
use crate::ports::LlmMessage;

object_name!(ConversationObject, "conversation");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Chat,
    Call,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    Active,
    /// The agent asked a human for an approval and waits for the decision.
    AwaitingApproval,
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageRole {
    Agent,
    /// The person the agent talks with (the callee on a call).
    User,
    /// Something the agent did (booked, asked for approval, added to do-not-call, hung up).
    Action,
}

/// One entry of a conversation's transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    pub role: MessageRole,
    pub content: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Conversation {
    #[schema(example = "cnv_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: ConversationObject,
    pub agent_id: String,
    pub channel: Channel,
    pub call_id: Option<String>,
    /// The other party's number, when known (E.164).
    pub phone: Option<String>,
    pub contact_id: Option<String>,
    pub status: ConversationStatus,
    pub pending_approval_id: Option<String>,
    pub ended_reason: Option<String>,
    pub messages: Vec<Message>,
    /// What the model has seen, tool calls included.
    #[serde(default)]
    #[schema(ignore)]
    pub model_history: Vec<LlmMessage>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Conversation {
    /// The messages after the first `from`.
    pub fn messages_since(&self, from: usize) -> &[Message] {
        &self.messages[from.min(self.messages.len())..]
    }
}

resource!(Conversation, CONVERSATION, ConversationNotFound);
