//! `workflow-runner`: runs workflow steps from the workflow queue.
//!
//! The execution model. A run is one execution item; each job names a step by its index.
//! - **Steps are at-least-once.** A worker runs the step, then records its outcome with a
//!   write conditional on the execution's version. A worker that dies between the two leaves
//!   the step unrecorded, and SQS hands the job out again: the step runs again. Requests to
//!   outside APIs carry the same `Idempotency-Key` on every attempt of a step
//!   (`<execution>:<step>`), so a receiver that honours it acts once.
//! - **State moves exactly once.** Only one write per step and version wins; a job for a step
//!   the run has moved past is stale and dropped. The run ends (`succeeded` or `failed`) in one
//!   such write, which carries its one `workflow.execution.finished` event.
//! - **Retries and waits** are new jobs for the same step with a due time; SQS delays a
//!   message at most 15 minutes, so longer ones come back early and are put off again.
//! - A job whose next job could not be queued fails, and its redelivery queues it again.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_lambda_events::event::sqs::SqsMessage;
use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{Value, json};
use switchboard_core::clock::Clock;
use switchboard_core::model::{
    Agent, AttributeValue, Call, Comparison, Connector, Contact, ContactObject, DncSource, Event, EventType, Execution,
    ExecutionStatus, PhoneNumber, Step, StepAttempt, StepStatus, StoredConnection,
};
use switchboard_core::ports::{
    CallQueue, DncStore, MAX_DELAY, OutboundHttp, ProviderAccounts, Repository, Unique, Versioned, Wallets,
    WorkflowJob, WorkflowQueue, Workspaces,
};
use switchboard_core::{StoreError, ids, validate};
use switchboard_domain::automation::connectors::{self, Access};
use switchboard_domain::automation::executions::scope;
use switchboard_domain::automation::template;
use switchboard_domain::automation::workflows::{DEFAULT_ATTEMPTS, step_fields};
use switchboard_domain::conversation::Engine;
use switchboard_domain::sealing::WorkspaceKeys;
use switchboard_store::DynamoStore;

mod agent_steps;

/// The largest output a step keeps: a run is one item, which DynamoDB caps at 400 KB.
const MAX_OUTPUT_BYTES: usize = 32 * 1024;

/// Waits before the second, third... attempt of a failing step.
const BACKOFF_SECS: [i64; 5] = [30, 120, 600, 1800, 3600];

pub struct Runner {
    pub executions: Arc<dyn Repository<Execution>>,
    pub connections: Arc<dyn Repository<StoredConnection>>,
    pub connectors: Arc<dyn Repository<Connector>>,
    pub contacts: Arc<dyn Repository<Contact>>,
    pub dnc: Arc<dyn DncStore>,
    pub http: Arc<dyn OutboundHttp>,
    pub keys: WorkspaceKeys,
    pub queue: Arc<dyn WorkflowQueue>,
    pub clock: Clock,
    /// Multiplies waits and retry backoff (1 = real time; less on a local stack).
    pub time_scale: f64,
    // What `start_call` and `send_agent_message` steps place calls and talk through.
    pub agents: Arc<dyn Repository<Agent>>,
    pub numbers: Arc<dyn Repository<PhoneNumber>>,
    pub calls: Arc<dyn Repository<Call>>,
    pub wallets: Arc<dyn Wallets>,
    pub accounts: Arc<dyn Workspaces>,
    /// Each workspace's telephony and model: the platform's, or its own.
    pub providers: Arc<dyn ProviderAccounts>,
    pub call_jobs: Arc<dyn CallQueue>,
    pub engine: Engine,
}

/// The runner over its adapters: what `main.rs` runs and the tests call.
pub fn runner(
    store: &DynamoStore,
    queue: Arc<dyn WorkflowQueue>,
    http: Arc<dyn OutboundHttp>,
    keys: WorkspaceKeys,
    clock: Clock,
    providers: Arc<dyn ProviderAccounts>,
    call_jobs: Arc<dyn CallQueue>,
) -> Runner {
    Runner {
        agents: Arc::new(store.clone()),
        numbers: Arc::new(store.clone()),
        calls: Arc::new(store.clone()),
        wallets: Arc::new(store.clone()),
        accounts: Arc::new(store.clone()),
        engine: switchboard_runtime::engine(store, providers.clone()),
        providers,
        call_jobs,
        executions: Arc::new(store.clone()),
        connections: Arc::new(store.clone()),
        connectors: Arc::new(store.clone()),
        contacts: Arc::new(store.clone()),
        dnc: Arc::new(store.clone()),
        http,
        keys,
        queue,
        clock,
        time_scale: 1.0,
    }
}

pub async fn handle(runner: &Runner, message: SqsMessage) -> anyhow::Result<()> {
    let body = message.body.context("message without a body")?;
    let job: WorkflowJob = serde_json::from_str(&body).context("message is not a workflow job")?;
    runner.run(&job).await.map(|_| ())
}

/// What a job came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ran {
    /// The run had moved past the step (or ended): nothing to do.
    Stale,
    /// Not due yet: put off again.
    NotDue,
    /// The step is done and the run goes on.
    Advanced,
    /// The step failed an attempt; the next is queued.
    Retrying,
    /// A wait began.
    Waiting,
    Finished(ExecutionStatus),
}

/// What running a step came to, before it is recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done(Value),
    /// A condition that did not hold: skip to this step (`None`: end the run).
    SkipTo(Option<usize>),
    Wait(DateTime<Utc>),
    Failed {
        error: String,
        status_code: Option<u16>,
        retryable: bool,
    },
}

/// One attempt of a step, made and not yet recorded.
#[derive(Debug, Clone)]
pub struct Attempted {
    pub read: Versioned<Execution>,
    pub input: Option<Value>,
    pub outcome: Outcome,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
}

/// Where a job stands before its step runs.
pub enum Due {
    Stale,
    NotDue,
    Attempted(Box<Attempted>),
}

impl Runner {
    /// Runs the job's step and records what it came to.
    pub async fn run(&self, job: &WorkflowJob) -> anyhow::Result<Ran> {
        match self.attempt(job).await? {
            Due::Stale => Ok(Ran::Stale),
            Due::NotDue => Ok(Ran::NotDue),
            Due::Attempted(attempted) => self.record(job, *attempted).await,
        }
    }

    /// Runs the job's step (its side effects happen here), without recording it.
    pub async fn attempt(&self, job: &WorkflowJob) -> anyhow::Result<Due> {
        let now = self.clock.now();
        if job.not_before > now.timestamp() {
            self.enqueue(job.clone(), now).await?;
            return Ok(Due::NotDue);
        }
        let Some(read) = self.executions.get(&job.workspace_id, &job.execution_id).await? else {
            return Ok(Due::Stale);
        };
        let execution = &read.value;
        if execution.status != ExecutionStatus::Running || job.step != execution.cursor {
            self.rekick(job, execution, now).await?;
            return Ok(Due::Stale);
        }
        let Some(step) = execution.definition.get(job.step) else {
            return Ok(Due::Stale);
        };
        let run = &execution.steps[job.step];
        if run.retry_at.or(run.resume_at).is_some_and(|due| due > now) {
            // A copy of a job that was put off: the one carrying the due time runs it.
            return Ok(Due::Stale);
        }
        let started = std::time::Instant::now();
        let scope = scope(execution, job.step);
        let (input, outcome) = match template::render(&step_fields(step), &scope) {
            Err(error) => (
                None,
                Outcome::Failed {
                    error: format!("a placeholder could not be filled: {error}"),
                    status_code: None,
                    retryable: false,
                },
            ),
            Ok(input) => {
                let outcome = if run.status == StepStatus::Waiting {
                    Outcome::Done(Value::Null)
                } else {
                    self.perform(job, execution, step, &input, now).await
                };
                (Some(input), outcome)
            }
        };
        Ok(Due::Attempted(Box::new(Attempted {
            read,
            input,
            outcome,
            started_at: now,
            duration_ms: started.elapsed().as_millis() as u64,
        })))
    }

    /// `seconds` (scaled) after `now`, rounded up to a whole second: a job's `not_before` is
    /// in whole seconds, and must not come before the due time the run records.
    fn after(&self, now: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
        let due = now + chrono::Duration::milliseconds((seconds as f64 * 1000.0 * self.time_scale) as i64);
        let whole = due.trunc_subsecs(0);
        if whole < due {
            whole + chrono::Duration::seconds(1)
        } else {
            whole
        }
    }

    /// A job behind the run's cursor: when the cursor's step never started (its job was lost
    /// between a recorded step and the next queueing), it is queued again.
    async fn rekick(&self, job: &WorkflowJob, execution: &Execution, now: DateTime<Utc>) -> anyhow::Result<()> {
        let lost = execution.status == ExecutionStatus::Running
            && job.step < execution.cursor
            && execution
                .steps
                .get(execution.cursor)
                .is_some_and(|run| run.status == StepStatus::Pending && run.attempts.is_empty());
        if lost {
            let next = WorkflowJob {
                step: execution.cursor,
                not_before: 0,
                ..job.clone()
            };
            self.enqueue(next, now).await?;
        }
        Ok(())
    }

    /// The step's own work.
    async fn perform(
        &self,
        job: &WorkflowJob,
        execution: &Execution,
        step: &Step,
        input: &Value,
        now: DateTime<Utc>,
    ) -> Outcome {
        let ws = &job.workspace_id;
        let permanent = |error: String| Outcome::Failed {
            error,
            status_code: None,
            retryable: false,
        };
        match step {
            Step::Wait(wait) => Outcome::Wait(self.after(now, i64::from(wait.minutes) * 60)),
            Step::Condition(condition) => {
                if holds(condition.comparison, &input["value"], input.get("with")) {
                    Outcome::Done(json!({"held": true}))
                } else {
                    let to = condition
                        .otherwise
                        .as_ref()
                        .and_then(|id| execution.definition.iter().position(|s| s.id() == id));
                    Outcome::SkipTo(to)
                }
            }
            Step::Http(http) => match self.call(ws, &execution.id, http, &input["input"]).await {
                Ok(output) => Outcome::Done(output),
                Err(outcome) => outcome,
            },
            Step::UpsertContact(_) => match self.upsert_contact(ws, input, now).await {
                Ok(output) => Outcome::Done(output),
                Err(error) => permanent(error),
            },
            Step::AddToDnc(_) => {
                let phone = match validate::phone("phone", input["phone"].as_str().unwrap_or_default(), None) {
                    Ok(phone) => phone,
                    Err(e) => return permanent(format!("`phone`: {}", e.message())),
                };
                let reason = input["reason"].as_str().map(str::to_owned);
                match switchboard_domain::dnc::add(self.dnc.as_ref(), ws, &phone, reason, DncSource::Api, now).await {
                    Ok(_) => Outcome::Done(json!({"phone_e164": phone})),
                    Err(e) => Outcome::Failed {
                        error: e.message().to_string(),
                        status_code: None,
                        retryable: true,
                    },
                }
            }
            Step::StartCall(start) => match self.start_call(ws, execution, start, input, now).await {
                Ok(output) => Outcome::Done(output),
                Err(outcome) => outcome,
            },
            Step::SendAgentMessage(message) => match self.message_agent(ws, execution, message, input, now).await {
                Ok(output) => Outcome::Done(output),
                Err(outcome) => outcome,
            },
        }
    }

    /// An HTTP step: the connection's action, with the step's idempotency key.
    async fn call(
        &self,
        ws: &str,
        execution_id: &str,
        http: &switchboard_core::model::HttpStep,
        input: &Value,
    ) -> Result<Value, Outcome> {
        let permanent = |error: String| Outcome::Failed {
            error,
            status_code: None,
            retryable: false,
        };
        let retryable = |error: String| Outcome::Failed {
            error,
            status_code: None,
            retryable: true,
        };
        let connection = self
            .connections
            .get(ws, &http.connection_id)
            .await
            .map_err(|e| retryable(e.to_string()))?
            .ok_or_else(|| permanent("the connection no longer exists".into()))?
            .value;
        let connector = connectors::find(self.connectors.as_ref(), ws, &connection.connector_id)
            .await
            .map_err(|e| retryable(e.to_string()))?
            .ok_or_else(|| permanent("the connection's connector no longer exists".into()))?;
        let credentials = connectors::open_credentials(&self.keys, ws, &connection)
            .ok_or_else(|| permanent("the connection's credentials do not open".into()))?;
        let action = connector
            .action(&http.action)
            .ok_or_else(|| permanent(format!("`{}` has no action `{}`", connector.id, http.action)))?;
        let access = Access {
            base_url: connection.base_url.as_deref(),
            credentials: &credentials,
        };
        let key = format!("{execution_id}:{}", http.id);
        let output = connectors::call(self.http.as_ref(), &connector, &access, Some(action), input, Some(&key))
            .await
            .map(|result| result.output)
            .map_err(|failure| Outcome::Failed {
                error: failure.message,
                status_code: failure.status,
                retryable: failure.retryable,
            })?;
        if serde_json::to_vec(&output).map_or(0, |bytes| bytes.len()) > MAX_OUTPUT_BYTES {
            return Err(permanent(format!(
                "the answer is larger than {} KB: name the fields to keep in the action's `outputs`",
                MAX_OUTPUT_BYTES / 1024
            )));
        }
        Ok(output)
    }

    /// Creates the contact of the step's phone number, or sets the fields the step gives.
    async fn upsert_contact(&self, ws: &str, input: &Value, now: DateTime<Utc>) -> Result<Value, String> {
        let phone = validate::phone("phone", input["phone"].as_str().unwrap_or_default(), None)
            .map_err(|e| format!("`phone`: {}", e.message()))?;
        let text = |name: &str| input[name].as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        let attributes = input["attributes"]
            .as_object()
            .map(|map| {
                map.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            AttributeValue::String(v.as_str().unwrap_or_default().to_owned()),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let at = switchboard_core::clock::api_time(now);
        for _ in 0..3 {
            let found = self
                .contacts
                .find_unique(ws, &Unique::ContactPhone(phone.clone()))
                .await
                .map_err(|e| e.to_string())?;
            let result = match &found {
                Some(current) => {
                    let mut next = current.value.clone();
                    next.name = text("name").or(next.name);
                    next.email = text("email").or(next.email);
                    next.attributes.extend(attributes.iter().cloned());
                    next.updated_at = at;
                    self.contacts.update(ws, current, &next, &[]).await.map(|v| (v, false))
                }
                None => {
                    let contact = Contact {
                        id: ids::new_id_at(ids::prefix::CONTACT, now),
                        object: ContactObject,
                        phone: phone.clone(),
                        name: text("name"),
                        email: text("email"),
                        timezone: None,
                        attributes: attributes.iter().cloned().collect(),
                        created_at: at,
                        updated_at: at,
                    };
                    self.contacts.insert(ws, &contact, None, &[]).await.map(|v| (v, true))
                }
            };
            match result {
                Ok((contact, created)) => return Ok(json!({"contact_id": contact.value.id, "created": created})),
                // Another writer got there first: read again.
                Err(StoreError::VersionMismatch | StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.to_string()),
            }
        }
        Err("the contact kept changing; try again".into())
    }

    /// Records an attempt at the version it read: the one write that moves the run.
    pub async fn record(&self, job: &WorkflowJob, attempted: Attempted) -> anyhow::Result<Ran> {
        let now = self.clock.now();
        let at = switchboard_core::clock::api_time(now);
        let mut execution = attempted.read.value.clone();
        let i = job.step;
        let max_attempts = match &execution.definition[i] {
            Step::Http(http) => http.max_attempts.unwrap_or(DEFAULT_ATTEMPTS),
            _ => 1,
        };
        let steps_len = execution.steps.len();
        let run = &mut execution.steps[i];
        run.started_at.get_or_insert(attempted.started_at);
        if run.input.is_none() {
            run.input.clone_from(&attempted.input);
        }
        let mut next_job = None;
        let timing = (attempted.started_at, attempted.duration_ms);
        let ran = match attempted.outcome {
            Outcome::Done(output) => {
                run.status = StepStatus::Succeeded;
                run.output = Some(output);
                run.retry_at = None;
                run.finished_at = Some(at);
                if run.kind != "wait" {
                    run.attempts.push(attempt(run.attempts.len(), timing, None, None));
                }
                execution.cursor = i + 1;
                Ran::Advanced
            }
            Outcome::SkipTo(to) => {
                run.status = StepStatus::Succeeded;
                run.output = Some(json!({"held": false}));
                run.finished_at = Some(at);
                run.attempts.push(attempt(0, timing, None, None));
                let to = to.unwrap_or(steps_len);
                for skipped in &mut execution.steps[i + 1..to] {
                    skipped.status = StepStatus::Skipped;
                }
                execution.cursor = to;
                Ran::Advanced
            }
            Outcome::Wait(until) => {
                run.status = StepStatus::Waiting;
                run.resume_at = Some(until);
                next_job = Some(until);
                Ran::Waiting
            }
            Outcome::Failed {
                error,
                status_code,
                retryable,
            } => {
                let number = run.attempts.len();
                run.attempts
                    .push(attempt(number, timing, status_code, Some(error.clone())));
                if retryable && run.attempts.len() < max_attempts as usize {
                    let wait = BACKOFF_SECS[(run.attempts.len() - 1).min(BACKOFF_SECS.len() - 1)];
                    let due = self.after(now, wait);
                    run.status = StepStatus::Retrying;
                    run.retry_at = Some(due);
                    next_job = Some(due);
                    Ran::Retrying
                } else {
                    run.status = StepStatus::Failed;
                    run.retry_at = None;
                    run.finished_at = Some(at);
                    execution.status = ExecutionStatus::Failed;
                    execution.error = Some(format!("step `{}` failed: {error}", run.id));
                    Ran::Finished(ExecutionStatus::Failed)
                }
            }
        };
        if execution.status == ExecutionStatus::Running && execution.cursor >= steps_len {
            execution.status = ExecutionStatus::Succeeded;
        }
        let finished = execution.status != ExecutionStatus::Running;
        let ran = match (finished, ran) {
            (true, Ran::Advanced) => Ran::Finished(execution.status),
            (_, ran) => ran,
        };
        if finished {
            execution.finished_at = Some(at);
        } else if next_job.is_none() {
            next_job = Some(now);
        }
        execution.updated_at = at;
        let events = if finished {
            vec![Event::new(
                EventType::WorkflowExecutionFinished,
                now,
                finished_event(&execution),
            )]
        } else {
            Vec::new()
        };
        match self
            .executions
            .update(&job.workspace_id, &attempted.read, &execution, &events)
            .await
        {
            Ok(_) => {}
            // Another worker recorded this step first.
            Err(StoreError::VersionMismatch) => return Ok(Ran::Stale),
            Err(e) => return Err(e.into()),
        }
        if let Some(due) = next_job {
            let next = WorkflowJob {
                workspace_id: job.workspace_id.clone(),
                execution_id: job.execution_id.clone(),
                step: execution.cursor,
                not_before: if due > now { due.timestamp() } else { 0 },
            };
            self.enqueue(next, now).await?;
        }
        Ok(ran)
    }

    /// Queues `job`, delayed until it is due (at most the queue's longest delay).
    async fn enqueue(&self, job: WorkflowJob, now: DateTime<Utc>) -> anyhow::Result<()> {
        let wait = (job.not_before - now.timestamp()).max(0) as u64;
        let delay = Duration::from_secs(wait).min(MAX_DELAY);
        self.queue.enqueue(&[job], delay).await
    }
}

fn attempt(
    number: usize,
    (started_at, duration_ms): (DateTime<Utc>, u64),
    status_code: Option<u16>,
    error: Option<String>,
) -> StepAttempt {
    StepAttempt {
        number: number as u32 + 1,
        started_at: switchboard_core::clock::api_time(started_at),
        duration_ms,
        status_code,
        error,
    }
}

/// Whether a condition holds.
fn holds(comparison: Comparison, value: &Value, with: Option<&Value>) -> bool {
    let with = with.unwrap_or(&Value::Null);
    let number = |v: &Value| v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match comparison {
        Comparison::Exists => !value.is_null() && value != "",
        Comparison::Equals => value == with || text(value) == text(with),
        Comparison::NotEquals => !(value == with || text(value) == text(with)),
        Comparison::Contains => match value {
            Value::Array(items) => items.contains(with),
            other => text(other).contains(&text(with)),
        },
        Comparison::GreaterThan => matches!((number(value), number(with)), (Some(a), Some(b)) if a > b),
        Comparison::LessThan => matches!((number(value), number(with)), (Some(a), Some(b)) if a < b),
    }
}

/// What `workflow.execution.finished` carries: the run without its steps' inputs and outputs.
fn finished_event(execution: &Execution) -> Value {
    json!({
        "id": execution.id,
        "object": "execution",
        "workflow_id": execution.workflow_id,
        "workflow_revision": execution.workflow_revision,
        "trigger": execution.trigger,
        "status": execution.status,
        "error": execution.error,
        "steps": execution.steps.iter().map(|s| json!({"id": s.id, "status": s.status, "attempts": s.attempts.len()})).collect::<Vec<_>>(),
        "started_at": execution.started_at,
        "finished_at": execution.finished_at,
    })
}
