//! `numbers`: the phone numbers a workspace calls from and answers on (`/v1/numbers`).
//! Importing a number it already holds at the telephony provider points that number's calls here.

use std::sync::Arc;

use http::Method;
use serde::Deserialize;
use serde_json::json;
use switchboard_core::error::ProviderError;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{Agent, NumberStatus, PhoneNumber, PhoneNumberObject, Scope};
use switchboard_core::ports::{AccountStore, Repository, Telephony};
use switchboard_core::{ErrorCode, StoreError, validate};
use switchboard_domain::phones;
use switchboard_http::crud;
use switchboard_http::{Access, ApiError, Patch, Platform, Reply, Request, Route, Service};
use switchboard_store::DynamoStore;
use utoipa::ToSchema;

pub struct State {
    pub numbers: Arc<dyn Repository<PhoneNumber>>,
    pub agents: Arc<dyn Repository<Agent>>,
    pub accounts: Arc<dyn AccountStore>,
    pub telephony: Arc<dyn Telephony>,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn service(platform: Arc<Platform>, store: &DynamoStore, telephony: Arc<dyn Telephony>) -> Service<State> {
    let state = State {
        numbers: Arc::new(store.clone()),
        agents: Arc::new(store.clone()),
        accounts: Arc::new(store.clone()),
        telephony,
    };
    Service::new(platform, state, routes())
}

const TAG: &str = "Numbers";

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/numbers", list)
            .doc(TAG, "listNumbers", "List phone numbers")
            .returns_list::<PhoneNumber>("A page of numbers, newest first."),
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
            .describe("The number stops answering and can be imported again, by any workspace. Releasing twice changes nothing.")
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

async fn import(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: ImportNumber = req.json()?;
    let ws = req.workspace_id()?;
    let phone_number = phones::normalize(state.accounts.as_ref(), ws, "phone_number", &input.phone_number).await?;
    if let Some(agent_id) = &input.agent_id {
        check_agent(&state, &req, agent_id).await?;
    }
    let label = input.label.map(|l| validate::text("label", &l, 1, 120)).transpose()?;
    let now = switchboard_core::clock::api_time(req.now);
    let number = PhoneNumber {
        id: ids::new_id_at(prefix::NUMBER, req.now),
        object: PhoneNumberObject,
        phone_number,
        provider: state.telephony.provider().to_owned(),
        provider_id: None,
        agent_id: input.agent_id,
        label,
        status: NumberStatus::Active,
        created_at: now,
        updated_at: now,
    };
    // The claim first: the number's global guard makes another workspace's number 409 before
    // the provider is asked to point it here.
    let claimed = state
        .numbers
        .insert(ws, &number, None, &[])
        .await
        .map_err(store_error)?;
    let provider_id = match state.telephony.attach_number(&number.phone_number).await {
        Ok(provider_id) => provider_id,
        Err(e) => {
            state.numbers.delete(ws, &claimed, None).await?;
            return Err(match e {
                ProviderError::Rejected(why) => ApiError::param(
                    ErrorCode::ValidationFailed,
                    "phone_number",
                    format!("The telephony provider refused this number: {why}"),
                ),
                ProviderError::Unavailable(e) => ApiError::unavailable(e),
            });
        }
    };
    if provider_id.is_none() {
        return Ok(Reply::created_versioned(&claimed));
    }
    let attached = PhoneNumber { provider_id, ..number };
    let stored = state.numbers.update(ws, &claimed, &attached, &[]).await?;
    Ok(Reply::created_versioned(&stored))
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
    let now = switchboard_core::clock::api_time(req.now);
    let released = crud::update(state.numbers.as_ref(), &req, req.param("id"), |mut number| {
        number.status = NumberStatus::Released;
        number.agent_id = None;
        number.updated_at = now;
        Ok((number, Vec::new()))
    })
    .await?;
    Ok(Reply::versioned(&released))
}
