//! `campaigns`: outbound calling campaigns (`/v1/campaigns`): their settings and rule books,
//! audiences, lifecycle (start, pause, resume, cancel), targets, calls, and compliance.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use http::Method;
use serde::Deserialize;
use serde_json::json;
use switchboard::crud::{self, Deleted};
use switchboard::http::upload::{self, Upload};
use switchboard::http::{Access, Call as Request, Patch, QueryParam, Reply, Route};
use switchboard::ids::{self, prefix};
use switchboard::model::{
    AudienceImport, AudienceImportObject, Call, CallStatus, CallWindow, Campaign, CampaignObject, CampaignStatus,
    Compliance, EventType, ImportStatus, NumberStatus, PhoneNumber, RateClass, RetryPolicy, Scope, Target,
    TargetStatus, campaign_partition,
};
use switchboard::ports::{CampaignStore, Index, ListQuery, Llm, Repository, StoreError, Versioned};
use switchboard::service::campaigns::{self, AudienceRow, Dialer, DialerJob};
use switchboard::service::phones;
use switchboard::{ApiError, ErrorCode, validate};
use utoipa::ToSchema;

pub struct State {
    pub dialer: Dialer,
    pub llm: Arc<dyn Llm>,
}

impl State {
    fn campaigns(&self) -> &dyn Repository<Campaign> {
        self.dialer.campaigns.as_ref()
    }

    fn store(&self) -> &dyn CampaignStore {
        self.dialer.store.as_ref()
    }
}

const TAG: &str = "Campaigns";
/// Rows an upload takes at most.
pub const MAX_AUDIENCE: usize = 100_000;
/// Uploads up to this many rows are screened and written in the request; larger ones in chunks
/// by the dialer, answered 202 with the import to follow.
pub const SYNC_AUDIENCE: usize = 2_000;
/// Rows per chunk of an upload, and bytes: a chunk is one item (DynamoDB's limit is 400 KB).
const CHUNK_ROWS: usize = 2_500;
const CHUNK_BYTES: usize = 300_000;
/// When the jobs of an import done in its request come to finish it, should the request
/// have stopped: after API Gateway's 30-second limit.
const IMPORT_RESCUE_DELAY: std::time::Duration = std::time::Duration::from_secs(120);
const MAX_CONCURRENT_CALLS: u32 = 100;

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/campaigns", list)
            .doc(TAG, "listCampaigns", "List campaigns")
            .query(QueryParam::pagination())
            .query([QueryParam::string("status", "`draft`, `scheduled`, `active`, `paused`, `completed` or `cancelled`.")])
            .returns_list::<Campaign>("A page of campaigns, newest first."),
        Route::new(Method::POST, "/v1/campaigns", create)
            .doc(TAG, "createCampaign", "Create a campaign")
            .describe(
                "A draft: upload its audience, attest consent (`PUT .../compliance`), then start it. `nl_prompt` is a brief the \
                 model turns into the rule book the agent follows (422 `rule_book_invalid` when it does not pass validation). \
                 Calls are placed inside `call_window` in the callee's time zone (the contact's, the number's country's when it \
                 has one zone, else `timezone`), never before 08:00 or after 21:00 there.",
            )
            .body::<CreateCampaign>(|| {
                json!({"name": "Spring check-ups", "agent_id": "agt_01JD3QZ9R6X4Y7T2W8V5N1M0KA",
                       "phone_number_id": "num_01JD3QZ9R6X4Y7T2W8V5N1M0KA", "timezone": "America/New_York",
                       "call_window": {"start": "09:00", "end": "17:00", "days": ["mon", "tue", "wed", "thu", "fri"]},
                       "max_concurrent_calls": 5,
                       "retry_policy": {"max_attempts": 3, "retry_on": ["busy", "no-answer"], "retry_delay_seconds": 3600},
                       "nl_prompt": "Remind patients that their yearly dental check-up is due and offer to book it."})
            })
            .returns::<Campaign>(201, "The campaign, a draft."),
        Route::new(Method::GET, "/v1/campaigns/{id}", get)
            .doc(TAG, "getCampaign", "Get a campaign")
            .describe("With its counters: targets, pending, calls in flight, placed, completed, failed, skipped.")
            .returns::<Campaign>(200, "The campaign."),
        Route::new(Method::PATCH, "/v1/campaigns/{id}", update)
            .doc(TAG, "updateCampaign", "Update a campaign")
            .describe(
                "Settings change while the campaign is a draft or paused (409 `campaign_state_conflict` otherwise). `status` moves \
                 it like the actions do: `active` (start or resume), `paused`, `cancelled`.",
            )
            .body::<UpdateCampaign>(|| json!({"max_concurrent_calls": 10, "call_window": {"start": "10:00", "end": "18:00"}}))
            .returns::<Campaign>(200, "The updated campaign."),
        Route::new(Method::DELETE, "/v1/campaigns/{id}", delete)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "deleteCampaign", "Delete a campaign")
            .describe("Drafts, and campaigns that are completed or cancelled.")
            .returns::<Deleted>(200, "The campaign was deleted."),
        Route::new(Method::POST, "/v1/campaigns/{id}/start", start)
            .rate(RateClass::CampaignStart)
            .doc(TAG, "startCampaign", "Start a campaign")
            .describe(
                "At most 5 a minute per credential. 409 `campaign_not_ready`, listing what is missing: an audience with pending \
                 targets, the consent attestation, an active agent and number, a call window that opens. With a future \
                 `scheduled_start` the campaign is `scheduled` until then.",
            )
            .returns::<Campaign>(200, "The campaign, active or scheduled."),
        Route::new(Method::POST, "/v1/campaigns/{id}/pause", pause)
            .doc(TAG, "pauseCampaign", "Pause a campaign")
            .describe("No new calls; calls in flight finish.")
            .returns::<Campaign>(200, "The campaign, paused."),
        Route::new(Method::POST, "/v1/campaigns/{id}/resume", resume)
            .doc(TAG, "resumeCampaign", "Resume a campaign")
            .returns::<Campaign>(200, "The campaign, active."),
        Route::new(Method::POST, "/v1/campaigns/{id}/cancel", cancel)
            .doc(TAG, "cancelCampaign", "Cancel a campaign")
            .describe("Final: no new calls, ever; calls in flight finish.")
            .returns::<Campaign>(200, "The campaign, cancelled."),
        Route::new(Method::POST, "/v1/campaigns/{id}/audience", audience)
            .or_csv()
            .doc(TAG, "uploadAudience", "Upload an audience")
            .describe(
                "Up to 100,000 rows, as JSON `rows` or a CSV file with a `phone` column and optional `name`, `timezone`, `country` \
                 (the default region of a national number; else the workspace's); other columns become the target's attributes. \
                 Numbers are normalised to E.164 and filtered against the do-not-call list and registries, the 7-day cool-down, \
                 and duplicates. Up to 2,000 rows are done at once (201); larger uploads answer 202 and go on in the background: \
                 follow them with `GET .../imports/{import_id}`. While the campaign is a draft or paused.",
            )
            .body::<UploadAudience>(|| json!({"rows": [{"phone": "+14155550100", "name": "Ada", "attributes": {"plan": "gold"}}, {"phone": "(415) 555-0101"}]}))
            .returns::<AudienceImport>(201, "The upload, done.")
            .returns::<AudienceImport>(202, "The upload, under way."),
        Route::new(Method::GET, "/v1/campaigns/{id}/imports/{import_id}", get_import)
            .doc(TAG, "getAudienceImport", "Get an audience upload")
            .returns::<AudienceImport>(200, "The upload and its counts."),
        Route::new(Method::GET, "/v1/campaigns/{id}/targets", targets)
            .doc(TAG, "listCampaignTargets", "List a campaign's targets")
            .query(QueryParam::pagination())
            .query([QueryParam::string("status", "`pending`, `dialing`, `completed`, `failed` or `skipped`.")])
            .returns_list::<Target>("A page of targets, by number."),
        Route::new(Method::GET, "/v1/campaigns/{id}/runs", runs)
            .doc(TAG, "listCampaignRuns", "List a campaign's calls")
            .query(QueryParam::pagination())
            .returns_list::<Call>("A page of the campaign's calls, newest first."),
        Route::new(Method::POST, "/v1/campaigns/{id}/regenerate-rule-book", regenerate_rule_book)
            .doc(TAG, "regenerateRuleBook", "Write the rule book again")
            .describe("From `nl_prompt`, while the campaign is a draft or paused.")
            .returns::<Campaign>(200, "The campaign with its new rule book."),
        Route::new(Method::PUT, "/v1/campaigns/{id}/compliance", compliance)
            .access(Access::Session(Scope::Write))
            .doc(TAG, "attestCampaignCompliance", "Attest consent")
            .describe("A signed-in user attests that the people in the audience consented to be called; recorded with the user's id.")
            .body::<AttestCompliance>(|| json!({"consent_statement": "Every person in this audience opted in to reminder calls on our website."}))
            .returns::<Campaign>(200, "The campaign with its attestation."),
    ]
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCampaign {
    #[schema(max_length = 200)]
    pub name: String,
    pub agent_id: String,
    pub phone_number_id: String,
    pub scheduled_start: Option<DateTime<Utc>>,
    /// IANA time zone of callees whose own is not known.
    pub timezone: String,
    pub call_window: CallWindow,
    /// 1 to 100 (default 5).
    #[schema(minimum = 1, maximum = 100)]
    pub max_concurrent_calls: Option<u32>,
    pub retry_policy: Option<RetryPolicy>,
    /// A brief of the campaign, turned into its rule book (10 to 4000 characters).
    #[schema(max_length = 4000)]
    pub nl_prompt: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCampaign {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    pub agent_id: Option<String>,
    pub phone_number_id: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub scheduled_start: Patch<DateTime<Utc>>,
    pub timezone: Option<String>,
    pub call_window: Option<CallWindow>,
    #[schema(minimum = 1, maximum = 100)]
    pub max_concurrent_calls: Option<u32>,
    pub retry_policy: Option<RetryPolicy>,
    #[schema(max_length = 4000)]
    pub nl_prompt: Option<String>,
    /// `active`, `paused` or `cancelled`: the same moves as the actions.
    pub status: Option<CampaignStatus>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AudienceRowInput {
    pub phone: String,
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// IANA time zone of the callee.
    pub timezone: Option<String>,
    /// ISO 3166 country of a national number.
    pub country: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadAudience {
    #[schema(max_items = 100000)]
    pub rows: Vec<AudienceRowInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttestCompliance {
    #[schema(max_length = 2000)]
    pub consent_statement: String,
}

fn conflict(message: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::new(ErrorCode::CampaignStateConflict, message)
}

fn store_error(e: StoreError) -> ApiError {
    e.into_api(ErrorCode::CampaignNotFound)
}

/// Fills in the campaigns' counters.
async fn with_stats(state: &State, ws: &str, mut campaigns: Vec<Campaign>) -> Result<Vec<Campaign>, ApiError> {
    let ids: Vec<String> = campaigns.iter().map(|c| c.id.clone()).collect();
    let mut stats = state.store().stats(ws, &ids).await.map_err(store_error)?;
    for campaign in &mut campaigns {
        campaign.stats = stats.remove(&campaign.id).unwrap_or_default();
    }
    Ok(campaigns)
}

async fn answer(state: &State, call: &Request, campaign: Versioned<Campaign>) -> Result<Reply, ApiError> {
    let version = campaign.version;
    let mut shown = with_stats(state, call.workspace_id()?, vec![campaign.value]).await?;
    Ok(Reply::ok(&shown.remove(0)).etag(version))
}

/// Checks what a campaign refers to and says: agent, number, zone, window, concurrency, retries.
async fn checked(state: &State, call: &Request, campaign: Campaign) -> Result<Campaign, ApiError> {
    let ws = call.workspace_id()?;
    let mut campaign = campaign;
    campaign.name = validate::text("name", &campaign.name, 1, 200)?;
    if !ids::is_valid(prefix::AGENT, &campaign.agent_id)
        || state
            .dialer
            .agents
            .get(ws, &campaign.agent_id)
            .await
            .map_err(store_error)?
            .is_none()
    {
        return Err(ApiError::param(
            ErrorCode::AgentNotFound,
            "agent_id",
            "No agent with this id in the workspace.",
        ));
    }
    let number: Option<Versioned<PhoneNumber>> = if ids::is_valid(prefix::NUMBER, &campaign.phone_number_id) {
        state
            .dialer
            .numbers
            .get(ws, &campaign.phone_number_id)
            .await
            .map_err(store_error)?
    } else {
        None
    };
    if number.is_none() {
        return Err(ApiError::param(
            ErrorCode::PhoneNumberNotFound,
            "phone_number_id",
            "No number with this id in the workspace.",
        ));
    }
    validate::timezone("timezone", &campaign.timezone)?;
    if campaign.call_window.bounds().is_none() {
        return Err(ApiError::validation(
            "call_window",
            "The window needs `start` before `end` (HH:MM), overlapping 08:00-21:00, on at least one day.",
        ));
    }
    validate::range(
        "max_concurrent_calls",
        campaign.max_concurrent_calls,
        1,
        MAX_CONCURRENT_CALLS,
    )?;
    let policy = &campaign.retry_policy;
    validate::range("retry_policy.max_attempts", policy.max_attempts, 1, 10)?;
    validate::range(
        "retry_policy.retry_delay_seconds",
        policy.retry_delay_seconds,
        60,
        604_800,
    )?;
    if let Some(bad) = policy.retry_on.iter().find(|s| {
        !matches!(
            s,
            CallStatus::Busy | CallStatus::NoAnswer | CallStatus::Failed | CallStatus::Voicemail
        )
    }) {
        return Err(ApiError::validation(
            "retry_policy.retry_on",
            format!(
                "`{}` is not retried: only busy, no-answer, failed and voicemail are.",
                bad.as_str()
            ),
        ));
    }
    if let Some(start) = campaign.scheduled_start
        && start <= call.now
    {
        return Err(ApiError::validation(
            "scheduled_start",
            "`scheduled_start` must be in the future.",
        ));
    }
    Ok(campaign)
}

async fn brief(
    state: &State,
    call: &Request,
    nl_prompt: &str,
) -> Result<(String, switchboard::model::RuleBook), ApiError> {
    let brief = validate::text("nl_prompt", nl_prompt, 10, 4000)?;
    let book = campaigns::rule_book(state.llm.as_ref(), &brief, call.now).await?;
    Ok((brief, book))
}

async fn list(state: Arc<State>, call: Request) -> Result<Reply, ApiError> {
    let status = call
        .query("status")
        .map(|raw| {
            serde_json::from_value::<CampaignStatus>(json!(raw)).map_err(|_| {
                ApiError::param(
                    ErrorCode::InvalidParameter,
                    "status",
                    "`status` must be a campaign status, e.g. `active`.",
                )
            })
        })
        .transpose()?;
    let filters = format!("status={status:?}");
    let page = call.page(&filters)?;
    let query = ListQuery {
        equals: status
            .map(|s| vec![("status", json!(s).as_str().unwrap_or_default().to_owned())])
            .unwrap_or_default(),
        ..ListQuery::from(page)
    };
    let ws = call.workspace_id()?;
    let found = state.campaigns().query(ws, &query).await.map_err(store_error)?;
    let campaigns = with_stats(&state, ws, found.items.into_iter().map(|v| v.value).collect()).await?;
    Ok(call.list(campaigns, found.next, &filters))
}

async fn create(state: Arc<State>, call: Request) -> Result<Reply, ApiError> {
    let input: CreateCampaign = call.json()?;
    let at = switchboard::clock::api_time(call.now);
    let campaign = Campaign {
        id: ids::new_id_at(prefix::CAMPAIGN, call.now),
        object: CampaignObject,
        name: input.name,
        agent_id: input.agent_id,
        phone_number_id: input.phone_number_id,
        status: CampaignStatus::Draft,
        scheduled_start: input.scheduled_start,
        timezone: input.timezone,
        call_window: input.call_window,
        max_concurrent_calls: input.max_concurrent_calls.unwrap_or(5),
        retry_policy: input.retry_policy.unwrap_or_default(),
        nl_prompt: None,
        rule_book: None,
        compliance: None,
        paused_reason: None,
        stats: Default::default(),
        started_at: None,
        completed_at: None,
        created_at: at,
        updated_at: at,
    };
    let mut campaign = checked(&state, &call, campaign).await?;
    if let Some(raw) = &input.nl_prompt {
        let (brief, book) = brief(&state, &call, raw).await?;
        campaign.nl_prompt = Some(brief);
        campaign.rule_book = Some(book);
    }
    let created = state
        .campaigns()
        .insert(call.workspace_id()?, &campaign, None, &[])
        .await
        .map_err(store_error)?;
    let version = created.version;
    let mut shown = with_stats(&state, call.workspace_id()?, vec![created.value]).await?;
    Ok(Reply::created(&shown.remove(0)).etag(version))
}

async fn get(state: Arc<State>, call: Request) -> Result<Reply, ApiError> {
    let found = crud::find(state.campaigns(), &call, call.param("id")).await?;
    answer(&state, &call, found).await
}

fn editable(campaign: &Campaign) -> Result<(), ApiError> {
    match campaign.status {
        CampaignStatus::Draft | CampaignStatus::Paused => Ok(()),
        status => Err(conflict(format!(
            "A campaign that is {} cannot be edited; pause it first.",
            json!(status).as_str().unwrap_or_default()
        ))),
    }
}

async fn update(state: Arc<State>, call: Request) -> Result<Reply, ApiError> {
    let patch: UpdateCampaign = call.json()?;
    let settings_change = patch.name.is_some()
        || patch.agent_id.is_some()
        || patch.phone_number_id.is_some()
        || !matches!(patch.scheduled_start, Patch::Absent)
        || patch.timezone.is_some()
        || patch.call_window.is_some()
        || patch.max_concurrent_calls.is_some()
        || patch.retry_policy.is_some()
        || patch.nl_prompt.is_some();
    let mut current = crud::find(state.campaigns(), &call, call.param("id")).await?;
    if settings_change {
        editable(&current.value)?;
        let briefed = match &patch.nl_prompt {
            Some(raw) => Some(brief(&state, &call, raw).await?),
            None => None,
        };
        let mut next = current.value.clone();
        if let Some(v) = &patch.name {
            next.name.clone_from(v);
        }
        if let Some(v) = &patch.agent_id {
            next.agent_id.clone_from(v);
        }
        if let Some(v) = &patch.phone_number_id {
            next.phone_number_id.clone_from(v);
        }
        patch.scheduled_start.clone().apply(&mut next.scheduled_start);
        if let Some(v) = &patch.timezone {
            next.timezone.clone_from(v);
        }
        if let Some(v) = &patch.call_window {
            next.call_window = v.clone();
        }
        next.max_concurrent_calls = patch.max_concurrent_calls.unwrap_or(next.max_concurrent_calls);
        if let Some(v) = &patch.retry_policy {
            next.retry_policy = v.clone();
        }
        if let Some((brief, book)) = briefed {
            next.nl_prompt = Some(brief);
            next.rule_book = Some(book);
        }
        next.updated_at = switchboard::clock::api_time(call.now);
        let next = checked(&state, &call, next).await?;
        call.check_if_match(current.version)?;
        current = state
            .campaigns()
            .update(call.workspace_id()?, &current, &next, &[])
            .await
            .map_err(|e| match e {
                StoreError::VersionMismatch => ApiError::new(
                    ErrorCode::ConcurrentModification,
                    ErrorCode::ConcurrentModification.description(),
                ),
                e => store_error(e),
            })?;
    } else {
        call.check_if_match(current.version)?;
    }
    match patch.status {
        None => answer(&state, &call, current).await,
        Some(CampaignStatus::Active) if current.value.status == CampaignStatus::Paused => {
            move_to(&state, &call, current, Move::Resume).await
        }
        Some(CampaignStatus::Active) => move_to(&state, &call, current, Move::Start).await,
        Some(CampaignStatus::Paused) => move_to(&state, &call, current, Move::Pause).await,
        Some(CampaignStatus::Cancelled) => move_to(&state, &call, current, Move::Cancel).await,
        Some(_) => Err(ApiError::validation(
            "status",
            "`status` moves a campaign to `active`, `paused` or `cancelled`.",
        )),
    }
}

async fn delete(state: Arc<State>, call: Request) -> Result<Reply, ApiError> {
    let current = crud::find(state.campaigns(), &call, call.param("id")).await?;
    if !matches!(
        current.value.status,
        CampaignStatus::Draft | CampaignStatus::Completed | CampaignStatus::Cancelled
    ) {
        return Err(conflict(
            "Only drafts and campaigns that are over can be deleted; cancel it first.",
        ));
    }
    let deleted = crud::delete(state.campaigns(), &call, call.param("id"), None).await?;
    Ok(Reply::ok(&Deleted::new(&deleted.value.id, "campaign")))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Move {
    Start,
    Pause,
    Resume,
    Cancel,
}

async fn campaign_stats(
    state: &State,
    ws: &str,
    campaign_id: &str,
) -> Result<switchboard::model::CampaignStats, ApiError> {
    Ok(state
        .store()
        .stats(ws, &[campaign_id.to_owned()])
        .await
        .map_err(store_error)?
        .remove(campaign_id)
        .unwrap_or_default())
}

/// What keeps a campaign from starting.
async fn missing(state: &State, call: &Request, campaign: &Campaign) -> Result<Vec<&'static str>, ApiError> {
    let ws = call.workspace_id()?;
    let mut missing = Vec::new();
    let stats = campaign_stats(state, ws, &campaign.id).await?;
    if stats.chunks_pending > 0 {
        missing.push("the end of its audience import (GET /v1/campaigns/{id}/imports/{import_id})");
    } else if stats.pending == 0 {
        missing.push("an audience with targets to call (POST /v1/campaigns/{id}/audience)");
    }
    if campaign.compliance.is_none() {
        missing.push("a consent attestation (PUT /v1/campaigns/{id}/compliance)");
    }
    let agent = state
        .dialer
        .agents
        .get(ws, &campaign.agent_id)
        .await
        .map_err(store_error)?;
    if !agent.is_some_and(|a| a.value.is_active) {
        missing.push("an active agent");
    }
    let number = state
        .dialer
        .numbers
        .get(ws, &campaign.phone_number_id)
        .await
        .map_err(store_error)?;
    if !number.is_some_and(|n| n.value.status == NumberStatus::Active) {
        missing.push("an active phone number");
    }
    if campaign.call_window.bounds().is_none() {
        missing.push("a call window that opens");
    }
    Ok(missing)
}

async fn move_to(state: &State, call: &Request, current: Versioned<Campaign>, to: Move) -> Result<Reply, ApiError> {
    let ws = call.workspace_id()?;
    let status = current.value.status;
    let (next, event, tick) = match (to, status) {
        (Move::Start, CampaignStatus::Draft) => {
            let missing = missing(state, call, &current.value).await?;
            if !missing.is_empty() {
                return Err(ApiError::new(
                    ErrorCode::CampaignNotReady,
                    format!("The campaign cannot start without {}.", missing.join(", ")),
                ));
            }
            match current.value.scheduled_start {
                Some(start) if start > call.now => (CampaignStatus::Scheduled, None, Some(Some(start))),
                _ => (CampaignStatus::Active, Some(EventType::CampaignStarted), Some(None)),
            }
        }
        (Move::Resume, CampaignStatus::Paused) => {
            if campaign_stats(state, ws, &current.value.id).await?.chunks_pending > 0 {
                return Err(ApiError::new(
                    ErrorCode::CampaignNotReady,
                    "The campaign resumes once its audience import has finished.",
                ));
            }
            (CampaignStatus::Active, None, Some(None))
        }
        (Move::Pause, CampaignStatus::Active | CampaignStatus::Scheduled) => {
            (CampaignStatus::Paused, Some(EventType::CampaignPaused), None)
        }
        (Move::Cancel, s) if !s.is_final() => (CampaignStatus::Cancelled, None, None),
        // Asked again: nothing to do.
        (Move::Start, CampaignStatus::Active | CampaignStatus::Scheduled)
        | (Move::Resume, CampaignStatus::Active)
        | (Move::Pause, CampaignStatus::Paused)
        | (Move::Cancel, CampaignStatus::Cancelled) => return answer(state, call, current).await,
        (_, s) => {
            return Err(conflict(format!(
                "A campaign that is {} cannot be moved that way.",
                json!(s).as_str().unwrap_or_default()
            )));
        }
    };
    let moved = state
        .dialer
        .set_status(ws, &current, next, event, call.now)
        .await
        .map_err(|e| match e {
            StoreError::VersionMismatch => ApiError::new(
                ErrorCode::ConcurrentModification,
                "The campaign changed meanwhile; read it and try again.",
            ),
            e => store_error(e),
        })?;
    if let Some(at) = tick {
        state.dialer.queue_tick(ws, &moved.value.id, at).await?;
    }
    answer(state, call, moved).await
}

async fn action(state: Arc<State>, call: Request, to: Move) -> Result<Reply, ApiError> {
    let current = crud::find(state.campaigns(), &call, call.param("id")).await?;
    move_to(&state, &call, current, to).await
}

async fn start(state: Arc<State>, call: Request) -> Result<Reply, ApiError> {
    action(state, call, Move::Start).await
}

async fn pause(state: Arc<State>, call: Request) -> Result<Reply, ApiError> {
    action(state, call, Move::Pause).await
}

async fn resume(state: Arc<State>, call: Request) -> Result<Reply, ApiError> {
    action(state, call, Move::Resume).await
}

async fn cancel(state: Arc<State>, call: Request) -> Result<Reply, ApiError> {
    action(state, call, Move::Cancel).await
}

/// Rows of a CSV upload: `phone`, `name`, `timezone`, `country`; the rest as attributes.
fn csv_rows(rows: Vec<upload::Row>) -> Vec<(AudienceRow, Option<String>)> {
    rows.into_iter()
        .map(|mut cells| {
            let phone = cells
                .remove("phone")
                .or_else(|| cells.remove("phone_e164"))
                .unwrap_or_default();
            let name = cells.remove("name");
            let timezone = cells.remove("timezone");
            let country = cells.remove("country");
            (
                AudienceRow {
                    phone,
                    name,
                    timezone,
                    attributes: cells,
                },
                country,
            )
        })
        .collect()
}

async fn audience(state: Arc<State>, call: Request) -> Result<Reply, ApiError> {
    let ws = call.workspace_id()?;
    let rows: Vec<(AudienceRow, Option<String>)> = match upload::read(&call, MAX_AUDIENCE).await? {
        Upload::Json => {
            let input: UploadAudience = call.json()?;
            if input.rows.len() > MAX_AUDIENCE {
                return Err(ApiError::validation(
                    "rows",
                    format!("At most {MAX_AUDIENCE} rows per upload."),
                ));
            }
            input
                .rows
                .into_iter()
                .map(|r| {
                    let row = AudienceRow {
                        phone: r.phone,
                        name: r.name,
                        timezone: r.timezone,
                        attributes: r.attributes,
                    };
                    (row, r.country)
                })
                .collect()
        }
        Upload::Csv(rows) => csv_rows(rows),
    };
    let campaign = crud::find(state.campaigns(), &call, call.param("id")).await?.value;
    editable(&campaign)?;
    let total_rows = rows.len() as u64;
    let region = phones::region(state.dialer.accounts.as_ref(), ws).await?;
    let (rows, countries): (Vec<AudienceRow>, Vec<Option<String>>) = rows.into_iter().unzip();
    let (rows, counts) = campaigns::normalize_rows(rows, countries, region);
    let at = switchboard::clock::api_time(call.now);
    let mut import = AudienceImport {
        id: ids::new_id_at(prefix::IMPORT, call.now),
        object: AudienceImportObject,
        campaign_id: campaign.id.clone(),
        status: ImportStatus::Processing,
        rows: total_rows,
        counts,
        total_targets: None,
        created_at: at,
        completed_at: None,
    };
    let chunks = chunk_rows(&rows);
    if chunks.is_empty() {
        // Nothing valid to screen: done already.
        import.status = ImportStatus::Completed;
        import.completed_at = Some(at);
        import.total_targets = Some(campaign_stats(&state, ws, &campaign.id).await?.targets_total);
    }
    state
        .store()
        .create_import(ws, &import, &chunks)
        .await
        .map_err(store_error)?;
    let jobs: Vec<DialerJob> = (0..chunks.len())
        .map(|chunk| DialerJob::ImportChunk {
            workspace_id: ws.to_owned(),
            campaign_id: campaign.id.clone(),
            import_id: import.id.clone(),
            chunk,
        })
        .collect();
    let in_request = rows.len() <= SYNC_AUDIENCE;
    // A small import is done in the request; its jobs only come (later) to finish one that
    // stopped half-way, and find nothing left to do otherwise.
    let delay = if in_request {
        IMPORT_RESCUE_DELAY
    } else {
        std::time::Duration::ZERO
    };
    if !jobs.is_empty() {
        state
            .dialer
            .jobs
            .enqueue(&jobs, delay)
            .await
            .map_err(ApiError::unavailable)?;
    }
    if !in_request {
        return Ok(Reply::json(http::StatusCode::ACCEPTED, &import));
    }
    for chunk in 0..chunks.len() {
        state.dialer.import_chunk(ws, &campaign.id, &import.id, chunk).await?;
    }
    let done = state
        .store()
        .audience_import(ws, &import.id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("the import just written is gone")))?;
    Ok(Reply::created(&done))
}

/// Rows as chunks of JSON rows: at most `CHUNK_ROWS` rows and `CHUNK_BYTES` bytes each.
fn chunk_rows(rows: &[AudienceRow]) -> Vec<Vec<String>> {
    let mut chunks = Vec::new();
    let mut chunk: Vec<String> = Vec::new();
    let mut bytes = 0;
    for row in rows {
        let encoded = serde_json::to_string(row).expect("rows serialise");
        if chunk.len() == CHUNK_ROWS || bytes + encoded.len() > CHUNK_BYTES {
            chunks.push(std::mem::take(&mut chunk));
            bytes = 0;
        }
        bytes += encoded.len();
        chunk.push(encoded);
    }
    if !chunk.is_empty() {
        chunks.push(chunk);
    }
    chunks
}

async fn get_import(state: Arc<State>, call: Request) -> Result<Reply, ApiError> {
    let campaign = crud::find(state.campaigns(), &call, call.param("id")).await?.value;
    let not_found = || ApiError::new(ErrorCode::ImportNotFound, ErrorCode::ImportNotFound.description());
    let id = call.param("import_id");
    if !ids::is_valid(prefix::IMPORT, id) {
        return Err(not_found());
    }
    let import = state
        .store()
        .audience_import(call.workspace_id()?, id)
        .await
        .map_err(store_error)?
        .filter(|i| i.campaign_id == campaign.id)
        .ok_or_else(not_found)?;
    Ok(Reply::ok(&import))
}

async fn targets(state: Arc<State>, call: Request) -> Result<Reply, ApiError> {
    let status = call
        .query("status")
        .map(|raw| {
            serde_json::from_value::<TargetStatus>(json!(raw)).map_err(|_| {
                ApiError::param(
                    ErrorCode::InvalidParameter,
                    "status",
                    "`status` must be a target status, e.g. `pending`.",
                )
            })
        })
        .transpose()?;
    let campaign = crud::find(state.campaigns(), &call, call.param("id")).await?.value;
    let filters = format!("campaign={}&status={status:?}", campaign.id);
    let page = call.page(&filters)?;
    let found = state
        .store()
        .targets(call.workspace_id()?, &campaign.id, status, page.limit, page.after)
        .await
        .map_err(store_error)?;
    Ok(call.list(found.items, found.next, &filters))
}

async fn runs(state: Arc<State>, call: Request) -> Result<Reply, ApiError> {
    let campaign = crud::find(state.campaigns(), &call, call.param("id")).await?.value;
    let filters = format!("campaign={}", campaign.id);
    let page = call.page(&filters)?;
    let query = ListQuery {
        index: Some((Index::Gsi2, campaign_partition(&campaign.id))),
        ..ListQuery::from(page)
    };
    let found = state
        .dialer
        .calls
        .query(call.workspace_id()?, &query)
        .await
        .map_err(|e| e.into_api(ErrorCode::CallNotFound))?;
    Ok(call.list(found.items.into_iter().map(|v| v.value).collect(), found.next, &filters))
}

async fn regenerate_rule_book(state: Arc<State>, call: Request) -> Result<Reply, ApiError> {
    let current = crud::find(state.campaigns(), &call, call.param("id")).await?;
    editable(&current.value)?;
    let Some(prompt) = current.value.nl_prompt.clone() else {
        return Err(ApiError::validation(
            "nl_prompt",
            "The campaign has no `nl_prompt` to write a rule book from.",
        ));
    };
    let (_, book) = brief(&state, &call, &prompt).await?;
    let at = switchboard::clock::api_time(call.now);
    let updated = crud::update(state.campaigns(), &call, call.param("id"), |mut campaign| {
        editable(&campaign)?;
        campaign.rule_book = Some(book.clone());
        campaign.updated_at = at;
        Ok((campaign, Vec::new()))
    })
    .await?;
    answer(&state, &call, updated).await
}

async fn compliance(state: Arc<State>, call: Request) -> Result<Reply, ApiError> {
    let input: AttestCompliance = call.json()?;
    let statement = validate::text("consent_statement", &input.consent_statement, 10, 2000)?;
    let user = call.user_id()?.to_owned();
    let at = switchboard::clock::api_time(call.now);
    let updated = crud::update(state.campaigns(), &call, call.param("id"), |mut campaign| {
        if campaign.status.is_final() {
            return Err(conflict("The campaign is over."));
        }
        campaign.compliance = Some(Compliance {
            consent_statement: statement.clone(),
            attested_by: user.clone(),
            attested_at: at,
        });
        campaign.updated_at = at;
        Ok((campaign, Vec::new()))
    })
    .await?;
    answer(&state, &call, updated).await
}
