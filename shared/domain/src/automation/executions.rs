//! Starting a workflow run: its execution is written with the steps of the workflow's current
//! revision, then its first step is queued. What a step's placeholders read is the run's
//! `trigger` input and the outputs of the steps before it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{
    Execution, ExecutionObject, ExecutionStatus, StepRun, StepStatus, TriggerType, Workflow,
};
use switchboard_core::ports::{Repository, Versioned, WorkflowJob, WorkflowQueue};
use switchboard_core::{Error, StoreError};

/// The name of a step's type, as executions show it.
pub fn kind_of(step: &switchboard_core::model::Step) -> String {
    serde_json::to_value(step)
        .ok()
        .and_then(|v| v["type"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Where workflow runs are kept, and where their steps are queued for the `workflow-runner`:
/// what starting a run needs.
pub struct Runs {
    pub executions: Arc<dyn Repository<Execution>>,
    pub queue: Arc<dyn WorkflowQueue>,
}

impl Runs {
    /// Starts a run of `workflow` with `input` (what `{{trigger...}}` reads). With an `id` (one
    /// derived from what started it), starting again finds the first run, and queues its first
    /// step again only if it never ran.
    pub async fn start(
        &self,
        workspace_id: &str,
        workflow: &Workflow,
        trigger: TriggerType,
        input: Value,
        id: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Versioned<Execution>, Error> {
        let at = switchboard_core::clock::api_time(now);
        let execution = Execution {
            id: id.unwrap_or_else(|| ids::new_id_at(prefix::EXECUTION, now)),
            object: ExecutionObject,
            workflow_id: workflow.id.clone(),
            workflow_revision: workflow.revision,
            trigger,
            input,
            status: ExecutionStatus::Running,
            cursor: 0,
            steps: workflow
                .steps
                .iter()
                .map(|step| StepRun {
                    id: step.id().to_owned(),
                    kind: kind_of(step),
                    status: StepStatus::Pending,
                    input: None,
                    output: None,
                    attempts: Vec::new(),
                    retry_at: None,
                    resume_at: None,
                    started_at: None,
                    finished_at: None,
                })
                .collect(),
            error: None,
            definition: workflow.steps.clone(),
            started_at: at,
            finished_at: None,
            updated_at: at,
        };
        let created = match self.executions.insert(workspace_id, &execution, None, &[]).await {
            Err(StoreError::AlreadyExists) => {
                let found = self
                    .executions
                    .get(workspace_id, &execution.id)
                    .await?
                    .ok_or_else(|| Error::internal(anyhow::anyhow!("a run both exists and does not")))?;
                let started =
                    found.value.cursor > 0 || found.value.steps.first().is_some_and(|s| !s.attempts.is_empty());
                if started {
                    return Ok(found);
                }
                found
            }
            created => created?,
        };
        let job = WorkflowJob {
            workspace_id: workspace_id.to_owned(),
            execution_id: execution.id.clone(),
            step: 0,
            not_before: 0,
        };
        self.queue
            .enqueue(&[job], Duration::ZERO)
            .await
            .map_err(Error::internal)?;
        Ok(created)
    }
}

/// The metadata of a call a workflow run placed: the run.
pub const METADATA_EXECUTION: &str = "workflow_execution_id";
/// The metadata of a call a workflow run placed: how many runs, each started by the events of
/// a call the one before placed, led to it (1 for a call a run not so started placed).
pub const METADATA_CHAIN: &str = "workflow_chain";
/// The longest chain of runs started by calls runs placed: the events of a call at its end
/// start no run, so that a workflow calling on `call.ended` (or two calling each other's
/// numbers) cannot call on without end.
pub const MAX_CHAIN: u32 = 3;

/// How many runs led to the call whose event `data` is (its `workflow_chain`), 0 for a call no
/// run placed or another event.
pub fn chain_of(data: &Value) -> u32 {
    data["metadata"][METADATA_CHAIN]
        .as_str()
        .and_then(|chain| chain.parse().ok())
        .unwrap_or(0)
}

/// The metadata a call a step of `execution` places carries besides its own: the run, and its
/// place in a chain of runs started by calls runs placed.
pub fn placed_by(execution: &Execution) -> [(String, String); 2] {
    let chain = match execution.trigger {
        TriggerType::Event => chain_of(&execution.input["data"]),
        _ => 0,
    };
    [
        (METADATA_EXECUTION.to_owned(), execution.id.clone()),
        (METADATA_CHAIN.to_owned(), (chain + 1).to_string()),
    ]
}

/// What the placeholders of the run's step `index` read: `trigger` and the earlier steps'
/// outputs (`steps.<id>.output`).
pub fn scope(execution: &Execution, index: usize) -> Value {
    let steps: Map<String, Value> = execution.steps[..index]
        .iter()
        .map(|run| {
            (
                run.id.clone(),
                json!({"output": run.output.clone().unwrap_or(Value::Null), "status": run.status}),
            )
        })
        .collect();
    json!({"trigger": execution.input, "steps": steps})
}
