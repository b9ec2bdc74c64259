//! The automation assistant: a workflow or connector drafted by the model from a sentence, and
//! answers about the workspace's own setup through read-only tools. The model only proposes;
//! what it drafts is checked as a saved one would be, and nothing is saved or made live here.

use chrono::{DateTime, Utc};
use serde_json::json;
use switchboard_core::error::ProviderError;
use switchboard_core::ports::{Llm, LlmMessage, LlmRequest, ToolSpec, ToolUse};
use switchboard_core::{Error, ErrorCode};

pub const RECORD_WORKFLOW: &str = "record_workflow";
pub const RECORD_CONNECTOR: &str = "record_connector";

/// The read-only tools of the assistant's chat: each lists what the workspace holds.
pub const LIST_AGENTS: &str = "list_agents";
pub const LIST_PHONE_NUMBERS: &str = "list_phone_numbers";
pub const LIST_CONNECTIONS: &str = "list_connections";
pub const LIST_WORKFLOWS: &str = "list_workflows";
pub const LIST_TRIGGERS: &str = "list_triggers";
pub const LIST_EXECUTIONS: &str = "list_executions";

/// How the workspace's setup is written for the model, one line each: `- <kind> <id>: <about>`.
pub const SETUP_HEADER: &str = "The workspace holds:";

/// A line of the setup the model reads.
pub fn setup_line(kind: &str, id: &str, about: &str) -> String {
    format!("- {kind} {id}: {about}")
}

fn empty_object_tool(name: &'static str, description: &'static str) -> ToolSpec {
    ToolSpec {
        name,
        description,
        input_schema: json!({"type": "object", "properties": {}}),
    }
}

/// The tools of the chat, all read-only.
pub fn chat_tools() -> Vec<ToolSpec> {
    vec![
        empty_object_tool(LIST_AGENTS, "The workspace's agents: id, name, whether active."),
        empty_object_tool(
            LIST_PHONE_NUMBERS,
            "The workspace's phone numbers and the agent answering each.",
        ),
        empty_object_tool(
            LIST_CONNECTIONS,
            "The workspace's connections to outside APIs and their connectors.",
        ),
        empty_object_tool(LIST_WORKFLOWS, "The workspace's workflows, their status and steps."),
        empty_object_tool(
            LIST_TRIGGERS,
            "What starts the workspace's workflows: events, schedules, inbound URLs.",
        ),
        empty_object_tool(
            LIST_EXECUTIONS,
            "The workspace's latest workflow runs and how they ended.",
        ),
    ]
}

/// The kind of draft asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DraftKind {
    Workflow,
    Connector,
}

fn draft_tool(kind: DraftKind) -> ToolSpec {
    match kind {
        DraftKind::Workflow => ToolSpec {
            name: RECORD_WORKFLOW,
            description: "Record the workflow drafted from the request.",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                    "steps": {"type": "array", "items": {"type": "object"}, "description":
                        "Steps in order, each with a unique `id` and a `type`: http {connection_id, action, input}, \
                         start_call {agent_id, phone_number_id, to}, add_to_dnc {phone, reason}, upsert_contact \
                         {phone, attributes}, send_agent_message {agent_id, content}, wait {minutes}, condition \
                         {value, comparison, with, otherwise}. Strings take {{trigger.data...}} and \
                         {{steps.<id>.output...}} placeholders."},
                    "trigger": {"type": ["object", "null"], "description":
                        "What starts it: {type: event, event, filter}, {type: schedule, cron, timezone}, \
                         {type: inbound}, or null for runs started by hand."}
                },
                "required": ["name", "steps"]
            }),
        },
        DraftKind::Connector => ToolSpec {
            name: RECORD_CONNECTOR,
            description: "Record the custom connector drafted from the request.",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                    "base_url": {"type": "string"},
                    "auth": {"type": "object", "description":
                        "{type: none | bearer | basic | api_key_header (header) | oauth2_client_credentials (token_url, scope)}"},
                    "actions": {"type": "array", "items": {"type": "object", "properties": {
                        "name": {"type": "string"}, "method": {"type": "string"}, "path": {"type": "string"},
                        "body": {}, "outputs": {"type": "object"}}, "required": ["name", "method", "path"]}},
                    "test_action": {"type": ["string", "null"]}
                },
                "required": ["name", "base_url", "auth", "actions"]
            }),
        },
    }
}

/// The request that drafts a `kind` from `prompt`, given the workspace's `setup` lines.
pub fn draft_request(kind: DraftKind, prompt: &str, setup: &[String], now: DateTime<Utc>) -> LlmRequest {
    let system = match kind {
        DraftKind::Workflow => {
            "You draft workflows for Switchboard, a voice-AI calling platform. Use only the connections, agents and \
             numbers the workspace holds, by id. Record exactly one workflow; keep it to the steps the request asks for."
        }
        DraftKind::Connector => {
            "You draft custom connectors for Switchboard: a JSON API's base URL, how it authenticates, and its actions \
             (method, path, JSON body with {{input.<name>}} placeholders, outputs as JSON pointers). Record exactly one."
        }
    };
    let mut text = prompt.trim().to_owned();
    if !setup.is_empty() {
        text.push_str(&format!("\n\n{SETUP_HEADER}\n{}", setup.join("\n")));
    }
    LlmRequest {
        system: system.into(),
        messages: vec![LlmMessage::User { text }],
        tools: vec![draft_tool(kind)],
        force_tool: Some(match kind {
            DraftKind::Workflow => RECORD_WORKFLOW,
            DraftKind::Connector => RECORD_CONNECTOR,
        }),
        now,
        max_tokens: 2000,
    }
}

/// The chat's request: its system prompt, the conversation so far and the read-only tools.
pub fn chat_request(messages: Vec<LlmMessage>, now: DateTime<Utc>) -> LlmRequest {
    LlmRequest {
        system:
            "You are Switchboard's assistant. Answer questions about this workspace's own setup — agents, numbers, \
                 connections, workflows, triggers and runs — from what your tools return; say so when they do not \
                 tell. You cannot change anything."
                .into(),
        messages,
        tools: chat_tools(),
        force_tool: None,
        now,
        max_tokens: 1000,
    }
}

/// Drafting with the model: the draft `request` forces, then — when the caller's checks refuse
/// it — one more try, the model told why.
pub struct Drafting {
    request: LlmRequest,
    tries_left: u32,
}

impl Drafting {
    pub fn new(request: LlmRequest) -> Self {
        Self { request, tries_left: 2 }
    }

    /// The model's next draft; `None` when it drafted nothing.
    pub async fn next(&mut self, llm: &dyn Llm) -> Result<Option<ToolUse>, Error> {
        self.tries_left = self.tries_left.saturating_sub(1);
        let tool = self.request.force_tool.unwrap_or_default();
        let reply = llm.complete(&self.request).await.map_err(model_error)?;
        let used = reply.tool_uses.iter().find(|t| t.name == tool).cloned();
        if let Some(used) = &used {
            self.request.messages.push(LlmMessage::Assistant {
                text: reply.text,
                tool_uses: vec![used.clone()],
            });
        }
        Ok(used)
    }

    /// Tells the model why its draft `used` was refused; whether it may try again.
    pub fn refused(&mut self, used: &ToolUse, why: &str) -> bool {
        if self.tries_left == 0 {
            return false;
        }
        self.request.messages.push(LlmMessage::ToolResults {
            results: vec![(
                used.id.clone(),
                format!("Refused: {why}. Record the draft again, mended."),
            )],
        });
        true
    }
}

/// A model's failure as the API tells it.
pub fn model_error(e: ProviderError) -> Error {
    match e {
        ProviderError::Rejected(why) => Error::internal(anyhow::anyhow!("the model refused: {why}")),
        ProviderError::Unauthorized(why) => Error::refused(
            ErrorCode::ProviderCredentialMissing,
            format!("The language model refused the workspace's credential: {why}."),
        ),
        ProviderError::Unavailable(e) => Error::unavailable(e),
    }
}
