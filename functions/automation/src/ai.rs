//! The automation assistant (`/v1/ai/...`). `build` drafts a workflow (with the trigger it
//! needs) or a custom connector from a sentence through the workspace's language model, and
//! checks the draft as saving it would; it saves nothing, so nothing it drafts runs until a
//! person creates it and makes it live. `chat` answers questions about the workspace's setup
//! from read-only tools.

use std::sync::Arc;

use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_core::model::{Scope, WorkflowStatus};
use switchboard_core::ports::{ListQuery, Llm, LlmMessage, ToolUse};
use switchboard_core::{ErrorCode, validate};
use switchboard_domain::automation::assistant::{
    self, DraftKind, LIST_AGENTS, LIST_CONNECTIONS, LIST_EXECUTIONS, LIST_PHONE_NUMBERS, LIST_TRIGGERS, LIST_WORKFLOWS,
    model_error, setup_line,
};
use switchboard_http::{Access, ApiError, Reply, Request, Route};
use utoipa::ToSchema;

use crate::State;
use crate::connectors::ConnectorInput;
use crate::triggers::CreateTrigger;
use crate::workflows::WorkflowInput;

const TAG: &str = "Assistant";
/// What the assistant reads of each kind of resource, at most.
const SETUP_LIMIT: u32 = 50;
/// Tool rounds a chat answer may take.
const MAX_TOOL_ROUNDS: usize = 4;
const MAX_CHAT_MESSAGES: usize = 20;

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::POST, "/v1/ai/build", build)
            .changes_nothing()
            .doc(TAG, "aiBuild", "Draft a workflow or connector")
            .describe(
                "Drafts a workflow (`kind: workflow`, with the trigger it needs) or a custom connector (`kind: connector`) \
                 from `prompt`, through the workspace's language model, using the connections, agents and numbers it \
                 holds. The draft is checked as creating it would be checked (422 `ai_draft_invalid` naming what the \
                 model got wrong) and is not saved: create it with `POST /v1/workflows` (then `POST /v1/triggers`) or \
                 `POST /v1/connectors`; a workflow runs only once a person makes it live. `notes` say what was left out.",
            )
            .body::<BuildRequest>(|| {
                json!({"kind": "workflow", "prompt": "When a call ends unanswered, post to the team chat and update the contact."})
            })
            .returns::<AiDraft>(200, "The checked draft."),
        Route::new(Method::POST, "/v1/ai/chat", chat)
            .changes_nothing()
            .access(Access::Scoped(Scope::Read))
            .doc(TAG, "aiChat", "Ask about the workspace's setup")
            .describe(
                "Answers the last of `messages` (the conversation so far, oldest first) from read-only tools over the \
                 workspace's agents, numbers, connections, workflows, triggers and runs. It changes nothing.",
            )
            .body::<ChatRequest>(|| json!({"messages": [{"role": "user", "content": "Which workflows are live?"}]}))
            .returns::<ChatReply>(200, "The assistant's answer."),
    ]
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BuildKind {
    Workflow,
    Connector,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildRequest {
    pub kind: BuildKind,
    /// What to build, in a sentence or a few (at most 2,000 characters).
    #[schema(max_length = 2000)]
    pub prompt: String,
}

/// A checked draft, not saved.
#[derive(Debug, Serialize, ToSchema)]
pub struct AiDraft {
    /// `ai_draft`.
    #[schema(example = "ai_draft")]
    pub object: &'static str,
    pub kind: BuildKind,
    /// For `workflow`: the body of `POST /v1/workflows` (a draft).
    #[schema(value_type = Option<Object>)]
    pub workflow: Option<Value>,
    /// For `workflow`: the body of `POST /v1/triggers` without `workflow_id`; null for runs started by hand.
    #[schema(value_type = Option<Object>)]
    pub trigger: Option<Value>,
    /// For `connector`: the body of `POST /v1/connectors`.
    #[schema(value_type = Option<Object>)]
    pub connector: Option<Value>,
    /// What the draft leaves out, and why.
    pub notes: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    /// The conversation so far, oldest first, ending with the user's question (at most 20).
    pub messages: Vec<ChatMessage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChatRole {
    User,
    Assistant,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatMessage {
    pub role: ChatRole,
    #[schema(max_length = 4000)]
    pub content: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatReply {
    /// `ai_chat_reply`.
    #[schema(example = "ai_chat_reply")]
    pub object: &'static str,
    pub reply: String,
    /// The read-only tools the answer drew on.
    pub tools_used: Vec<String>,
}

async fn model(state: &State, req: &Request) -> Result<Arc<dyn Llm>, ApiError> {
    Ok(state.models.llm(req.workspace_id()?).await?)
}

/// A listing of `kind` for the model, one line each, newest first.
async fn lines<T: switchboard_core::ports::Resource>(
    repo: &dyn switchboard_core::ports::Repository<T>,
    ws: &str,
    line: impl Fn(&T) -> String,
) -> Result<Vec<String>, ApiError> {
    let query = ListQuery {
        limit: SETUP_LIMIT,
        ..ListQuery::default()
    };
    Ok(repo
        .query(ws, &query)
        .await?
        .items
        .iter()
        .map(|v| line(&v.value))
        .collect())
}

/// What a workflow may name: the workspace's connections, agents and numbers.
async fn setup(state: &State, ws: &str) -> Result<Vec<String>, ApiError> {
    let mut setup = lines(state.connections.as_ref(), ws, |c| {
        setup_line(
            "connection",
            &c.id,
            &format!("connector {}, \"{}\"", c.connector_id, c.name),
        )
    })
    .await?;
    setup.extend(
        lines(state.agents.as_ref(), ws, |a| {
            setup_line("agent", &a.id, &format!("\"{}\"", a.name))
        })
        .await?,
    );
    setup.extend(
        lines(state.numbers.as_ref(), ws, |n| {
            setup_line("number", &n.id, &n.phone_number)
        })
        .await?,
    );
    Ok(setup)
}

async fn build(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: BuildRequest = req.json()?;
    let prompt = validate::text("prompt", &input.prompt, 1, 2000)?;
    let ws = req.workspace_id()?;
    let kind = match input.kind {
        BuildKind::Workflow => DraftKind::Workflow,
        BuildKind::Connector => DraftKind::Connector,
    };
    let setup = match kind {
        DraftKind::Workflow => setup(&state, ws).await?,
        DraftKind::Connector => Vec::new(),
    };
    let llm = model(&state, &req).await?;
    let mut drafting = assistant::Drafting::new(assistant::draft_request(kind, &prompt, &setup, req.now));
    loop {
        let Some(used) = drafting.next(llm.as_ref()).await? else {
            return Err(ApiError::new(
                ErrorCode::AiDraftInvalid,
                "The model drafted nothing; describe it differently.",
            ));
        };
        match checked_draft(&state, &req, input.kind, &used.input).await {
            Ok(draft) => return Ok(Reply::ok(&draft)),
            Err(refused) => {
                if !drafting.refused(&used, &Refused(&refused).to_string()) {
                    return Err(draft_invalid(refused));
                }
            }
        }
    }
}

/// A check's refusal, as the model is told it.
struct Refused<'a>(&'a ApiError);

impl std::fmt::Display for Refused<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0.param {
            Some(param) => write!(f, "{} (`{param}`)", self.0.message),
            None => write!(f, "{}", self.0.message),
        }
    }
}

/// A check's refusal, as the draft's.
fn draft_invalid(refused: ApiError) -> ApiError {
    if refused.code == ErrorCode::AiDraftInvalid || refused.code.status() >= 500 {
        return refused;
    }
    let message = format!("The draft does not pass validation: {}", refused.message);
    match refused.param {
        Some(param) => ApiError::param(ErrorCode::AiDraftInvalid, param, message),
        None => ApiError::new(ErrorCode::AiDraftInvalid, message),
    }
}

fn notes_of(drafted: &Value) -> Vec<String> {
    drafted["notes"]
        .as_array()
        .map(|notes| {
            notes
                .iter()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .take(10)
                .collect()
        })
        .unwrap_or_default()
}

/// The model's draft, checked as creating it would be; its notes kept apart.
async fn checked_draft(state: &State, req: &Request, kind: BuildKind, drafted: &Value) -> Result<AiDraft, ApiError> {
    fn parse<T: serde::de::DeserializeOwned>(value: Value, what: &str) -> Result<T, ApiError> {
        serde_json::from_value(value).map_err(|e| {
            ApiError::new(
                ErrorCode::AiDraftInvalid,
                format!("The {what} drafted is malformed: {e}."),
            )
        })
    }
    let mut body = drafted.clone();
    if let Some(fields) = body.as_object_mut() {
        fields.remove("notes");
    }
    let notes = notes_of(drafted);
    match kind {
        BuildKind::Workflow => {
            let trigger = body
                .as_object_mut()
                .and_then(|b| b.remove("trigger"))
                .filter(|t| !t.is_null());
            body["status"] = json!(WorkflowStatus::Draft);
            let workflow: WorkflowInput = parse(body.clone(), "workflow")?;
            crate::workflows::checked(state, req, workflow).await?;
            if let Some(trigger) = &trigger {
                let mut with_workflow = trigger.clone();
                with_workflow["workflow_id"] = json!("wf_draft");
                let shape: CreateTrigger = parse(with_workflow, "trigger")?;
                crate::triggers::check_shape(&shape).map_err(|e| e.with_param("trigger"))?;
            }
            Ok(AiDraft {
                object: "ai_draft",
                kind,
                workflow: Some(body),
                trigger,
                connector: None,
                notes,
            })
        }
        BuildKind::Connector => {
            let connector: ConnectorInput = parse(body.clone(), "connector")?;
            crate::connectors::checked(state, connector).await?;
            Ok(AiDraft {
                object: "ai_draft",
                kind,
                workflow: None,
                trigger: None,
                connector: Some(body),
                notes,
            })
        }
    }
}

async fn chat(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: ChatRequest = req.json()?;
    if input.messages.is_empty() || input.messages.len() > MAX_CHAT_MESSAGES {
        return Err(ApiError::validation(
            "messages",
            format!("Send 1 to {MAX_CHAT_MESSAGES} messages, the last the user's."),
        ));
    }
    if input.messages.last().is_some_and(|m| m.role != ChatRole::User) {
        return Err(ApiError::validation(
            "messages",
            "The last message is the user's question.",
        ));
    }
    let mut messages = Vec::with_capacity(input.messages.len());
    for (i, message) in input.messages.iter().enumerate() {
        let text = validate::text(&format!("messages[{i}].content"), &message.content, 1, 4000)?;
        messages.push(match message.role {
            ChatRole::User => LlmMessage::User { text },
            ChatRole::Assistant => LlmMessage::Assistant {
                text,
                tool_uses: Vec::new(),
            },
        });
    }
    let llm = model(&state, &req).await?;
    let mut request = assistant::chat_request(messages, req.now);
    let mut tools_used: Vec<String> = Vec::new();
    for _ in 0..MAX_TOOL_ROUNDS {
        let reply = llm.complete(&request).await.map_err(model_error)?;
        if reply.tool_uses.is_empty() {
            return Ok(Reply::ok(&ChatReply {
                object: "ai_chat_reply",
                reply: reply.text,
                tools_used,
            }));
        }
        let mut results = Vec::with_capacity(reply.tool_uses.len());
        for used in &reply.tool_uses {
            results.push((used.id.clone(), look_up(&state, &req, used).await?));
            if !tools_used.contains(&used.name) {
                tools_used.push(used.name.clone());
            }
        }
        request.messages.push(LlmMessage::Assistant {
            text: reply.text,
            tool_uses: reply.tool_uses,
        });
        request.messages.push(LlmMessage::ToolResults { results });
    }
    Ok(Reply::ok(&ChatReply {
        object: "ai_chat_reply",
        reply: "I could not finish looking that up; ask about one thing at a time.".into(),
        tools_used,
    }))
}

/// What a read-only tool returns: the workspace's resources of its kind, a line each.
async fn look_up(state: &State, req: &Request, used: &ToolUse) -> Result<String, ApiError> {
    let ws = req.workspace_id()?;
    let (title, found) = match used.name.as_str() {
        LIST_AGENTS => (
            "Agents",
            lines(state.agents.as_ref(), ws, |a| {
                format!(
                    "{} ({}, {})",
                    a.name,
                    a.id,
                    if a.is_active { "active" } else { "inactive" }
                )
            })
            .await?,
        ),
        LIST_PHONE_NUMBERS => (
            "Phone numbers",
            lines(state.numbers.as_ref(), ws, |n| {
                let agent = n.agent_id.as_deref().unwrap_or("no agent");
                let status = serde_json::to_value(n.status).unwrap_or_default();
                let status = status.as_str().unwrap_or_default();
                format!("{} ({}, {status}, answered by {agent})", n.phone_number, n.id)
            })
            .await?,
        ),
        LIST_CONNECTIONS => (
            "Connections",
            lines(state.connections.as_ref(), ws, |c| {
                format!("{} ({}, connector {})", c.name, c.id, c.connector_id)
            })
            .await?,
        ),
        LIST_WORKFLOWS => (
            "Workflows",
            lines(state.workflows.as_ref(), ws, |w| {
                let status = serde_json::to_value(w.status).unwrap_or_default();
                format!(
                    "{} ({}, {}, {} steps)",
                    w.name,
                    w.id,
                    status.as_str().unwrap_or_default(),
                    w.steps.len()
                )
            })
            .await?,
        ),
        LIST_TRIGGERS => (
            "Triggers",
            lines(state.triggers.as_ref(), ws, |t| {
                let view = serde_json::to_value(t.view()).unwrap_or_default();
                let what = match (view["event"].as_str(), view["cron"].as_str()) {
                    (Some(event), _) => format!("on {event}"),
                    (_, Some(cron)) => format!("on `{cron}` ({}), next {}", view["timezone"], view["next_run_at"]),
                    _ => view["type"].as_str().unwrap_or_default().to_owned(),
                };
                let on = if t.enabled { "on" } else { "off" };
                format!("{} {what} starts {} ({on})", t.id, t.workflow_id)
            })
            .await?,
        ),
        LIST_EXECUTIONS => (
            "Latest runs",
            lines(state.runs.executions.as_ref(), ws, |e| {
                let status = serde_json::to_value(e.status).unwrap_or_default();
                let error = e.error.as_deref().map(|err| format!(": {err}")).unwrap_or_default();
                format!(
                    "{} of {} {}{error}",
                    e.id,
                    e.workflow_id,
                    status.as_str().unwrap_or_default()
                )
            })
            .await?,
        ),
        other => return Ok(format!("There is no tool `{other}`.")),
    };
    Ok(if found.is_empty() {
        format!("{title}: none.")
    } else {
        format!("{title} ({}):\n{}", found.len(), found.join("\n"))
    })
}
