//! Workflows: ordered steps, checked whole when saved (each refusal names the step and the
//! field), with a status (draft, live, paused, retired) and a revision that grows each time
//! the steps change. A run copies the steps it starts with, so an edit never changes a run
//! under way.

use std::sync::Arc;

use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_core::error::Error;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{MAX_WORKFLOWS, Scope, Step, Workflow, WorkflowObject, WorkflowStatus};
use switchboard_core::ports::{ListQuery, Quota};
use switchboard_core::{ErrorCode, validate};
use switchboard_domain::automation::workflows::checked_steps;
use switchboard_http::crud::{self, Deleted};
use switchboard_http::{Access, ApiError, QueryParam, Reply, Request, Route, over_limit};
use utoipa::ToSchema;

use crate::State;

const TAG: &str = "Workflows";

const QUOTA: Quota = Quota {
    counter: "workflow_count",
    max: MAX_WORKFLOWS,
};

fn example() -> Value {
    json!({
        "name": "Booked calls to the team chat",
        "status": "live",
        "steps": [
            {"id": "booked", "type": "condition", "value": "{{trigger.data.outcome}}", "comparison": "equals",
             "with": "booked", "otherwise": null},
            {"id": "tell_team", "type": "http", "connection_id": "cxn_01JD3QZ9R6X4Y7T2W8V5N1M0KA",
             "action": "post_message", "input": {"text": "Booked: {{trigger.data.to}}"}},
            {"id": "contact", "type": "upsert_contact", "phone": "{{trigger.data.to}}",
             "attributes": {"last_outcome": "booked"}}
        ]
    })
}

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/workflows", list)
            .query([QueryParam::string(
                "status",
                "Only workflows in this status (`draft`, `live`, `paused`, `retired`).",
            )])
            .doc(TAG, "listWorkflows", "List workflows")
            .returns_list::<Workflow>("A page of workflows, newest first."),
        Route::new(Method::POST, "/v1/workflows", create)
            .doc(TAG, "createWorkflow", "Create a workflow")
            .describe(
                "Steps run in order: `http` (a connection's action), `start_call`, `add_to_dnc`, `upsert_contact`, \
                 `send_agent_message`, `wait` (1 minute to 30 days) and `condition` (skips forward to `otherwise`, \
                 or ends the run, when it does not hold). Strings take placeholders: `{{trigger.data...}}` and \
                 `{{steps.<id>.output...}}` of an earlier step. Everything is checked when saved: a refusal is 422 \
                 naming the step and field (`steps[1].action`). A workflow starts as a `draft` unless `status` says \
                 `live`. At most 100 per workspace.",
            )
            .body::<WorkflowInput>(example)
            .returns::<Workflow>(201, "The workflow."),
        Route::new(Method::GET, "/v1/workflows/{id}", get)
            .doc(TAG, "getWorkflow", "Get a workflow")
            .returns::<Workflow>(200, "The workflow."),
        Route::new(Method::PUT, "/v1/workflows/{id}", replace)
            .doc(TAG, "replaceWorkflow", "Replace a workflow")
            .describe(
                "Replaces name, description, status and steps, checked as on creation; `revision` grows when the \
                 steps change (runs under way keep theirs). Honours `If-Match`. A retired workflow cannot change \
                 (409 `workflow_retired`).",
            )
            .body::<WorkflowInput>(example)
            .returns::<Workflow>(200, "The workflow."),
        Route::new(Method::DELETE, "/v1/workflows/{id}", delete)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "deleteWorkflow", "Delete a workflow")
            .describe("Its runs' executions stay, for their log.")
            .returns::<Deleted>(200, "Deleted."),
    ]
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowInput {
    #[schema(max_length = 120)]
    pub name: String,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// `draft` by default.
    pub status: Option<WorkflowStatus>,
    #[schema(value_type = Vec<Step>)]
    pub steps: Vec<Value>,
}

/// The input's fields, checked, with every step's references found in the workspace.
pub(crate) async fn checked(
    state: &State,
    req: &Request,
    input: WorkflowInput,
) -> Result<(String, Option<String>, Option<WorkflowStatus>, Vec<Step>), ApiError> {
    let name = validate::text("name", &input.name, 1, 120)?;
    let description = input
        .description
        .map(|d| validate::text("description", &d, 0, 500))
        .transpose()?;
    let steps = checked_steps(&input.steps)?;
    check_references(state, req, &steps).await?;
    Ok((name, description, input.status, steps))
}

fn missing(i: usize, field: &str, what: &str) -> ApiError {
    Error::validation(format!("steps[{i}].{field}"), format!("Step {i}: {what}.")).into()
}

/// Every connection, action, agent and number the steps name exists in the workspace.
async fn check_references(state: &State, req: &Request, steps: &[Step]) -> Result<(), ApiError> {
    let ws = req.workspace_id()?;
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Http(http) => {
                let connection = match ids::is_valid(prefix::CONNECTION, &http.connection_id) {
                    true => state.connections.get(ws, &http.connection_id).await?,
                    false => None,
                }
                .ok_or_else(|| missing(i, "connection_id", "no connection of the workspace has this id"))?;
                let connector = crate::connectors::find(state, req, &connection.value.connector_id)
                    .await
                    .map_err(|_| missing(i, "connection_id", "the connection's connector no longer exists"))?;
                if connector.action(&http.action).is_none() {
                    let actions: Vec<&str> = connector.actions.iter().map(|a| a.name.as_str()).collect();
                    return Err(missing(
                        i,
                        "action",
                        &format!("`{}` takes {}", connector.id, actions.join(", ")),
                    ));
                }
            }
            Step::StartCall(call) => {
                if !agent_exists(state, ws, &call.agent_id).await? {
                    return Err(missing(i, "agent_id", "no agent of the workspace has this id"));
                }
                let number = match ids::is_valid(prefix::NUMBER, &call.phone_number_id) {
                    true => state.numbers.get(ws, &call.phone_number_id).await?,
                    false => None,
                };
                if number.is_none() {
                    return Err(missing(
                        i,
                        "phone_number_id",
                        "no phone number of the workspace has this id",
                    ));
                }
                literal_phone(i, "to", &call.to)?;
            }
            Step::AddToDnc(dnc) => literal_phone(i, "phone", &dnc.phone)?,
            Step::UpsertContact(contact) => literal_phone(i, "phone", &contact.phone)?,
            Step::SendAgentMessage(message) => {
                if !agent_exists(state, ws, &message.agent_id).await? {
                    return Err(missing(i, "agent_id", "no agent of the workspace has this id"));
                }
            }
            Step::Wait(_) | Step::Condition(_) => {}
        }
    }
    Ok(())
}

/// Whether the workspace has the agent `id` (a store that fails is an error of ours, not a 422).
async fn agent_exists(state: &State, ws: &str, id: &str) -> Result<bool, ApiError> {
    Ok(ids::is_valid(prefix::AGENT, id) && state.agents.get(ws, id).await?.is_some())
}

/// A phone number written out (not a placeholder) must be one.
fn literal_phone(i: usize, field: &str, value: &str) -> Result<(), ApiError> {
    if value.contains("{{") {
        return Ok(());
    }
    validate::phone(&format!("steps[{i}].{field}"), value, None)?;
    Ok(())
}

async fn list(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    req.query_as::<WorkflowStatus>("status", "one of `draft`, `live`, `paused`, `retired`")?;
    let status = req.query("status");
    let filters = status.map(|s| format!("status={s}")).unwrap_or_default();
    let mut query = ListQuery::from(req.page(&filters)?);
    query.equals.extend(status.map(|s| ("status", s.to_owned())));
    let found = state.workflows.query(req.workspace_id()?, &query).await?;
    Ok(req.list_versioned(found, &filters))
}

async fn get(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    crud::get(state.workflows.as_ref(), &req).await
}

async fn create(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: WorkflowInput = req.json()?;
    let (name, description, status, steps) = checked(&state, &req, input).await?;
    let status = status.unwrap_or(WorkflowStatus::Draft);
    if status == WorkflowStatus::Retired {
        return Err(ApiError::validation(
            "status",
            "A workflow starts as `draft` or `live`.",
        ));
    }
    let at = switchboard_core::clock::api_time(req.now);
    let workflow = Workflow {
        id: ids::new_id_at(prefix::WORKFLOW, req.now),
        object: WorkflowObject,
        name,
        description,
        status,
        revision: 1,
        steps,
        created_at: at,
        updated_at: at,
    };
    let created = state
        .workflows
        .insert(req.workspace_id()?, &workflow, Some(QUOTA), &[])
        .await
        .map_err(over_limit(|| {
            format!("A workspace holds at most {MAX_WORKFLOWS} workflows; delete one first.")
        }))?;
    Ok(Reply::created_versioned(&created))
}

async fn replace(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: WorkflowInput = req.json()?;
    // Another workspace's workflow is not found, whatever the body says.
    crud::find(state.workflows.as_ref(), &req, req.param("id")).await?;
    let (name, description, status, steps) = checked(&state, &req, input).await?;
    let at = switchboard_core::clock::api_time(req.now);
    let updated = crud::update(state.workflows.as_ref(), &req, req.param("id"), |workflow| {
        if workflow.status == WorkflowStatus::Retired {
            return Err(ApiError::new(
                ErrorCode::WorkflowRetired,
                "A retired workflow cannot be changed.",
            ));
        }
        let revision = if workflow.steps == steps {
            workflow.revision
        } else {
            workflow.revision + 1
        };
        Ok((
            Workflow {
                name: name.clone(),
                description: description.clone(),
                status: status.unwrap_or(workflow.status),
                revision,
                steps: steps.clone(),
                updated_at: at,
                ..workflow
            },
            Vec::new(),
        ))
    })
    .await?;
    Ok(Reply::versioned(&updated))
}

async fn delete(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let deleted = crud::delete(state.workflows.as_ref(), &req, req.param("id"), Some(QUOTA)).await?;
    Ok(Reply::ok(&Deleted::new(&deleted.value.id, "workflow")))
}
