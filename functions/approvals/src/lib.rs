//! `approvals`: what agents may not grant on their own waits here for a human
//! (`/v1/approvals`). Deciding one continues the conversation that asked.

use std::sync::Arc;

use chrono::Duration;
use http::Method;
use serde::Deserialize;
use serde_json::json;
use switchboard_core::StoreError;
use switchboard_core::model::{Agent, Approval, ApprovalStatus, ConversationStatus, ProposedAction};
use switchboard_core::ports::{CredentialKind, ListQuery, LiveCalls, ProviderAccounts, Repository};
use switchboard_domain::approvals::{self, ApprovalRequest, CHAT_DECISION_TIME};
use switchboard_domain::conversation::Engine;
use switchboard_http::crud;
use switchboard_http::{ApiError, Platform, QueryParam, Reply, Request, Route, Service};
use switchboard_store::DynamoStore;
use utoipa::ToSchema;

pub struct State {
    pub approvals: Arc<dyn Repository<Approval>>,
    pub agents: Arc<dyn Repository<Agent>>,
    pub engine: Engine,
    /// With Twilio: says the decision on the live call that waited for it.
    pub live_calls: Option<Arc<dyn LiveCalls>>,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn service(
    platform: Arc<Platform>,
    store: &DynamoStore,
    models: Arc<dyn ProviderAccounts>,
    live_calls: Option<Arc<dyn LiveCalls>>,
) -> Service<State> {
    let state = State {
        approvals: Arc::new(store.clone()),
        agents: Arc::new(store.clone()),
        engine: switchboard_runtime::engine(store, models),
        live_calls,
    };
    Service::new(platform, state, routes())
}

const TAG: &str = "Approvals";

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/approvals", list)
            .doc(TAG, "listApprovals", "List approvals")
            .query([
                QueryParam::string("status", "`pending`, `approved`, `denied` or `expired`."),
                QueryParam::string("campaign_id", "Only those raised in this campaign's calls."),
            ])
            .returns_list::<Approval>("A page of approvals, newest first."),
        Route::new(Method::POST, "/v1/approvals", create)
            .doc(TAG, "createApproval", "Ask for an approval")
            .describe("Agents ask through their `request_approval` tool; this is the same for other systems.")
            .body::<CreateApproval>(|| {
                json!({"proposed_action": "concession", "proposed_value_minor": 2500, "currency": "USD",
                       "rationale": "Long-time customer asks to waive the late fee.", "expires_in_seconds": 3600})
            })
            .returns::<Approval>(201, "The pending approval."),
        Route::new(Method::GET, "/v1/approvals/{id}", get).doc(TAG, "getApproval", "Get an approval").returns::<Approval>(200, "The approval."),
        Route::new(Method::POST, "/v1/approvals/{id}/decide", decide)
            .doc(TAG, "decideApproval", "Approve or deny")
            .describe("409 when the approval was decided before or has expired. The conversation that asked goes on with the decision.")
            .body::<Decide>(|| json!({"decision": "approve", "note": "OK this once."}))
            .returns::<Approval>(200, "The decided approval."),
    ]
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApproval {
    pub proposed_action: ProposedAction,
    #[schema(minimum = 0)]
    pub proposed_value_minor: Option<i64>,
    pub currency: Option<String>,
    #[schema(max_length = 1000)]
    pub rationale: String,
    #[schema(max_length = 2000)]
    pub context: Option<String>,
    /// How long a decision may take (60 s to 7 days; default a day).
    #[schema(minimum = 60, maximum = 604800)]
    pub expires_in_seconds: Option<i64>,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Deny,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decide {
    pub decision: Decision,
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

async fn list(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let status = req.query_as::<ApprovalStatus>("status", "pending, approved, denied or expired")?;
    let campaign = req.query("campaign_id");
    let filters = format!("status={status:?}&campaign={campaign:?}");
    let page = req.page(&filters)?;
    let mut equals = Vec::new();
    if let Some(status) = status {
        // Expired approvals are stored pending: their time says they expired.
        let stored = if status == ApprovalStatus::Expired {
            ApprovalStatus::Pending
        } else {
            status
        };
        equals.push(("status", json!(stored).as_str().unwrap_or_default().to_owned()));
    }
    if let Some(campaign) = campaign {
        equals.push(("campaign_id", campaign.to_owned()));
    }
    let query = ListQuery {
        equals,
        ..ListQuery::from(page)
    };
    let found = state.approvals.query(req.workspace_id()?, &query).await?;
    let approvals: Vec<Approval> = found
        .items
        .into_iter()
        .map(|v| v.value.with_status_at(req.now))
        .filter(|a| status.is_none_or(|s| a.status == s))
        .collect();
    Ok(req.list(approvals, found.next, &filters))
}

async fn create(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: CreateApproval = req.json()?;
    let request = ApprovalRequest {
        proposed_action: input.proposed_action,
        proposed_value_minor: input.proposed_value_minor,
        currency: input.currency,
        rationale: input.rationale,
        context: input.context,
        // Past what a duration holds is past the longest wait too: refused below, never a panic.
        expires_in: input
            .expires_in_seconds
            .map(|s| Duration::try_seconds(s).unwrap_or(Duration::MAX))
            .unwrap_or(CHAT_DECISION_TIME),
        agent_id: None,
        conversation_id: None,
        call_id: None,
        contact_id: None,
    };
    let created = approvals::request(state.approvals.as_ref(), req.workspace_id()?, request, req.now).await?;
    Ok(Reply::created_versioned(&created))
}

async fn get(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let found = crud::find(state.approvals.as_ref(), &req, req.param("id")).await?;
    Ok(Reply::ok(&found.value.with_status_at(req.now)).etag(found.version))
}

async fn decide(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: Decide = req.json()?;
    let principal = req.principal()?;
    let decided_by = match &principal.kind {
        CredentialKind::Session { user_id, .. } => user_id.clone(),
        CredentialKind::ApiKey { key_id, .. } => key_id.clone(),
    };
    let ws = req.workspace_id()?;
    let approve = matches!(input.decision, Decision::Approve);
    let decided = approvals::decide(
        state.approvals.as_ref(),
        ws,
        req.param("id"),
        approve,
        input.note,
        &decided_by,
        req.now,
    )
    .await?;
    resume_conversation(&state, ws, &decided.value, req.now).await;
    Ok(Reply::versioned(&decided))
}

/// Lets the conversation that asked go on. The decision stands whatever happens here: a
/// failure is logged, and the conversation sees the decision with its next message.
async fn resume_conversation(state: &State, ws: &str, approval: &Approval, now: chrono::DateTime<chrono::Utc>) {
    let (Some(conversation_id), Some(agent_id)) = (&approval.conversation_id, &approval.agent_id) else {
        return;
    };
    let resumed = async {
        let conversation = state.engine.conversations.get(ws, conversation_id).await?;
        let agent = state.agents.get(ws, agent_id).await?;
        Ok::<_, StoreError>(conversation.zip(agent))
    }
    .await;
    match resumed {
        Ok(Some((conversation, agent))) => {
            let before = conversation.value.messages.len();
            let resumed = match state
                .engine
                .resume(ws, &agent.value, &conversation, approval, now)
                .await
            {
                Ok(resumed) => resumed,
                Err(e) => {
                    tracing::error!(error = %e, conversation_id, "conversation not resumed after the decision");
                    return;
                }
            };
            if let (Some(live_calls), Some(call_id)) = (&state.live_calls, &approval.call_id) {
                let ended = resumed.value.status == ConversationStatus::Ended;
                if let Err(e) = live_calls
                    .say(ws, call_id, resumed.value.messages_since(before), ended)
                    .await
                {
                    tracing::error!(error = %e, call_id, "the decision was not said on the call");
                }
            }
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, conversation_id, "conversation not resumed after the decision"),
    }
}
