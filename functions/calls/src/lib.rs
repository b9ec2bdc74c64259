//! `calls`: placing outbound calls and reading call records (`/v1/calls`), and the telephony
//! provider's side of calls (`/v1/telephony/...`).

use std::collections::BTreeMap;
use std::sync::Arc;

use http::Method;
use serde::Deserialize;
use serde_json::json;
use switchboard_core::model::{Agent, Call, CallStatus, Contact, Direction, PhoneNumber, VOICES, voice_by_id};
use switchboard_core::ports::{
    CallJob, CallQueue, Directory, DncStore, ListBy, ListQuery, ProviderAccounts, Recordings, Repository, SimStep,
    Wallets, Workspaces,
};
use switchboard_core::{ErrorCode, validate};
use switchboard_domain::calls::{self, CallBook, CallRequest, Inbound, Outbound};
use switchboard_domain::phones;
use switchboard_http::crud;
use switchboard_http::{Access, ApiError, Platform, QueryParam, Reply, Request, Route, Service};
use switchboard_store::DynamoStore;
use switchboard_telephony::twilio;
use utoipa::ToSchema;

pub struct State {
    pub calls: Arc<dyn Repository<Call>>,
    pub wallets: Arc<dyn Wallets>,
    pub agents: Arc<dyn Repository<Agent>>,
    pub numbers: Arc<dyn Repository<PhoneNumber>>,
    pub contacts: Arc<dyn Repository<Contact>>,
    pub accounts: Arc<dyn Workspaces>,
    pub directory: Arc<dyn Directory>,
    pub dnc: Arc<dyn DncStore>,
    /// The platform's telephony, or the workspace's own account.
    pub providers: Arc<dyn ProviderAccounts>,
    pub jobs: Arc<dyn CallQueue>,
    pub recordings: Arc<dyn Recordings>,
    /// With Twilio as the provider: what checks its webhooks.
    pub twilio: Option<twilio::Webhooks>,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn service(
    platform: Arc<Platform>,
    store: &DynamoStore,
    providers: Arc<dyn ProviderAccounts>,
    jobs: Arc<dyn CallQueue>,
    recordings: Arc<dyn Recordings>,
    twilio: Option<twilio::Webhooks>,
) -> Service<State> {
    let state = State {
        calls: Arc::new(store.clone()),
        wallets: Arc::new(store.clone()),
        agents: Arc::new(store.clone()),
        numbers: Arc::new(store.clone()),
        contacts: Arc::new(store.clone()),
        accounts: Arc::new(store.clone()),
        directory: Arc::new(store.clone()),
        dnc: Arc::new(store.clone()),
        providers,
        jobs,
        recordings,
        twilio,
    };
    Service::new(platform, state, routes())
}

impl State {
    fn book(&self) -> CallBook<'_> {
        CallBook {
            calls: self.calls.as_ref(),
            wallets: self.wallets.as_ref(),
            jobs: self.jobs.as_ref(),
            campaign_ends: None,
        }
    }

    fn outbound(&self) -> Outbound<'_> {
        Outbound {
            agents: self.agents.as_ref(),
            numbers: self.numbers.as_ref(),
            contacts: self.contacts.as_ref(),
            dnc: self.dnc.as_ref(),
            providers: self.providers.as_ref(),
            book: self.book(),
        }
    }

    fn inbound(&self) -> Inbound<'_> {
        Inbound {
            numbers: self.numbers.as_ref(),
            agents: self.agents.as_ref(),
            contacts: self.contacts.as_ref(),
            accounts: self.accounts.as_ref(),
            directory: self.directory.as_ref(),
            providers: self.providers.as_ref(),
            jobs: self.jobs.as_ref(),
        }
    }
}

const TAG: &str = "Calls";

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/calls", list)
            .doc(TAG, "listCalls", "List calls")
            .query([
                QueryParam::string("direction", "`inbound` or `outbound`."),
                QueryParam::string(
                    "status",
                    "`queued`, `ringing`, `in-progress`, `completed`, `busy`, `no-answer`, `voicemail`, `failed` or `canceled`.",
                ),
                QueryParam::string("agent_id", "Only this agent's calls."),
                QueryParam::string("campaign_id", "Only this campaign's calls."),
                QueryParam::string("from", "Only calls created at or after this time (ISO 8601, or a date)."),
                QueryParam::string("to", "Only calls created at or before this time (ISO 8601, or a date: its end)."),
            ])
            .returns_list::<Call>("A page of calls, newest first."),
        Route::new(Method::POST, "/v1/calls", create)
            .doc(TAG, "createCall", "Place a call")
            .describe(
                "The agent calls `to` from the workspace's number `phone_number_id`. Numbers on the do-not-call list are refused \
                 (403 `number_on_dnc`), and so are numbers a campaign called in the last 7 days (403 `number_in_cooldown`). \
                 The call starts `queued` and moves through `ringing` and `in-progress` to a final status; \
                 its transcript, summary and sentiment follow once it ends. Send an `Idempotency-Key` so a retry never places a \
                 second call. With the simulator, numbers ending 0001 are busy, 0002 do not answer, 0003 fail, 0004 reach \
                 voicemail; any other number answers.",
            )
            .body::<CreateCall>(|| {
                json!({"agent_id": "agt_01JD3QZ9R6X4Y7T2W8V5N1M0KA", "phone_number_id": "num_01JD3QZ9R6X4Y7T2W8V5N1M0KA",
                       "to": "+14155550100", "metadata": {"order_id": "A-1042"}})
            })
            .returns::<Call>(201, "The call, queued (or failed, when the provider refused it)."),
        Route::new(Method::GET, "/v1/calls/{id}", get)
            .doc(TAG, "getCall", "Get a call")
            .describe(
                "With its transcript, summary, sentiment, outcome, duration and cost once the call has ended, and, when its \
                 agent records calls, `recording_url`: a link to the audio valid for an hour from this read.",
            )
            .returns::<Call>(200, "The call."),
        Route::new(Method::POST, "/v1/telephony/simulator/inbound-calls", simulate_inbound)
            .doc(TAG, "simulateInboundCall", "Simulate an inbound call")
            .describe(
                "With the telephony simulator: a call from `from` rings the workspace's number `to`, and the agent attached to \
                 the number answers it. The caller says the lines the simulator gives its number. 404 with a real provider.",
            )
            .body::<SimulateInbound>(|| json!({"from": "+14155550123", "to": "+14155550199"}))
            .returns::<Call>(201, "The inbound call, ringing."),
        Route::new(Method::POST, twilio::VOICE_PATH, twilio_voice)
            .access(Access::Public)
            .doc(TAG, "twilioVoice", "Twilio voice webhook")
            .describe(
                "Twilio asks here what to do with a call coming in to one of your numbers, or with a call we placed once it is \
                 answered; the answer is TwiML connecting the call to its agent over ConversationRelay. Only requests signed \
                 with the account's `X-Twilio-Signature` are taken (403 `invalid_signature`); 404 when Twilio is not the provider.",
            )
            .query([
                QueryParam::string("workspace_id", "Set by us on calls we place."),
                QueryParam::string("call_id", "Set by us on calls we place."),
            ])
            .returns_nothing(200, "TwiML (`text/xml`)."),
        Route::new(Method::POST, twilio::STATUS_PATH, twilio_status)
            .access(Access::Public)
            .doc(TAG, "twilioStatus", "Twilio call status webhook")
            .describe("Twilio reports a call's progress here, signed with `X-Twilio-Signature` (403 `invalid_signature` otherwise).")
            .query([
                QueryParam::string("workspace_id", "Set by us on calls we place."),
                QueryParam::string("call_id", "Set by us on calls we place."),
            ])
            .returns_nothing(204, "Taken."),
    ]
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCall {
    pub agent_id: String,
    /// The workspace's number to call from.
    pub phone_number_id: String,
    /// The number to call (E.164, or national for the workspace's country). Optional with
    /// `contact_id`: the contact's number.
    pub to: Option<String>,
    /// The contact to call; found by `to` when left out.
    pub contact_id: Option<String>,
    /// Up to 20 keys of up to 40 characters, values up to 500.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateInbound {
    /// The caller (E.164, or national for the workspace's country).
    pub from: String,
    /// The workspace's number being called.
    pub to: String,
}

async fn list(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let direction = req.query_as::<Direction>("direction", "one of inbound, outbound")?;
    let status = req
        .query("status")
        .map(|raw| {
            CallStatus::parse(raw).ok_or_else(|| {
                ApiError::param(
                    ErrorCode::InvalidParameter,
                    "status",
                    "`status` must be a call status, e.g. `completed` or `no-answer`.",
                )
            })
        })
        .transpose()?;
    let agent = req.query("agent_id");
    let campaign = req.query("campaign_id");
    let (from, to) = req.period()?;
    let filters = format!(
        "direction={direction:?}&status={status:?}&agent={agent:?}&campaign={campaign:?}&from={from:?}&to={to:?}"
    );
    let page = req.page(&filters)?;
    let mut equals = Vec::new();
    if let Some(direction) = direction {
        equals.push(("direction", json!(direction).as_str().unwrap_or_default().to_owned()));
    }
    if let Some(status) = status {
        equals.push(("status", status.as_str().to_owned()));
    }
    // The narrower list: a campaign's calls, else an agent's; the other as a filter.
    let by = match (campaign, agent) {
        (Some(campaign), agent) => {
            if let Some(agent) = agent {
                equals.push(("agent_id", agent.to_owned()));
            }
            ListBy::Campaign(campaign.to_owned())
        }
        (None, Some(agent)) => ListBy::Agent(agent.to_owned()),
        (None, None) => ListBy::All,
    };
    let query = ListQuery {
        by,
        from,
        to,
        equals,
        ascending: false,
        ..ListQuery::from(page)
    };
    let ws = req.workspace_id()?;
    let mut found = state.calls.query(ws, &query).await?;
    for call in &mut found.items {
        calls::link_recording(state.recordings.as_ref(), ws, &mut call.value, req.now).await?;
    }
    Ok(req.list_versioned(found, &filters))
}

async fn create(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: CreateCall = req.json()?;
    let ws = req.workspace_id()?;
    validate::metadata(&input.metadata)?;
    let contact = match &input.contact_id {
        Some(id) => Some(
            crud::find(state.contacts.as_ref(), &req, id)
                .await
                .map_err(|e| e.with_param("contact_id"))?
                .value,
        ),
        None => None,
    };
    let to = match (&input.to, &contact) {
        (Some(raw), _) => phones::normalize(state.accounts.as_ref(), ws, "to", raw).await?,
        (None, Some(contact)) => contact.phone.clone(),
        (None, None) => {
            return Err(ApiError::param(
                ErrorCode::MissingField,
                "to",
                "Give `to`, the number to call, or `contact_id`.",
            ));
        }
    };
    if let Some(contact) = &contact
        && contact.phone != to
    {
        return Err(ApiError::validation(
            "to",
            "`to` is not the number of the contact `contact_id`.",
        ));
    }
    let request = CallRequest {
        agent_id: input.agent_id,
        phone_number_id: input.phone_number_id,
        to,
        contact_id: contact.map(|c| c.id),
        metadata: input.metadata,
        id: None,
    };
    let placed = calls::start_outbound(state.outbound(), ws, request, req.principal()?.plan, req.now).await?;
    Ok(Reply::created(&placed.value))
}

async fn get(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let mut call = crud::find(state.calls.as_ref(), &req, req.param("id")).await?.value;
    calls::link_recording(state.recordings.as_ref(), req.workspace_id()?, &mut call, req.now).await?;
    Ok(Reply::ok(&call))
}

async fn simulate_inbound(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    if state.providers.telephony(req.workspace_id()?).await?.provider() != "simulator" {
        return Err(ApiError::new(
            ErrorCode::RouteNotFound,
            "Inbound calls are simulated only with the telephony simulator.",
        ));
    }
    let input: SimulateInbound = req.json()?;
    let ws = req.workspace_id()?;
    let from = phones::normalize(state.accounts.as_ref(), ws, "from", &input.from).await?;
    let to = phones::normalize(state.accounts.as_ref(), ws, "to", &input.to).await?;
    let (_, received) = calls::receive(
        state.inbound(),
        state.wallets.as_ref(),
        &from,
        &to,
        Some(ws),
        "simulator",
        None,
        req.now,
    )
    .await?;
    // The agent picks up at once.
    let answer = CallJob::Simulate {
        workspace_id: ws.to_owned(),
        call_id: received.value.id.clone(),
        step: SimStep::Outcome,
        turn: 0,
        elapsed: 0,
    };
    state
        .jobs
        .enqueue(&answer, std::time::Duration::ZERO)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(Reply::created(&received.value))
}

/// A form Twilio signed, and what checked it.
type SignedForm<'a> = (&'a twilio::Webhooks, Vec<(String, String)>);

/// Twilio's webhooks, when Twilio is the provider; the signed form of a request to `path`.
/// A request naming a workspace that brings its own Twilio account must be signed with that
/// account's auth token, any other with the platform's.
async fn twilio_request<'a>(state: &'a State, req: &Request, path: &str) -> Result<SignedForm<'a>, ApiError> {
    let hooks = state.twilio.as_ref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::RouteNotFound,
            "Twilio is not this deployment's telephony provider.",
        )
    })?;
    let own_token = match req.query("workspace_id") {
        Some(ws) => match state.providers.webhook_key(ws).await {
            Ok(key) => key,
            // A byok workspace without a valid credential: nothing can check the signature.
            Err(e) if e.code() == ErrorCode::ProviderCredentialMissing => Some(String::new()),
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let token = own_token.as_deref().unwrap_or(&hooks.auth_token);
    let params = req.form();
    let signature = req.header("x-twilio-signature");
    if token.is_empty() || !hooks.verify_as(token, path, &req.raw_query, &params, signature) {
        return Err(ApiError::new(
            ErrorCode::InvalidSignature,
            "The X-Twilio-Signature header is missing or does not sign this request.",
        ));
    }
    Ok((hooks, params))
}

fn field<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn twiml(body: String) -> Reply {
    Reply::raw("text/xml", body)
}

/// The workspace and id of the call a Twilio request is about: ours in the query for calls we
/// placed, else found by Twilio's `CallSid`.
async fn twilio_call(
    state: &State,
    req: &Request,
    params: &[(String, String)],
) -> Result<Option<(String, String)>, ApiError> {
    if let (Some(ws), Some(id)) = (req.query("workspace_id"), req.query("call_id")) {
        return Ok(Some((ws.to_owned(), id.to_owned())));
    }
    let Some(sid) = field(params, "CallSid") else {
        return Ok(None);
    };
    // A workspace's own account speaks only of that workspace's calls.
    let only_in = req.query("workspace_id");
    Ok(state
        .directory
        .provider_call("twilio", sid)
        .await?
        .filter(|(ws, _)| only_in.is_none_or(|only| only == ws)))
}

async fn twilio_voice(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let (hooks, params) = twilio_request(&state, &req, twilio::VOICE_PATH).await?;
    let machine = twilio::status_of("in-progress", field(&params, "AnsweredBy")) == Some(CallStatus::Voicemail);
    let (ws, call_id) = match twilio_call(&state, &req, &params).await? {
        Some(placed) => placed,
        None => {
            let (Some(from), Some(to)) = (field(&params, "From"), field(&params, "To")) else {
                return Ok(twiml(twilio::hangup_twiml("")));
            };
            let sid = field(&params, "CallSid").map(str::to_owned);
            match calls::receive(
                state.inbound(),
                state.wallets.as_ref(),
                from,
                to,
                req.query("workspace_id"),
                "twilio",
                sid,
                req.now,
            )
            .await
            {
                Ok((ws, received)) => (ws, received.value.id),
                Err(e) if e.is_refusal() => {
                    tracing::warn!(error = %e.message(), to, "inbound call not taken");
                    return Ok(twiml(twilio::hangup_twiml(
                        "Sorry, this number cannot take calls right now. Goodbye.",
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    let status = if machine {
        CallStatus::Voicemail
    } else {
        CallStatus::InProgress
    };
    let report = calls::StatusReport {
        status,
        at: req.now,
        duration_seconds: None,
        reason: None,
    };
    let answered = calls::report(state.book(), &ws, &call_id, report).await?;
    if answered.value.status != CallStatus::InProgress {
        return Ok(twiml(twilio::hangup_twiml("")));
    }
    let agent = calls::active_agent(state.agents.as_ref(), &ws, &answered.value.agent_id).await;
    let Ok(agent) = agent else {
        return Ok(twiml(twilio::hangup_twiml(
            "Sorry, no one can take your call right now. Goodbye.",
        )));
    };
    // The relay checks the connection with the account's token: a workspace's own account is
    // named in the URL it signs.
    let relay_url = match state.providers.webhook_key(&ws).await? {
        Some(_) => twilio::workspace_relay_url(&hooks.callbacks.relay_url, &ws),
        None => hooks.callbacks.relay_url.clone(),
    };
    let persona = voice_by_id(&agent.voice).unwrap_or(&VOICES[0]);
    let voice = state.providers.voices(&ws).await?.live(persona);
    Ok(twiml(twilio::connect_twiml(
        &relay_url,
        &agent.call_greeting(),
        &agent.language,
        &voice,
        agent.record_calls,
        &[("workspace_id", &ws), ("call_id", &call_id)],
    )))
}

async fn twilio_status(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let (_, params) = twilio_request(&state, &req, twilio::STATUS_PATH).await?;
    let status = field(&params, "CallStatus").and_then(|s| twilio::status_of(s, field(&params, "AnsweredBy")));
    let (Some((ws, call_id)), Some(status)) = (twilio_call(&state, &req, &params).await?, status) else {
        // Not a call of ours, or a status we do not track: taken, and nothing to do.
        return Ok(Reply::no_content());
    };
    let report = calls::StatusReport {
        status,
        at: req.now,
        duration_seconds: field(&params, "CallDuration").and_then(|d| d.parse().ok()),
        reason: field(&params, "SipResponseCode")
            .map(|code| format!("sip_{code}"))
            .filter(|_| status == CallStatus::Failed),
    };
    match calls::report(state.book(), &ws, &call_id, report).await {
        Ok(_) => Ok(Reply::no_content()),
        // A call deleted meanwhile, or named wrongly in a signed URL: nothing to update.
        Err(e) if e.code() == ErrorCode::CallNotFound => Ok(Reply::no_content()),
        Err(e) => Err(e.into()),
    }
}
