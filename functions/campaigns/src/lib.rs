//! `campaigns`: outbound calling campaigns (`/v1/campaigns`): their settings and rule books,
//! audiences, lifecycle (start, pause, resume, cancel), targets, calls, and compliance.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use http::Method;
use serde::Deserialize;
use serde_json::json;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{
    AudienceImport, Call, CallStatus, CallWindow, Campaign, CampaignObject, CampaignStatus, Compliance, PhoneNumber,
    RateClass, RetryPolicy, RuleBook, Scope, Target, TargetStatus,
};
use switchboard_core::ports::{CampaignStore, ListBy, ListQuery, ProviderAccounts, Repository, Versioned, Workspaces};
use switchboard_core::{ErrorCode, StoreError, validate};
use switchboard_domain::campaigns::{self, AudienceRow, Dialer, Move, editable, state_conflict};
use switchboard_domain::phones;
use switchboard_http::crud::{self, Deleted};
use switchboard_http::upload::{self, Upload};
use switchboard_http::{Access, ApiError, Patch, Platform, QueryParam, Reply, Request, Route, Service, set};
use switchboard_store::DynamoStore;
use utoipa::ToSchema;

pub struct State {
    pub campaigns: Arc<dyn Repository<Campaign>>,
    /// Targets, counters and imports.
    pub targets: Arc<dyn CampaignStore>,
    pub agents: Arc<dyn Repository<switchboard_core::model::Agent>>,
    pub numbers: Arc<dyn Repository<PhoneNumber>>,
    pub calls: Arc<dyn Repository<Call>>,
    pub accounts: Arc<dyn Workspaces>,
    /// The model that writes each workspace's rule books.
    pub models: Arc<dyn ProviderAccounts>,
    /// Moves campaigns, ticks them, imports their audiences.
    pub dialer: Dialer,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn service(
    platform: Arc<Platform>,
    store: &DynamoStore,
    models: Arc<dyn ProviderAccounts>,
    dialer: Dialer,
) -> Service<State> {
    let state = State {
        campaigns: Arc::new(store.clone()),
        targets: Arc::new(store.clone()),
        agents: Arc::new(store.clone()),
        numbers: Arc::new(store.clone()),
        calls: Arc::new(store.clone()),
        accounts: Arc::new(store.clone()),
        models,
        dialer,
    };
    Service::new(platform, state, routes())
}

const TAG: &str = "Campaigns";
/// Rows an upload takes at most.
pub const MAX_AUDIENCE: usize = 100_000;
const MAX_CONCURRENT_CALLS: u32 = 100;

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/campaigns", list)
            .doc(TAG, "listCampaigns", "List campaigns")
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
            .query([QueryParam::string("status", "`pending`, `dialing`, `completed`, `failed` or `skipped`.")])
            .returns_list::<Target>("A page of targets, by number."),
        Route::new(Method::GET, "/v1/campaigns/{id}/runs", runs)
            .doc(TAG, "listCampaignRuns", "List a campaign's calls")
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

/// Fills in the campaigns' counters.
async fn with_stats(state: &State, ws: &str, mut campaigns: Vec<Campaign>) -> Result<Vec<Campaign>, ApiError> {
    let ids: Vec<String> = campaigns.iter().map(|c| c.id.clone()).collect();
    let mut stats = state.targets.stats(ws, &ids).await?;
    for campaign in &mut campaigns {
        campaign.stats = stats.remove(&campaign.id).unwrap_or_default();
    }
    Ok(campaigns)
}

async fn answer(state: &State, req: &Request, campaign: Versioned<Campaign>) -> Result<Reply, ApiError> {
    let version = campaign.version;
    let mut shown = with_stats(state, req.workspace_id()?, vec![campaign.value]).await?;
    Ok(Reply::ok(&shown.remove(0)).etag(version))
}

/// Checks what a campaign refers to and says: agent, number, zone, window, concurrency, retries.
async fn checked(state: &State, req: &Request, campaign: Campaign) -> Result<Campaign, ApiError> {
    let ws = req.workspace_id()?;
    let mut campaign = campaign;
    campaign.name = validate::text("name", &campaign.name, 1, 200)?;
    if !ids::is_valid(prefix::AGENT, &campaign.agent_id) || state.agents.get(ws, &campaign.agent_id).await?.is_none() {
        return Err(ApiError::param(
            ErrorCode::AgentNotFound,
            "agent_id",
            "No agent with this id in the workspace.",
        ));
    }
    let number: Option<Versioned<PhoneNumber>> = if ids::is_valid(prefix::NUMBER, &campaign.phone_number_id) {
        state.numbers.get(ws, &campaign.phone_number_id).await?
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
        && start <= req.now
    {
        return Err(ApiError::validation(
            "scheduled_start",
            "`scheduled_start` must be in the future.",
        ));
    }
    Ok(campaign)
}

async fn brief(state: &State, req: &Request, nl_prompt: &str) -> Result<(String, RuleBook), ApiError> {
    let brief = validate::text("nl_prompt", nl_prompt, 10, 4000)?;
    let llm = state.models.llm(req.workspace_id()?).await?;
    let book = campaigns::rule_book(llm.as_ref(), &brief, req.now).await?;
    Ok((brief, book))
}

async fn list(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let status = req.query_as::<CampaignStatus>("status", "a campaign status, e.g. `active`")?;
    let filters = format!("status={status:?}");
    let page = req.page(&filters)?;
    let query = ListQuery {
        equals: status
            .map(|s| vec![("status", json!(s).as_str().unwrap_or_default().to_owned())])
            .unwrap_or_default(),
        ..ListQuery::from(page)
    };
    let ws = req.workspace_id()?;
    let found = state.campaigns.as_ref().query(ws, &query).await?;
    let campaigns = with_stats(&state, ws, found.items.into_iter().map(|v| v.value).collect()).await?;
    Ok(req.list(campaigns, found.next, &filters))
}

async fn create(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: CreateCampaign = req.json()?;
    let at = switchboard_core::clock::api_time(req.now);
    let campaign = Campaign {
        id: ids::new_id_at(prefix::CAMPAIGN, req.now),
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
    let mut campaign = checked(&state, &req, campaign).await?;
    if let Some(raw) = &input.nl_prompt {
        let (brief, book) = brief(&state, &req, raw).await?;
        campaign.nl_prompt = Some(brief);
        campaign.rule_book = Some(book);
    }
    let created = state
        .campaigns
        .insert(req.workspace_id()?, &campaign, None, &[])
        .await?;
    let version = created.version;
    let mut shown = with_stats(&state, req.workspace_id()?, vec![created.value]).await?;
    Ok(Reply::created(&shown.remove(0)).etag(version))
}

async fn get(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let found = crud::find(state.campaigns.as_ref(), &req, req.param("id")).await?;
    answer(&state, &req, found).await
}

async fn update(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let patch: UpdateCampaign = req.json()?;
    let settings_change = patch.name.is_some()
        || patch.agent_id.is_some()
        || patch.phone_number_id.is_some()
        || !matches!(patch.scheduled_start, Patch::Absent)
        || patch.timezone.is_some()
        || patch.call_window.is_some()
        || patch.max_concurrent_calls.is_some()
        || patch.retry_policy.is_some()
        || patch.nl_prompt.is_some();
    let mut current = crud::find(state.campaigns.as_ref(), &req, req.param("id")).await?;
    if settings_change {
        editable(&current.value)?;
        let briefed = match &patch.nl_prompt {
            Some(raw) => Some(brief(&state, &req, raw).await?),
            None => None,
        };
        let mut next = current.value.clone();
        set(&mut next.name, &patch.name);
        set(&mut next.agent_id, &patch.agent_id);
        set(&mut next.phone_number_id, &patch.phone_number_id);
        patch.scheduled_start.clone().apply(&mut next.scheduled_start);
        set(&mut next.timezone, &patch.timezone);
        if let Some(v) = &patch.call_window {
            next.call_window = v.clone();
        }
        set(&mut next.max_concurrent_calls, &patch.max_concurrent_calls);
        if let Some(v) = &patch.retry_policy {
            next.retry_policy = v.clone();
        }
        if let Some((brief, book)) = briefed {
            next.nl_prompt = Some(brief);
            next.rule_book = Some(book);
        }
        next.updated_at = switchboard_core::clock::api_time(req.now);
        let next = checked(&state, &req, next).await?;
        req.check_if_match(current.version)?;
        current = state
            .campaigns
            .update(req.workspace_id()?, &current, &next, &[])
            .await
            .map_err(|e| match e {
                StoreError::VersionMismatch => ApiError::of(ErrorCode::ConcurrentModification),
                e => e.into(),
            })?;
    } else {
        req.check_if_match(current.version)?;
    }
    match patch.status {
        None => answer(&state, &req, current).await,
        Some(CampaignStatus::Active) if current.value.status == CampaignStatus::Paused => {
            move_to(&state, &req, current, Move::Resume).await
        }
        Some(CampaignStatus::Active) => move_to(&state, &req, current, Move::Start).await,
        Some(CampaignStatus::Paused) => move_to(&state, &req, current, Move::Pause).await,
        Some(CampaignStatus::Cancelled) => move_to(&state, &req, current, Move::Cancel).await,
        Some(_) => Err(ApiError::validation(
            "status",
            "`status` moves a campaign to `active`, `paused` or `cancelled`.",
        )),
    }
}

async fn delete(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let current = crud::find(state.campaigns.as_ref(), &req, req.param("id")).await?;
    if !matches!(
        current.value.status,
        CampaignStatus::Draft | CampaignStatus::Completed | CampaignStatus::Cancelled
    ) {
        return Err(state_conflict("Only drafts and campaigns that are over can be deleted; cancel it first.").into());
    }
    let deleted = crud::delete(state.campaigns.as_ref(), &req, req.param("id"), None).await?;
    Ok(Reply::ok(&Deleted::new(&deleted.value.id, "campaign")))
}

async fn move_to(state: &State, req: &Request, current: Versioned<Campaign>, to: Move) -> Result<Reply, ApiError> {
    let moved = state
        .dialer
        .move_campaign(req.workspace_id()?, current, to, req.now)
        .await?;
    answer(state, req, moved).await
}

async fn action(state: Arc<State>, req: Request, to: Move) -> Result<Reply, ApiError> {
    let current = crud::find(state.campaigns.as_ref(), &req, req.param("id")).await?;
    move_to(&state, &req, current, to).await
}

async fn start(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    action(state, req, Move::Start).await
}

async fn pause(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    action(state, req, Move::Pause).await
}

async fn resume(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    action(state, req, Move::Resume).await
}

async fn cancel(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    action(state, req, Move::Cancel).await
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

async fn audience(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let ws = req.workspace_id()?;
    let rows: Vec<(AudienceRow, Option<String>)> = match upload::read(&req, MAX_AUDIENCE).await? {
        Upload::Json => {
            let input: UploadAudience = req.json()?;
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
    let campaign = crud::find(state.campaigns.as_ref(), &req, req.param("id")).await?.value;
    editable(&campaign)?;
    let total_rows = rows.len() as u64;
    let region = phones::region(state.accounts.as_ref(), ws).await?;
    let (rows, countries): (Vec<AudienceRow>, Vec<Option<String>>) = rows.into_iter().unzip();
    let (rows, counts) = campaigns::normalize_rows(rows, countries, region);
    let (import, done) = state
        .dialer
        .import_audience(ws, &campaign, &rows, counts, total_rows, req.now)
        .await?;
    Ok(if done {
        Reply::created(&import)
    } else {
        Reply::json(http::StatusCode::ACCEPTED, &import)
    })
}

async fn get_import(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let campaign = crud::find(state.campaigns.as_ref(), &req, req.param("id")).await?.value;
    let not_found = || ApiError::of(ErrorCode::ImportNotFound);
    let id = req.param("import_id");
    if !ids::is_valid(prefix::IMPORT, id) {
        return Err(not_found());
    }
    let import = state
        .targets
        .audience_import(req.workspace_id()?, id)
        .await?
        .filter(|i| i.campaign_id == campaign.id)
        .ok_or_else(not_found)?;
    Ok(Reply::ok(&import))
}

async fn targets(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let status = req.query_as::<TargetStatus>("status", "a target status, e.g. `pending`")?;
    let campaign = crud::find(state.campaigns.as_ref(), &req, req.param("id")).await?.value;
    let filters = format!("campaign={}&status={status:?}", campaign.id);
    let page = req.page(&filters)?;
    let found = state
        .targets
        .targets(req.workspace_id()?, &campaign.id, status, page)
        .await?;
    Ok(req.list(found.items, found.next, &filters))
}

async fn runs(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let campaign = crud::find(state.campaigns.as_ref(), &req, req.param("id")).await?.value;
    let filters = format!("campaign={}", campaign.id);
    let page = req.page(&filters)?;
    let query = ListQuery {
        by: ListBy::Campaign(campaign.id.clone()),
        ..ListQuery::from(page)
    };
    let found = state.calls.query(req.workspace_id()?, &query).await?;
    Ok(req.list_versioned(found, &filters))
}

async fn regenerate_rule_book(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let current = crud::find(state.campaigns.as_ref(), &req, req.param("id")).await?;
    editable(&current.value)?;
    let Some(prompt) = current.value.nl_prompt.clone() else {
        return Err(ApiError::validation(
            "nl_prompt",
            "The campaign has no `nl_prompt` to write a rule book from.",
        ));
    };
    let (_, book) = brief(&state, &req, &prompt).await?;
    let at = switchboard_core::clock::api_time(req.now);
    let updated = crud::update(state.campaigns.as_ref(), &req, req.param("id"), |mut campaign| {
        editable(&campaign)?;
        campaign.rule_book = Some(book.clone());
        campaign.updated_at = at;
        Ok((campaign, Vec::new()))
    })
    .await?;
    answer(&state, &req, updated).await
}

async fn compliance(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: AttestCompliance = req.json()?;
    let statement = validate::text("consent_statement", &input.consent_statement, 10, 2000)?;
    let user = req.user_id()?.to_owned();
    let at = switchboard_core::clock::api_time(req.now);
    let updated = crud::update(state.campaigns.as_ref(), &req, req.param("id"), |mut campaign| {
        if campaign.status.is_final() {
            return Err(state_conflict("The campaign is over.").into());
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
    answer(&state, &req, updated).await
}
