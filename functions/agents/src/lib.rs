//! `agents`: create, read, update and delete voice agents (`/v1/agents`).

use std::sync::Arc;

use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{
    AGENT_TEMPLATES, Agent, AgentObject, Channel, Contact, Conversation, ConversationStatus, Message, Plan, Scope,
    template_schema, voice_by_id, voice_ids, voice_schema,
};
use switchboard_core::ports::{PageKey, ProviderAccounts, Quota, Repository, Versioned};
use switchboard_core::{ErrorCode, validate};
use switchboard_domain::conversation::{Engine, Party};
use switchboard_http::crud::{self, Deleted};
use switchboard_http::{
    Access, ApiError, Platform, QueryParam, Reply, Request, Route, Service, not_null, over_limit, set,
};
use switchboard_store::DynamoStore;
use utoipa::ToSchema;

pub struct State {
    pub agents: Arc<dyn Repository<Agent>>,
    pub contacts: Arc<dyn Repository<Contact>>,
    /// Text chat goes through the same engine as calls.
    pub engine: Engine,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn service(platform: Arc<Platform>, store: &DynamoStore, models: Arc<dyn ProviderAccounts>) -> Service<State> {
    let state = State {
        agents: Arc::new(store.clone()),
        contacts: Arc::new(store.clone()),
        engine: switchboard_runtime::engine(store, models),
    };
    Service::new(platform, state, routes())
}

const TAG: &str = "Agents";
const DEFAULT_VOICE: &str = "amelia";
const DEFAULT_LANGUAGE: &str = "en-US";
const DEFAULT_MAX_CALL_DURATION: u32 = 600;

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/agents", list)
            .doc(TAG, "listAgents", "List agents")
            .returns_list::<Agent>("A page of agents, newest first."),
        Route::new(Method::POST, "/v1/agents", create)
            .doc(TAG, "createAgent", "Create an agent")
            .describe("`system_prompt` is required unless `template` is given, whose prompt and first message fill what you leave out.")
            .body::<CreateAgent>(|| {
                json!({"name": "Support Agent", "system_prompt": "You are a helpful support agent for Acme.",
                       "first_message": "Hi, this is Acme support. How can I help?", "voice": "amelia",
                       "language": "en-US", "max_call_duration": 600})
            })
            .returns::<Agent>(201, "The agent."),
        Route::new(Method::GET, "/v1/agents/{id}", get).doc(TAG, "getAgent", "Get an agent").returns::<Agent>(200, "The agent."),
        Route::new(Method::PATCH, "/v1/agents/{id}", update)
            .doc(TAG, "updateAgent", "Update an agent")
            .describe("Send only the fields to change.")
            .body::<UpdateAgent>(|| json!({"name": "Renamed Agent", "is_active": false}))
            .returns::<Agent>(200, "The updated agent."),
        Route::new(Method::POST, "/v1/agents/{id}/messages", send_message)
            .doc(TAG, "sendMessage", "Chat with an agent")
            .describe(
                "Sends a message to the agent and returns what it said and did, through the same conversation engine that drives calls. \
                 Leave out `conversation_id` to start a conversation (201): bind it to a contact with `contact_id` so the agent can book \
                 appointments or honour do-not-call requests for them.",
            )
            .body::<SendMessage>(|| json!({"content": "Hi! Can I book an appointment for tomorrow?", "contact_id": "con_01JD3QZ9R6X4Y7T2W8V5N1M0KA"}))
            .returns::<ChatTurn>(200, "The agent's answer in a running conversation.")
            .returns::<ChatTurn>(201, "The agent's answer, in a new conversation."),
        Route::new(Method::GET, "/v1/agents/{id}/messages", list_messages)
            .doc(TAG, "listMessages", "Read a conversation with an agent")
            .query([QueryParam::string("conversation_id", "The conversation.").required()])
            .returns_list::<Message>("The conversation's messages, oldest first."),
        Route::new(Method::DELETE, "/v1/agents/{id}", delete)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "deleteAgent", "Delete an agent")
            .returns::<Deleted>(200, "The agent was deleted."),
    ]
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAgent {
    #[schema(max_length = 120)]
    pub name: String,
    #[schema(max_length = 32000)]
    pub system_prompt: Option<String>,
    #[schema(max_length = 2000)]
    pub first_message: Option<String>,
    /// One of the voice personas (default `amelia`).
    #[schema(schema_with = voice_schema, required = false)]
    pub voice: Option<String>,
    /// BCP 47 tag (default `en-US`).
    pub language: Option<String>,
    /// Seconds, 30 to 7200 (default 600).
    #[schema(minimum = 30, maximum = 7200)]
    pub max_call_duration: Option<u32>,
    /// A starting point whose prompt and first message fill what you leave out.
    #[schema(schema_with = template_schema, required = false)]
    pub template: Option<String>,
    pub is_active: Option<bool>,
    /// Record its calls (default false): each recorded call starts with a notice in the
    /// agent's language, and a callee who declines is not recorded.
    pub record_calls: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgent {
    #[serde(default, deserialize_with = "not_null")]
    #[schema(max_length = 120)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(max_length = 32000)]
    pub system_prompt: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(max_length = 2000)]
    pub first_message: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = voice_schema, required = false)]
    pub voice: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub language: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(minimum = 30, maximum = 7200)]
    pub max_call_duration: Option<u32>,
    #[serde(default, deserialize_with = "not_null")]
    pub is_active: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    pub record_calls: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    #[schema(max_length = 4000)]
    pub content: String,
    /// Continue this conversation; leave out to start one.
    pub conversation_id: Option<String>,
    /// The contact a new conversation is with.
    pub contact_id: Option<String>,
}

/// What one message to an agent produced.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatTurn {
    pub object: ChatTurnObject,
    pub conversation_id: String,
    pub status: ConversationStatus,
    /// The approval the agent waits for, if any; deciding it continues the conversation.
    pub pending_approval_id: Option<String>,
    /// Your message, then what the agent said and did.
    pub messages: Vec<Message>,
}

switchboard_core::object_name!(ChatTurnObject, "chat_turn");

fn quota(plan: Plan) -> Quota {
    Quota {
        counter: "agent_count",
        max: plan.max_agents(),
    }
}

/// Checks and normalises every field of an agent.
fn validated(mut agent: Agent) -> Result<Agent, ApiError> {
    agent.name = validate::text("name", &agent.name, 1, 120)?;
    agent.system_prompt = validate::text("system_prompt", &agent.system_prompt, 0, 32_000)?;
    agent.first_message = validate::text("first_message", &agent.first_message, 0, 2_000)?;
    if voice_by_id(&agent.voice).is_none() {
        return Err(ApiError::param(
            ErrorCode::InvalidValue,
            "voice",
            format!(
                "`voice` must be the id of a voice GET /v1/voices lists: {}.",
                voice_ids().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    agent.language = validate::language("language", &agent.language)?;
    validate::range("max_call_duration", agent.max_call_duration, 30, 7_200)?;
    Ok(agent)
}

async fn list(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    crud::list(state.agents.as_ref(), &req).await
}

async fn create(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: CreateAgent = req.json()?;
    let template = match &input.template {
        None => None,
        Some(name) => Some(AGENT_TEMPLATES.iter().find(|(id, ..)| id == name).ok_or_else(|| {
            let names: Vec<&str> = AGENT_TEMPLATES.iter().map(|(id, ..)| *id).collect();
            ApiError::param(
                ErrorCode::InvalidValue,
                "template",
                format!("`template` must be one of: {}.", names.join(", ")),
            )
        })?),
    };
    let system_prompt = match (input.system_prompt, template) {
        (Some(prompt), _) => prompt,
        (None, Some((_, prompt, _))) => (*prompt).to_owned(),
        (None, None) => {
            return Err(ApiError::validation(
                "system_prompt",
                "`system_prompt` is required unless `template` is given.",
            ));
        }
    };
    let now = switchboard_core::clock::api_time(req.now);
    let agent = validated(Agent {
        id: ids::new_id_at(prefix::AGENT, req.now),
        object: AgentObject,
        name: input.name,
        system_prompt,
        first_message: input
            .first_message
            .or_else(|| template.map(|(_, _, first)| (*first).to_owned()))
            .unwrap_or_default(),
        voice: input.voice.unwrap_or_else(|| DEFAULT_VOICE.to_owned()),
        language: input.language.unwrap_or_else(|| DEFAULT_LANGUAGE.to_owned()),
        max_call_duration: input.max_call_duration.unwrap_or(DEFAULT_MAX_CALL_DURATION),
        template: input.template,
        is_active: input.is_active.unwrap_or(true),
        record_calls: input.record_calls.unwrap_or(false),
        created_at: now,
        updated_at: now,
    })?;
    let plan = req.principal()?.plan;
    let stored = state
        .agents
        .insert(req.workspace_id()?, &agent, Some(quota(plan)), &[])
        .await
        .map_err(over_limit(|| {
            format!(
                "The {plan:?} plan allows {} agents; delete one or upgrade.",
                plan.max_agents()
            )
        }))?;
    Ok(Reply::created_versioned(&stored))
}

async fn get(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    crud::get(state.agents.as_ref(), &req).await
}

async fn update(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let patch: UpdateAgent = req.json()?;
    let now = switchboard_core::clock::api_time(req.now);
    let updated = crud::update(state.agents.as_ref(), &req, req.param("id"), |mut agent| {
        let patch = &patch;
        set(&mut agent.name, &patch.name);
        set(&mut agent.system_prompt, &patch.system_prompt);
        set(&mut agent.first_message, &patch.first_message);
        set(&mut agent.voice, &patch.voice);
        set(&mut agent.language, &patch.language);
        set(&mut agent.max_call_duration, &patch.max_call_duration);
        set(&mut agent.is_active, &patch.is_active);
        set(&mut agent.record_calls, &patch.record_calls);
        agent.updated_at = now;
        Ok((validated(agent)?, Vec::new()))
    })
    .await?;
    Ok(Reply::versioned(&updated))
}

async fn delete(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let plan = req.principal()?.plan;
    let deleted = crud::delete(state.agents.as_ref(), &req, req.param("id"), Some(quota(plan))).await?;
    Ok(Reply::ok(&Deleted::new(&deleted.value.id, "agent")))
}

async fn send_message(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: SendMessage = req.json()?;
    let content = validate::text("content", &input.content, 1, 4000)?;
    let ws = req.workspace_id()?;
    let agent = crud::find(state.agents.as_ref(), &req, req.param("id")).await?.value;
    let engine = &state.engine;
    let (current, created) = match &input.conversation_id {
        Some(id) => (conversation_of(&state, &req, &agent, id).await?, false),
        None => {
            if !agent.is_active {
                return Err(ApiError::new(
                    ErrorCode::AgentInactive,
                    "This agent is not active; activate it to start conversations.",
                ));
            }
            let party = match &input.contact_id {
                None => Party::default(),
                Some(contact_id) => {
                    let contact = crud::find(state.contacts.as_ref(), &req, contact_id)
                        .await
                        .map_err(|e| e.with_param("contact_id"))?
                        .value;
                    Party {
                        phone: Some(contact.phone),
                        contact_id: Some(contact.id),
                    }
                }
            };
            (
                engine.start(ws, &agent, Channel::Chat, None, party, req.now).await?,
                true,
            )
        }
    };
    let before = current.value.messages.len();
    let after = engine.say(ws, &agent, &current, &content, req.now).await?;
    let turn = ChatTurn {
        object: ChatTurnObject,
        conversation_id: after.value.id.clone(),
        status: after.value.status,
        pending_approval_id: after.value.pending_approval_id.clone(),
        messages: if created {
            after.value.messages.clone()
        } else {
            after.value.messages_since(before).to_vec()
        },
    };
    Ok(if created {
        Reply::created(&turn)
    } else {
        Reply::ok(&turn)
    })
}

/// The agent's conversation `id`; another agent's (or workspace's) is "not found".
async fn conversation_of(
    state: &State,
    req: &Request,
    agent: &Agent,
    id: &str,
) -> Result<Versioned<Conversation>, ApiError> {
    let found = crud::find(state.engine.conversations.as_ref(), req, id)
        .await
        .map_err(|e| e.with_param("conversation_id"))?;
    if found.value.agent_id != agent.id {
        return Err(ApiError::param(
            ErrorCode::ConversationNotFound,
            "conversation_id",
            ErrorCode::ConversationNotFound.description(),
        ));
    }
    Ok(found)
}

async fn list_messages(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let agent = crud::find(state.agents.as_ref(), &req, req.param("id")).await?.value;
    let conversation_id = req.query("conversation_id").unwrap_or_default();
    let conversation = conversation_of(&state, &req, &agent, conversation_id).await?.value;
    let filters = format!("conversation={conversation_id}");
    let page = req.page(&filters)?;
    // The position in the transcript is the cursor.
    let start: usize = page
        .after
        .as_ref()
        .and_then(|k| k.get("i"))
        .and_then(|i| i.parse().ok())
        .unwrap_or(0);
    let end = (start + page.limit as usize).min(conversation.messages.len());
    let next = (end < conversation.messages.len()).then(|| PageKey::from([("i".to_owned(), end.to_string())]));
    Ok(req.list(
        conversation.messages_since(start)[..end.saturating_sub(start)].to_vec(),
        next,
        &filters,
    ))
}
