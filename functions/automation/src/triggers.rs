//! Triggers (`/v1/triggers`): an event of the workspace, filtered on its data, a schedule, or a
//! signed POST to the trigger's own URL, starts a run of a live workflow. A schedule's next
//! minute is kept on the trigger and in that minute's global list, which the scheduler reads. An inbound trigger's signing
//! secret is shown once and kept sealed; requests to its URL are signed as webhook deliveries
//! are (`Switchboard-Signature: t=<unix>,v1=<HMAC-SHA256(secret, "<t>.<body>")>`).

use std::collections::BTreeMap;
use std::sync::Arc;

use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_core::ErrorCode;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{
    EventType, MAX_TRIGGERS, StoredTrigger, Trigger, TriggerType, WorkflowStatus, WorkspaceStatus,
};
use switchboard_core::ports::{ListQuery, Quota};
use switchboard_domain::automation::schedules::Schedule;
use switchboard_domain::webhooks::{secrets, signature};
use switchboard_http::crud::{self, Deleted};
use switchboard_http::{Access, ApiError, QueryParam, Reply, Request, Route, over_limit};
use utoipa::ToSchema;

use crate::State;

const TAG: &str = "Triggers";
/// How old a signed inbound request may be.
const SIGNATURE_TOLERANCE_SECS: i64 = 300;
/// Filters hold at most this many paths.
const MAX_FILTERS: usize = 20;

const QUOTA: Quota = Quota {
    counter: "trigger_count",
    max: MAX_TRIGGERS,
};

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/triggers", list)
            .query([QueryParam::string("workflow_id", "Only this workflow's triggers.")])
            .doc(TAG, "listTriggers", "List triggers")
            .returns_list::<Trigger>("A page of triggers, newest first."),
        Route::new(Method::POST, "/v1/triggers", create)
            .doc(TAG, "createTrigger", "Create a trigger")
            .describe(
                "`type: event` starts a run of the workflow for each event of type `event` whose `data` holds \
                 every value of `filter` (dotted paths: `{\"status\": \"completed\"}`); `{{trigger.data...}}` \
                 reads the event's data. `type: schedule` starts one at each minute `cron` falls on in \
                 `timezone` (IANA, `UTC` by default), with `{{trigger.data.scheduled_for}}`. `type: inbound` gives a URL (`inbound_path`) and a signing secret \
                 (shown once): a POST signed with it starts a run with its JSON body as the data. Only live \
                 workflows start runs. At most 200 per workspace.",
            )
            .body::<CreateTrigger>(|| {
                json!({"workflow_id": "wf_01JD3QZ9R6X4Y7T2W8V5N1M0KA", "type": "event", "event": "call.ended",
                       "filter": {"status": "completed"}})
            })
            .returns::<Trigger>(201, "The trigger (for `inbound`, with its `secret`, this once)."),
        Route::new(Method::GET, "/v1/triggers/{id}", get)
            .doc(TAG, "getTrigger", "Get a trigger")
            .returns::<Trigger>(200, "The trigger."),
        Route::new(Method::PATCH, "/v1/triggers/{id}", update)
            .doc(TAG, "updateTrigger", "Update a trigger")
            .describe(
                "Turns it on or off, or replaces an event trigger's filter or a schedule's `cron` and \
                 `timezone` (its next run is counted again from now). Honours `If-Match`.",
            )
            .body::<UpdateTrigger>(|| json!({"enabled": false}))
            .returns::<Trigger>(200, "The trigger."),
        Route::new(Method::DELETE, "/v1/triggers/{id}", delete)
            .doc(TAG, "deleteTrigger", "Delete a trigger")
            .returns::<Deleted>(200, "Deleted."),
        Route::new(Method::POST, "/v1/triggers/{id}/inbound", inbound)
            .access(Access::PublicLimited)
            .doc(TAG, "fireInboundTrigger", "Start a run through an inbound trigger")
            .describe(
                "Signed with the trigger's secret as webhook deliveries are (`Switchboard-Signature: \
                 t=<unix>,v1=<hex HMAC-SHA256(secret, \"<t>.<raw body>\")>`, at most 5 minutes old); the JSON \
                 object body is the run's `{{trigger.data...}}`. Answers 202 with the execution's id.",
            )
            .optional_body::<Value>(|| json!({"order_id": "A-1042", "phone": "+14155550100"}))
            .returns::<Value>(202, "`{\"execution_id\": \"exe_...\"}`."),
    ]
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTrigger {
    pub workflow_id: String,
    /// `event`, `schedule` or `inbound`.
    #[serde(rename = "type")]
    pub kind: TriggerType,
    pub event: Option<EventType>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub filter: BTreeMap<String, Value>,
    /// For `schedule`: minute, hour, day of month, month, day of week (`0 9 * * MON-FRI`).
    pub cron: Option<String>,
    /// For `schedule`: an IANA time zone; `UTC` by default.
    pub timezone: Option<String>,
    /// `true` by default.
    pub enabled: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTrigger {
    pub enabled: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub filter: Option<BTreeMap<String, Value>>,
    pub cron: Option<String>,
    pub timezone: Option<String>,
}

fn checked_schedule(cron: &str, timezone: &str) -> Result<Schedule, ApiError> {
    Schedule::parse(cron, timezone).map_err(|refused| ApiError::validation(refused.field, refused.message))
}

/// When an enabled schedule trigger is next due after `now`; `None` for other triggers.
fn next_run(
    trigger: &StoredTrigger,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    match (&trigger.cron, &trigger.timezone) {
        (Some(cron), Some(zone)) if trigger.enabled => Ok(checked_schedule(cron, zone)?.next_after(now)),
        _ => Ok(None),
    }
}

fn checked_filter(filter: &BTreeMap<String, Value>) -> Result<(), ApiError> {
    if filter.len() > MAX_FILTERS {
        return Err(ApiError::validation("filter", format!("At most {MAX_FILTERS} paths.")));
    }
    for path in filter.keys() {
        let ok = !path.is_empty()
            && path.len() <= 200
            && path
                .split('.')
                .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        if !ok {
            return Err(ApiError::validation(
                format!("filter.{path}"),
                "A filter's keys are dotted paths into the event's data (`analysis.outcome`).",
            ));
        }
    }
    Ok(())
}

async fn list(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let workflow = req.query("workflow_id");
    let filters = format!("workflow={workflow:?}");
    let mut query = ListQuery::from(req.page(&filters)?);
    query.equals.extend(workflow.map(|w| ("workflow_id", w.to_owned())));
    let found = state.triggers.query(req.workspace_id()?, &query).await?;
    let views = found.items.iter().map(|t| t.value.view()).collect();
    Ok(req.list::<Trigger>(views, found.next, &filters))
}

async fn get(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let found = crud::find(state.triggers.as_ref(), &req, req.param("id")).await?;
    Ok(Reply::ok(&found.value.view()).etag(found.version))
}

/// What a trigger's fields must be, whatever its workflow: its type's fields and no others.
pub(crate) fn check_shape(input: &CreateTrigger) -> Result<(), ApiError> {
    checked_filter(&input.filter)?;
    match (input.kind, input.event) {
        (TriggerType::Event, None) => {
            return Err(ApiError::param(
                ErrorCode::MissingField,
                "event",
                "An event trigger names its `event`.",
            ));
        }
        (TriggerType::Event, Some(EventType::WorkflowExecutionFinished)) => {
            // Runs that start runs could loop without end.
            return Err(ApiError::validation(
                "event",
                "Workflow runs cannot be started by other runs' ends.",
            ));
        }
        (TriggerType::Event, Some(_)) => {}
        (TriggerType::Schedule, None) if input.filter.is_empty() => {
            if input.cron.is_none() {
                return Err(ApiError::param(
                    ErrorCode::MissingField,
                    "cron",
                    "A schedule trigger names its `cron`.",
                ));
            }
        }
        (TriggerType::Schedule, _) => {
            return Err(ApiError::validation(
                "event",
                "A schedule trigger takes no `event` or `filter`.",
            ));
        }
        (TriggerType::Inbound, None) if input.filter.is_empty() => {}
        (TriggerType::Inbound, _) => {
            return Err(ApiError::validation(
                "event",
                "An inbound trigger takes no `event` or `filter`.",
            ));
        }
        (TriggerType::Manual, _) => {
            return Err(ApiError::validation(
                "type",
                "Manual runs need no trigger: POST /v1/workflows/{id}/run.",
            ));
        }
    }
    if input.kind != TriggerType::Schedule && (input.cron.is_some() || input.timezone.is_some()) {
        return Err(ApiError::validation(
            "cron",
            "Only a schedule trigger takes `cron` and `timezone`.",
        ));
    }
    if let (TriggerType::Schedule, Some(cron)) = (input.kind, &input.cron) {
        checked_schedule(cron, input.timezone.as_deref().unwrap_or("UTC"))?;
    }
    Ok(())
}

async fn create(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: CreateTrigger = req.json()?;
    check_shape(&input)?;
    let ws = req.workspace_id()?;
    let workflow = crud::find(state.workflows.as_ref(), &req, &input.workflow_id)
        .await
        .map_err(|e| e.with_param("workflow_id"))?;
    if workflow.value.status == WorkflowStatus::Retired {
        return Err(ApiError::new(
            ErrorCode::WorkflowRetired,
            "A retired workflow takes no trigger.",
        ));
    }
    let secret = (input.kind == TriggerType::Inbound).then(secrets::generate);
    let at = switchboard_core::clock::api_time(req.now);
    let scheduled = input.kind == TriggerType::Schedule;
    let mut trigger = StoredTrigger {
        id: ids::new_id_at(prefix::TRIGGER, req.now),
        workflow_id: workflow.value.id,
        kind: input.kind,
        event: input.event,
        filter: input.filter,
        enabled: input.enabled.unwrap_or(true),
        cron: input.cron,
        timezone: scheduled.then(|| input.timezone.unwrap_or_else(|| "UTC".to_owned())),
        next_run_at: None,
        sealed_secret: secret.as_ref().map(|s| state.keys.of(ws).seal(s)),
        secret_hint: secret.as_deref().map(secrets::hint),
        created_at: at,
        updated_at: at,
    };
    trigger.next_run_at = next_run(&trigger, req.now)?;
    let created = state
        .triggers
        .insert(ws, &trigger, Some(QUOTA), &[])
        .await
        .map_err(over_limit(|| {
            format!("A workspace holds at most {MAX_TRIGGERS} triggers; delete one first.")
        }))?;
    let mut view = created.value.view();
    view.secret = secret;
    Ok(Reply::created(&view).etag(created.version))
}

async fn update(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let patch: UpdateTrigger = req.json()?;
    if let Some(filter) = &patch.filter {
        checked_filter(filter)?;
    }
    let at = switchboard_core::clock::api_time(req.now);
    let updated = crud::update(state.triggers.as_ref(), &req, req.param("id"), |mut trigger| {
        if let Some(filter) = &patch.filter {
            if trigger.kind != TriggerType::Event && !filter.is_empty() {
                return Err(ApiError::validation("filter", "Only an event trigger takes a filter."));
            }
            trigger.filter.clone_from(filter);
        }
        if trigger.kind != TriggerType::Schedule && (patch.cron.is_some() || patch.timezone.is_some()) {
            return Err(ApiError::validation(
                "cron",
                "Only a schedule trigger takes `cron` and `timezone`.",
            ));
        }
        if patch.cron.is_some() {
            trigger.cron.clone_from(&patch.cron);
        }
        if patch.timezone.is_some() {
            trigger.timezone.clone_from(&patch.timezone);
        }
        switchboard_http::set(&mut trigger.enabled, &patch.enabled);
        trigger.next_run_at = next_run(&trigger, req.now)?;
        trigger.updated_at = at;
        Ok((trigger, Vec::new()))
    })
    .await?;
    Ok(Reply::ok(&updated.value.view()).etag(updated.version))
}

async fn delete(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let deleted = crud::delete(state.triggers.as_ref(), &req, req.param("id"), Some(QUOTA)).await?;
    Ok(Reply::ok(&Deleted::new(&deleted.value.id, "trigger")))
}

/// A signed POST to an inbound trigger: the workspace is found from the trigger's id, the
/// signature checked with its sealed secret, and a run of its live workflow started.
async fn inbound(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let not_found = || ApiError::of(ErrorCode::TriggerNotFound);
    let id = req.param("id");
    if !ids::is_valid(prefix::TRIGGER, id) {
        return Err(not_found());
    }
    let ws = state.trigger_owners.trigger_owner(id).await?.ok_or_else(not_found)?;
    let (workspace, trigger) = tokio::try_join!(state.accounts.get_workspace(&ws), state.triggers.get(&ws, id))?;
    // A suspended workspace (a deleted customer's) is answered as gone.
    if !workspace.is_some_and(|w| w.status == WorkspaceStatus::Active) {
        return Err(not_found());
    }
    let trigger = trigger.ok_or_else(not_found)?.value;
    let secret = match (&trigger.kind, &trigger.sealed_secret) {
        (TriggerType::Inbound, Some(sealed)) => state.keys.of(&ws).open(sealed).map_err(|_| not_found())?,
        _ => return Err(not_found()),
    };
    let signed_at = req.header("switchboard-signature").and_then(|header| {
        signature::signed_at(
            header,
            &req.body,
            &secret,
            req.now.timestamp(),
            SIGNATURE_TOLERANCE_SECS,
        )
    });
    let Some(signed_at) = signed_at else {
        return Err(ApiError::new(
            ErrorCode::InvalidSignature,
            "Sign the body with the trigger's secret: Switchboard-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, \"<t>.<body>\")>.",
        ));
    };
    let data: serde_json::Map<String, Value> = if req.body.is_empty() {
        Default::default()
    } else {
        req.json()?
    };
    let workflow = state
        .workflows
        .get(&ws, &trigger.workflow_id)
        .await?
        .ok_or_else(not_found)?
        .value;
    if !trigger.enabled || workflow.status != WorkflowStatus::Live {
        return Err(ApiError::new(
            ErrorCode::WorkflowRetired,
            "This trigger is off, or its workflow is not live: no run was started.",
        ));
    }
    let input = json!({"type": "inbound", "trigger_id": trigger.id, "data": data});
    // One run per signed sending: the same body signed at the same time, sent again (a retry,
    // or a replay of a captured request), answers the run it started.
    let sending = format!(
        "{}/{}",
        trigger.id,
        switchboard_core::secret::sha256_hex(&String::from_utf8_lossy(&req.body))
    );
    let signed_at = chrono::DateTime::from_timestamp(signed_at, 0).unwrap_or(req.now);
    let run_id = ids::derived_at(prefix::EXECUTION, signed_at, &sending);
    let started = state
        .runs
        .start(&ws, &workflow, TriggerType::Inbound, input, Some(run_id), req.now)
        .await?;
    Ok(Reply::json(
        http::StatusCode::ACCEPTED,
        &json!({"execution_id": started.value.id}),
    ))
}
