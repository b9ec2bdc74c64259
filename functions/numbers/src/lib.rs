//! `numbers`: the phone numbers a workspace calls from and answers on (`/v1/numbers`).
//! Importing a number it already holds at the telephony provider points that number's calls here;
//! provisioning buys one, charged a monthly fee (the `number-renewals` function charges the
//! months after the first).

use std::sync::Arc;

use chrono::{DateTime, Duration, Months, Utc};
use http::Method;
use serde::Deserialize;
use serde_json::json;
use switchboard_core::error::ProviderError;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{
    Agent, AvailableNumber, NUMBER_MONTHLY_FEE_MINOR, NumberSource, NumberStatus, PhoneNumber, PhoneNumberObject,
    ProviderMode, Scope,
};
use switchboard_core::ports::{
    Charge, NumberSearch, ProviderAccounts, Repository, Telephony, Versioned, Wallets, Workspaces,
};
use switchboard_core::{ErrorCode, StoreError, validate};
use switchboard_domain::{audit, phones};
use switchboard_http::crud;
use switchboard_http::{Access, ApiError, Patch, Platform, Reply, Request, Route, Service};
use switchboard_store::DynamoStore;
use utoipa::ToSchema;

pub struct State {
    pub numbers: Arc<dyn Repository<PhoneNumber>>,
    pub agents: Arc<dyn Repository<Agent>>,
    pub accounts: Arc<dyn Workspaces>,
    pub wallets: Arc<dyn Wallets>,
    /// The platform's telephony, or the workspace's own account.
    pub providers: Arc<dyn ProviderAccounts>,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn service(platform: Arc<Platform>, store: &DynamoStore, providers: Arc<dyn ProviderAccounts>) -> Service<State> {
    let state = State {
        numbers: Arc::new(store.clone()),
        agents: Arc::new(store.clone()),
        accounts: Arc::new(store.clone()),
        wallets: Arc::new(store.clone()),
        providers,
    };
    Service::new(platform, state, routes())
}

const TAG: &str = "Numbers";

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/numbers", list)
            .doc(TAG, "listNumbers", "List phone numbers")
            .returns_list::<PhoneNumber>("A page of numbers, newest first."),
        Route::new(Method::POST, "/v1/numbers/search", search)
            .changes_nothing()
            .doc(TAG, "searchNumbers", "Search numbers to buy")
            .describe("Numbers the telephony provider offers in `country` (default: the workspace's), with what each costs a month. Changes nothing.")
            .body::<SearchNumbers>(|| json!({"country": "US", "area_code": "415", "limit": 5}))
            .returns_list::<AvailableNumber>("The numbers offered."),
        Route::new(Method::POST, "/v1/numbers/provision", provision)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "provisionNumber", "Buy a number")
            .describe(
                "Buys the number at the telephony provider with its calls and status reports pointed here, and charges its \
                 first month (`number_fee` in the ledger; 402 `insufficient_funds` when the wallet cannot pay, and nothing \
                 is bought). Each month after, the fee is charged again; a number whose fee cannot be paid for seven days is \
                 released. A number another workspace holds is 409 `number_in_use`, asked of no provider.",
            )
            .body::<ImportNumber>(|| json!({"phone_number": "+14155550123", "agent_id": "agt_01JD3QZ9R6X4Y7T2W8V5N1M0KA", "label": "Sales line"}))
            .returns::<PhoneNumber>(201, "The number."),
        Route::new(Method::POST, "/v1/numbers/import", import)
            .doc(TAG, "importNumber", "Import a number you hold at the telephony provider")
            .describe("Points the number's calls at this service. `agent_id` answers its inbound calls. A number belongs to one workspace at a time (409 `number_in_use`).")
            .body::<ImportNumber>(|| json!({"phone_number": "+14155550199", "agent_id": "agt_01JD3QZ9R6X4Y7T2W8V5N1M0KA", "label": "Support line"}))
            .returns::<PhoneNumber>(201, "The number."),
        Route::new(Method::GET, "/v1/numbers/{id}", get).doc(TAG, "getNumber", "Get a phone number").returns::<PhoneNumber>(200, "The number."),
        Route::new(Method::PATCH, "/v1/numbers/{id}", update)
            .doc(TAG, "updateNumber", "Change who answers a number, or its label")
            .body::<UpdateNumber>(|| json!({"agent_id": null, "label": "Old support line"}))
            .returns::<PhoneNumber>(200, "The updated number."),
        Route::new(Method::POST, "/v1/numbers/{id}/release", release)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "releaseNumber", "Release a phone number")
            .describe("The number stops answering: a bought number is released at the provider and its monthly fee stops; an imported one is no longer pointed here. It can then be imported again, by any workspace. Releasing twice changes nothing.")
            .returns::<PhoneNumber>(200, "The released number."),
    ]
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportNumber {
    /// E.164, or national format for the workspace's country.
    pub phone_number: String,
    pub agent_id: Option<String>,
    #[schema(max_length = 120)]
    pub label: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchNumbers {
    /// ISO 3166-1 alpha-2; default the workspace's country.
    #[schema(example = "US")]
    pub country: Option<String>,
    /// 1 to 5 digits.
    #[schema(example = "415")]
    pub area_code: Option<String>,
    /// 1 to 10 digits the number contains.
    pub contains: Option<String>,
    /// 1 to 50 (default 20).
    #[schema(minimum = 1, maximum = 50)]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateNumber {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub agent_id: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 120)]
    pub label: Patch<String>,
}

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(ErrorCode::NumberInUse) => ApiError::param(
            ErrorCode::NumberInUse,
            "phone_number",
            "This number is already in use by a workspace.",
        ),
        e => e.into(),
    }
}

/// 404 unless `agent_id` names an agent of the caller's workspace.
async fn check_agent(state: &State, req: &Request, agent_id: &str) -> Result<(), ApiError> {
    let exists =
        ids::is_valid(prefix::AGENT, agent_id) && state.agents.get(req.workspace_id()?, agent_id).await?.is_some();
    if exists {
        Ok(())
    } else {
        Err(ApiError::param(
            ErrorCode::AgentNotFound,
            "agent_id",
            "No agent with this id in the workspace.",
        ))
    }
}

async fn list(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    crud::list(state.numbers.as_ref(), &req).await
}

/// The workspace's own account refused its credential (now marked invalid).
fn credential_refused(why: String) -> ApiError {
    ApiError::new(
        ErrorCode::ProviderCredentialMissing,
        format!(
            "The telephony provider refused the workspace's credential: {why}. Set a valid one with PUT /v1/onboarding/credentials/twilio."
        ),
    )
}

/// The provider's refusal of `phone_number` as a 4xx about it; its unavailability as 503.
fn provider_error(e: ProviderError) -> ApiError {
    match e {
        ProviderError::Rejected(why) => ApiError::param(
            ErrorCode::ValidationFailed,
            "phone_number",
            format!("The telephony provider refused this number: {why}"),
        ),
        ProviderError::Unauthorized(why) => credential_refused(why),
        ProviderError::Unavailable(e) => ApiError::unavailable(e),
    }
}

/// 1 to `max` digits, if given.
fn digits(param: &str, value: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if v.is_empty() || v.len() > max || !v.bytes().all(|b| b.is_ascii_digit()) => Err(ApiError::param(
            ErrorCode::InvalidValue,
            param,
            format!("`{param}` must be 1 to {max} digits."),
        )),
        v => Ok(v),
    }
}

async fn search(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: SearchNumbers = req.json()?;
    let country = match input.country {
        Some(raw) => validate::country("country", &raw)?,
        None => phones::region(state.accounts.as_ref(), req.workspace_id()?)
            .await?
            .ok_or_else(|| {
                ApiError::param(
                    ErrorCode::MissingField,
                    "country",
                    "Give `country`: the workspace has none.",
                )
            })?,
    };
    let limit = input.limit.unwrap_or(20);
    if !(1..=50).contains(&limit) {
        return Err(ApiError::validation("limit", "`limit` must be from 1 to 50."));
    }
    let query = NumberSearch {
        country: country.as_ref().to_owned(),
        area_code: digits("area_code", input.area_code, 5)?,
        contains: digits("contains", input.contains, 10)?,
        limit,
    };
    let telephony = state.providers.telephony(req.workspace_id()?).await?;
    let offers = telephony.search_numbers(&query).await.map_err(|e| match e {
        ProviderError::Rejected(why) => ApiError::param(ErrorCode::ValidationFailed, "country", why),
        ProviderError::Unauthorized(why) => credential_refused(why),
        ProviderError::Unavailable(e) => ApiError::unavailable(e),
    })?;
    Ok(Reply::ok(
        &json!({"object": "list", "data": offers, "has_more": false, "next_cursor": null}),
    ))
}

/// A number of the workspace about to be claimed (`source` says how it is held).
async fn new_number(
    state: &State,
    req: &Request,
    input: ImportNumber,
    source: NumberSource,
    telephony: &dyn Telephony,
) -> Result<PhoneNumber, ApiError> {
    let ws = req.workspace_id()?;
    let phone_number = phones::normalize(state.accounts.as_ref(), ws, "phone_number", &input.phone_number).await?;
    if let Some(agent_id) = &input.agent_id {
        check_agent(state, req, agent_id).await?;
    }
    let label = input.label.map(|l| validate::text("label", &l, 1, 120)).transpose()?;
    let now = switchboard_core::clock::api_time(req.now);
    Ok(PhoneNumber {
        id: ids::new_id_at(prefix::NUMBER, req.now),
        object: PhoneNumberObject,
        phone_number,
        provider: telephony.provider().to_owned(),
        provider_id: None,
        agent_id: input.agent_id,
        label,
        status: NumberStatus::Active,
        source,
        monthly_fee_minor: match source {
            NumberSource::Provisioned => NUMBER_MONTHLY_FEE_MINOR,
            NumberSource::Imported => 0,
        },
        renews_at: None,
        past_due_since: None,
        created_at: now,
        updated_at: now,
    })
}

/// Claims `number` for the workspace, then has the provider take it (`take`); when the provider
/// refuses, the claim is undone. The claim comes first: the number's global guard makes another
/// workspace's number 409 before the provider is asked. A number bought for a fee is claimed
/// due for renewal at `due` already, so that a purchase whose first charge never lands (the
/// function stopped, the table refused the write) is billed by the daily renewals, or released
/// unpaid, rather than kept for nothing. Neither write is the change: the audit entry goes with
/// the write that keeps the number.
async fn claim<T>(
    state: &State,
    ws: &str,
    number: &PhoneNumber,
    due: Option<DateTime<Utc>>,
    take: impl Future<Output = Result<T, ProviderError>>,
) -> Result<(Versioned<PhoneNumber>, T), ApiError> {
    let mut claimed = audit::set_aside(state.numbers.insert(ws, number, None, &[]))
        .await
        .map_err(store_error)?;
    if let Some(due) = due {
        let renewing = PhoneNumber {
            renews_at: Some(due),
            ..number.clone()
        };
        match audit::set_aside(state.wallets.charge_number(ws, &claimed, &renewing, None, &[])).await {
            Ok(renewing) => claimed = renewing,
            Err(e) => {
                audit::set_aside(state.numbers.delete(ws, &claimed, None)).await?;
                return Err(e.into());
            }
        }
    }
    match take.await {
        Ok(taken) => Ok((claimed, taken)),
        Err(e) => {
            unclaim(state, ws, claimed).await?;
            Err(provider_error(e))
        }
    }
}

/// Undoes a claim: its renewal, then the number.
async fn unclaim(state: &State, ws: &str, claimed: Versioned<PhoneNumber>) -> Result<(), ApiError> {
    let claimed = match claimed.value.renews_at {
        Some(_) => {
            let unscheduled = PhoneNumber {
                renews_at: None,
                ..claimed.value.clone()
            };
            audit::set_aside(state.wallets.charge_number(ws, &claimed, &unscheduled, None, &[])).await?
        }
        None => claimed,
    };
    audit::set_aside(state.numbers.delete(ws, &claimed, None)).await?;
    Ok(())
}

async fn import(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: ImportNumber = req.json()?;
    let ws = req.workspace_id()?;
    let telephony = state.providers.telephony(ws).await?;
    let number = new_number(&state, &req, input, NumberSource::Imported, telephony.as_ref()).await?;
    let (claimed, provider_id) =
        claim(&state, ws, &number, None, telephony.attach_number(&number.phone_number)).await?;
    if provider_id.is_none() {
        return Ok(Reply::created_versioned(&claimed));
    }
    let attached = PhoneNumber { provider_id, ..number };
    let stored = state.numbers.update(ws, &claimed, &attached, &[]).await?;
    Ok(Reply::created_versioned(&stored))
}

async fn provision(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: ImportNumber = req.json()?;
    let ws = req.workspace_id()?;
    let telephony = state.providers.telephony(ws).await?;
    let mut number = new_number(&state, &req, input, NumberSource::Provisioned, telephony.as_ref()).await?;
    // Bought through the workspace's own account, which its provider bills: no fee of ours.
    let own_account = state.providers.mode(ws).await? == ProviderMode::Byok;
    if own_account {
        number.monthly_fee_minor = 0;
    }
    let wallet = state
        .wallets
        .wallet(ws, req.now)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("the workspace has no wallet")))?;
    // Buying costs the operator real money: the same rule as live calls.
    if telephony.is_live() && !wallet.controls.owner_verified {
        return Err(ApiError::of(ErrorCode::EmailNotVerified));
    }
    let insufficient = || {
        ApiError::new(
            ErrorCode::InsufficientFunds,
            format!("The number's first month costs {NUMBER_MONTHLY_FEE_MINOR} cents: top up first."),
        )
    };
    if wallet.balance.available_minor < number.monthly_fee_minor {
        return Err(insufficient());
    }
    let due = (!own_account).then(|| number.created_at + Duration::days(1));
    let (claimed, provider_id) = claim(
        &state,
        ws,
        &number,
        due,
        telephony.provision_number(&number.phone_number),
    )
    .await?;
    let bought = PhoneNumber {
        provider_id,
        renews_at: (!own_account).then(|| number.created_at + Months::new(1)),
        ..number
    };
    let fee = Charge {
        amount_minor: bought.monthly_fee_minor,
        entry_id: ids::new_id_at(prefix::LEDGER_ENTRY, req.now),
        description: format!("Number {}: first month", bought.id),
        at: req.now,
    };
    match state
        .wallets
        .charge_number(ws, &claimed, &bought, (!own_account).then_some(&fee), &[])
        .await
    {
        Ok(stored) => Ok(Reply::created_versioned(&stored)),
        // Spent meanwhile: the number goes back, and nothing is kept.
        Err(StoreError::Conflict(ErrorCode::InsufficientFunds)) => {
            telephony.release_number(&bought).await.map_err(provider_error)?;
            unclaim(&state, ws, claimed).await?;
            Err(insufficient())
        }
        Err(e) => Err(e.into()),
    }
}

async fn get(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    crud::get(state.numbers.as_ref(), &req).await
}

async fn update(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let patch: UpdateNumber = req.json()?;
    if let Patch::Value(agent_id) = &patch.agent_id {
        check_agent(&state, &req, agent_id).await?;
    }
    let label = patch
        .label
        .clone()
        .map(|l| validate::text("label", &l, 1, 120))
        .transpose_patch()?;
    let now = switchboard_core::clock::api_time(req.now);
    let updated = crud::update(state.numbers.as_ref(), &req, req.param("id"), |mut number| {
        patch.agent_id.clone().apply(&mut number.agent_id);
        label.clone().apply(&mut number.label);
        number.updated_at = now;
        Ok((number, Vec::new()))
    })
    .await
    .map_err(|e| {
        if e.code == ErrorCode::NumberInUse {
            store_error(StoreError::Conflict(e.code))
        } else {
            e
        }
    })?;
    Ok(Reply::versioned(&updated))
}

async fn release(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let current = crud::find(state.numbers.as_ref(), &req, req.param("id")).await?;
    if current.value.status == NumberStatus::Released {
        return Ok(Reply::versioned(&current));
    }
    // The provider first: a number still answering there must not look released here.
    state
        .providers
        .telephony(req.workspace_id()?)
        .await?
        .release_number(&current.value)
        .await
        .map_err(provider_error)?;
    let released = current.value.clone().released(req.now);
    let stored = state
        .wallets
        .charge_number(req.workspace_id()?, &current, &released, None, &[])
        .await?;
    Ok(Reply::versioned(&stored))
}
