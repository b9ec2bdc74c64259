//! Runs of workflows: started through the API (`POST /v1/workflows/{id}/run`) and read with
//! each step's input, output, status, attempts and timing.

use std::sync::Arc;

use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_core::model::{Execution, ExecutionStatus, TriggerType, WorkflowStatus};
use switchboard_core::ports::{ListBy, ListQuery};
use switchboard_core::{ErrorCode, ids};
use switchboard_http::crud;
use switchboard_http::{ApiError, QueryParam, Reply, Request, Route};
use utoipa::ToSchema;

use crate::State;

const TAG: &str = "Executions";

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::POST, "/v1/workflows/{id}/run", run)
            .doc("Workflows", "runWorkflow", "Run a workflow")
            .describe(
                "Starts a run of the workflow's current revision now, with `data` as what `{{trigger.data...}}` \
                 reads. Drafts run this way too (to try them); paused and retired workflows do not (409).",
            )
            .optional_body::<RunWorkflow>(|| json!({"data": {"to": "+14155550100", "outcome": "booked"}}))
            .returns::<Execution>(201, "The execution, its first step queued."),
        Route::new(Method::GET, "/v1/executions", list)
            .query([
                QueryParam::string("workflow_id", "Only runs of this workflow."),
                QueryParam::string("status", "Only runs in this status (`running`, `succeeded`, `failed`)."),
                QueryParam::string("from", "Only runs started at or after this time (ISO 8601, or a date)."),
                QueryParam::string(
                    "to",
                    "Only runs started at or before this time (ISO 8601, or a date: its end).",
                ),
            ])
            .doc(TAG, "listExecutions", "List executions")
            .returns_list::<Execution>("A page of executions, newest first."),
        Route::new(Method::GET, "/v1/executions/{id}", get)
            .doc(TAG, "getExecution", "Get an execution")
            .describe("The run with each step's input, output, status, attempts (time, duration, status code, error).")
            .returns::<Execution>(200, "The execution."),
    ]
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunWorkflow {
    /// What `{{trigger.data...}}` placeholders read.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: serde_json::Map<String, Value>,
}

async fn run(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: RunWorkflow = if req.body.is_empty() {
        RunWorkflow::default()
    } else {
        req.json()?
    };
    let workflow = crud::find(state.workflows.as_ref(), &req, req.param("id")).await?.value;
    match workflow.status {
        WorkflowStatus::Paused | WorkflowStatus::Retired => {
            return Err(ApiError::new(
                ErrorCode::WorkflowRetired,
                "Paused and retired workflows do not run: make it live (or a draft) first.",
            ));
        }
        WorkflowStatus::Draft | WorkflowStatus::Live => {}
    }
    let trigger = json!({"type": "manual", "data": input.data});
    let started = state
        .runs
        .start(
            req.workspace_id()?,
            &workflow,
            TriggerType::Manual,
            trigger,
            None,
            req.now,
        )
        .await?;
    Ok(Reply::created_versioned(&started))
}

async fn list(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let workflow = req.query("workflow_id");
    req.query_as::<ExecutionStatus>("status", "one of `running`, `succeeded`, `failed`")?;
    let status = req.query("status");
    let (from, to) = req.period()?;
    let filters = format!("workflow={workflow:?}&status={status:?}&from={from:?}&to={to:?}");
    let mut query = ListQuery {
        from,
        to,
        ..ListQuery::from(req.page(&filters)?)
    };
    if let Some(workflow) = workflow {
        if !ids::is_valid(ids::prefix::WORKFLOW, workflow) {
            return Ok(req.list::<Execution>(Vec::new(), None, &filters));
        }
        query.by = ListBy::Workflow(workflow.to_owned());
    }
    query.equals.extend(status.map(|s| ("status", s.to_owned())));
    let found = state.runs.executions.query(req.workspace_id()?, &query).await?;
    Ok(req.list_versioned(found, &filters))
}

async fn get(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    crud::get(state.runs.executions.as_ref(), &req).await
}
