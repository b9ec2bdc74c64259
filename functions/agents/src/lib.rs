//! `agents`: create, read, update and delete voice agents (`/v1/agents`).

use std::sync::Arc;

use http::Method;
use serde::Deserialize;
use serde_json::json;
use switchboard::crud::{self, Deleted};
use switchboard::http::{Access, Call, QueryParam, Reply, Route, not_null};
use switchboard::ids::{self, prefix};
use switchboard::model::{AGENT_TEMPLATES, Agent, AgentObject, Plan, Scope, VOICES, template_schema, voice_schema};
use switchboard::ports::{ListQuery, Quota, Repository};
use switchboard::{ApiError, ErrorCode, validate};
use utoipa::ToSchema;

pub struct State {
    pub agents: Arc<dyn Repository<Agent>>,
}

const TAG: &str = "Agents";
const DEFAULT_VOICE: &str = "amelia";
const DEFAULT_LANGUAGE: &str = "en-US";
const DEFAULT_MAX_CALL_DURATION: u32 = 600;

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/agents", list)
            .doc(TAG, "listAgents", "List agents")
            .query(QueryParam::pagination())
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
}

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
    if !VOICES.contains(&agent.voice.as_str()) {
        return Err(ApiError::param(
            ErrorCode::InvalidValue,
            "voice",
            format!("`voice` must be one of: {}.", VOICES.join(", ")),
        ));
    }
    agent.language = validate::language("language", &agent.language)?;
    validate::range("max_call_duration", agent.max_call_duration, 30, 7_200)?;
    Ok(agent)
}

async fn list(state: Arc<State>, call: Call) -> Result<Reply, ApiError> {
    let page = call.page("")?;
    let query = ListQuery {
        limit: page.limit,
        after: page.after,
        ..ListQuery::default()
    };
    let found = state
        .agents
        .query(call.workspace_id()?, &query)
        .await
        .map_err(|e| e.into_api(ErrorCode::AgentNotFound))?;
    Ok(call.list(found.items.into_iter().map(|v| v.value).collect(), found.next, ""))
}

async fn create(state: Arc<State>, call: Call) -> Result<Reply, ApiError> {
    let input: CreateAgent = call.json()?;
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
    let now = switchboard::clock::api_time(call.now);
    let agent = validated(Agent {
        id: ids::new_id_at(prefix::AGENT, call.now),
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
        created_at: now,
        updated_at: now,
    })?;
    let plan = call.principal()?.plan;
    let stored = state
        .agents
        .insert(call.workspace_id()?, &agent, Some(quota(plan)), &[])
        .await
        .map_err(|e| match e {
            switchboard::ports::StoreError::LimitReached => ApiError::new(
                ErrorCode::LimitReached,
                format!(
                    "The {plan:?} plan allows {} agents; delete one or upgrade.",
                    plan.max_agents()
                ),
            ),
            e => e.into_api(ErrorCode::AgentNotFound),
        })?;
    Ok(Reply::created(&stored.value).etag(stored.version))
}

async fn get(state: Arc<State>, call: Call) -> Result<Reply, ApiError> {
    let found = crud::find(state.agents.as_ref(), &call, call.param("id")).await?;
    Ok(Reply::ok(&found.value).etag(found.version))
}

async fn update(state: Arc<State>, call: Call) -> Result<Reply, ApiError> {
    let patch: UpdateAgent = call.json()?;
    let now = switchboard::clock::api_time(call.now);
    let updated = crud::update(state.agents.as_ref(), &call, call.param("id"), |mut agent| {
        let patch = &patch;
        if let Some(v) = &patch.name {
            agent.name.clone_from(v);
        }
        if let Some(v) = &patch.system_prompt {
            agent.system_prompt.clone_from(v);
        }
        if let Some(v) = &patch.first_message {
            agent.first_message.clone_from(v);
        }
        if let Some(v) = &patch.voice {
            agent.voice.clone_from(v);
        }
        if let Some(v) = &patch.language {
            agent.language.clone_from(v);
        }
        agent.max_call_duration = patch.max_call_duration.unwrap_or(agent.max_call_duration);
        agent.is_active = patch.is_active.unwrap_or(agent.is_active);
        agent.updated_at = now;
        Ok((validated(agent)?, Vec::new()))
    })
    .await?;
    Ok(Reply::ok(&updated.value).etag(updated.version))
}

async fn delete(state: Arc<State>, call: Call) -> Result<Reply, ApiError> {
    let plan = call.principal()?.plan;
    let deleted = crud::delete(state.agents.as_ref(), &call, call.param("id"), Some(quota(plan))).await?;
    Ok(Reply::ok(&Deleted::new(&deleted.value.id, "agent")))
}
