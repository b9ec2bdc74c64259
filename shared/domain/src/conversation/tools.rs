//! The tools agents have, described for the model.

use serde_json::json;

use switchboard_core::ports::ToolSpec;

pub const BOOK_APPOINTMENT: &str = "book_appointment";
pub const REQUEST_APPROVAL: &str = "request_approval";
pub const ADD_TO_DNC: &str = "add_to_dnc";
pub const END_CALL: &str = "end_call";
/// Structured output of a call's analysis.
pub const RECORD_ANALYSIS: &str = "record_analysis";
pub const RECORD_RULE_BOOK: &str = "record_rule_book";

/// What an agent can do during a conversation.
pub fn conversation_tools() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: BOOK_APPOINTMENT,
            description: "Book an appointment with the person you are talking to, once they agreed on a time.",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "start_time": {"type": "string", "description": "ISO 8601 start time, on a 5-minute boundary"},
                    "duration_minutes": {"type": "integer", "minimum": 5, "maximum": 240},
                    "title": {"type": "string"}
                },
                "required": ["start_time", "title"]
            }),
        },
        ToolSpec {
            name: REQUEST_APPROVAL,
            description: "Ask a human to approve something you may not grant yourself: a concession, a refund waiver, a callback or an escalation. Wait for the answer before promising anything.",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "proposed_action": {"type": "string", "enum": ["concession", "refund_waiver", "callback", "escalation"]},
                    "proposed_value_minor": {"type": "integer", "minimum": 0, "description": "amount in cents, if any"},
                    "currency": {"type": "string"},
                    "rationale": {"type": "string"}
                },
                "required": ["proposed_action", "rationale"]
            }),
        },
        ToolSpec {
            name: ADD_TO_DNC,
            description: "Put the person on the do-not-call list when they ask not to be called again.",
            input_schema: json!({"type": "object", "properties": {"reason": {"type": "string"}}, "required": ["reason"]}),
        },
        ToolSpec {
            name: END_CALL,
            description: "End the conversation, after saying goodbye.",
            input_schema: json!({"type": "object", "properties": {"reason": {"type": "string"}}, "required": ["reason"]}),
        },
    ]
}

/// The analysis of a finished call.
pub fn analysis_tool() -> ToolSpec {
    ToolSpec {
        name: RECORD_ANALYSIS,
        description: "Record the analysis of the call transcript.",
        input_schema: json!({
            "type": "object",
            "properties": {
                "summary": {"type": "string", "description": "two or three sentences"},
                "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
                "outcome": {"type": "string", "enum": ["appointment_booked", "approval_requested", "do_not_call", "not_interested", "voicemail", "completed"]}
            },
            "required": ["summary", "sentiment", "outcome"]
        }),
    }
}

/// A campaign's rule book, from its brief.
pub fn rule_book_tool() -> ToolSpec {
    ToolSpec {
        name: RECORD_RULE_BOOK,
        description: "Record the rule book the agent follows on the campaign's calls.",
        input_schema: json!({
            "type": "object",
            "properties": {
                "system_prompt": {"type": "string", "description": "the agent's instructions for these calls"},
                "opening": {"type": "string", "description": "the first sentence of each call"},
                "objection_handlers": {"type": "array", "items": {"type": "object", "properties": {
                    "objection": {"type": "string"}, "response": {"type": "string"}}, "required": ["objection", "response"]}},
                "closing": {"type": "string"},
                "never": {"type": "array", "items": {"type": "string"}, "description": "what the agent must never do or say"}
            },
            "required": ["system_prompt", "opening", "objection_handlers", "closing", "never"]
        }),
    }
}
