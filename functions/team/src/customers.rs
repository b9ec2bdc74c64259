//! Customers (`/v1/customers`): sub-accounts of an agency. Each is a workspace of its own, which
//! the agency's credentials act in by naming it in the `Switchboard-Customer` header (checked
//! with the credential, in the request pipeline), and which its own API keys act in alone.
//!
//! A customer pays for its own calls and numbers from its own wallet, which starts empty: the
//! agency funds it with `POST /v1/billing/topup` sent for the customer. No trial credit, so
//! customers cannot be minted for free money.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::Method;
use serde::Deserialize;
use serde_json::json;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{Customer, CustomerObject, Scope, is_customer_workspace, test_workspace_id};
use switchboard_core::ports::Quota;
use switchboard_core::{ErrorCode, StoreError, validate};
use switchboard_http::crud::{self, Deleted};
use switchboard_http::{Access, ApiError, Patch, Reply, Request, Route, over_limit};
use utoipa::ToSchema;

use crate::State;

const TAG: &str = "Customers";

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/customers", list)
            .doc(TAG, "listCustomers", "List customers")
            .describe("The agency's customers, newest first.")
            .returns_list::<Customer>("A page of customers."),
        Route::new(Method::POST, "/v1/customers", create)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "createCustomer", "Create a customer")
            .describe(
                "A sub-account with its own agents, numbers, contacts, campaigns, wallet and data, isolated from \
                 its siblings. Act for it by sending `Switchboard-Customer: cus_...` with any of your credentials, \
                 or give it API keys of its own (`POST /v1/api-keys` sent for it), which reach it alone. Its wallet \
                 starts empty: fund it with `POST /v1/billing/topup` sent for it. Customers made in test mode are \
                 test-mode workspaces. Starter plans hold 5, Professional 50, Business 250, Enterprise 2,500.",
            )
            .body::<CreateCustomer>(|| {
                json!({"name": "Bright Dental", "email": "ops@brightdental.example", "country": "US",
                       "metadata": {"crm_id": "A-1042"}})
            })
            .returns::<Customer>(201, "The customer."),
        Route::new(Method::GET, "/v1/customers/{id}", get)
            .doc(TAG, "getCustomer", "Get a customer")
            .returns::<Customer>(200, "The customer."),
        Route::new(Method::PATCH, "/v1/customers/{id}", update)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "updateCustomer", "Update a customer")
            .describe("Honours `If-Match`.")
            .body::<UpdateCustomer>(|| json!({"name": "Bright Dental Group"}))
            .returns::<Customer>(200, "The customer."),
        Route::new(Method::DELETE, "/v1/customers/{id}", delete)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "deleteCustomer", "Delete a customer")
            .describe(
                "From this moment neither `Switchboard-Customer` nor the customer's own keys and sessions reach its \
                 workspace; its data stays for the plan's retention.",
            )
            .returns::<Deleted>(200, "Deleted."),
    ]
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    #[schema(max_length = 120)]
    pub name: String,
    pub email: Option<String>,
    /// ISO 3166-1 alpha-2: the default region of its phone numbers and where its calls may go.
    pub country: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomer {
    #[schema(max_length = 120)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email: Patch<String>,
    /// Replaces the whole map.
    pub metadata: Option<BTreeMap<String, String>>,
}

/// The agency's count of its customers, which its plan caps at `max`.
fn quota(max: u32) -> Quota {
    Quota {
        counter: "customer_count",
        max,
    }
}

/// Customers are the agency's own: a customer's credentials cannot see or make its siblings.
fn agency_only(req: &Request) -> Result<&str, ApiError> {
    let ws = req.workspace_id()?;
    if is_customer_workspace(ws) {
        return Err(ApiError::new(
            ErrorCode::CustomersNotAllowed,
            "A customer's credentials cannot manage customers: only its agency can.",
        ));
    }
    Ok(ws)
}

async fn list(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    agency_only(&req)?;
    crud::list(state.customers.as_ref(), &req).await
}

async fn get(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    agency_only(&req)?;
    crud::get(state.customers.as_ref(), &req).await
}

async fn create(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: CreateCustomer = req.json()?;
    let ws = agency_only(&req)?;
    let plan = req.principal()?.plan;
    let at = switchboard_core::clock::api_time(req.now);
    let customer = Customer {
        id: ids::new_id_at(prefix::CUSTOMER, req.now),
        object: CustomerObject,
        name: validate::text("name", &input.name, 1, 120)?,
        email: input.email.map(|e| validate::email("email", &e)).transpose()?,
        country: input
            .country
            .map(|c| validate::country("country", &c).map(|id| id.as_ref().to_owned()))
            .transpose()?,
        metadata: input.metadata,
        created_at: at,
        updated_at: at,
    };
    validate::metadata(&customer.metadata)?;
    let created = state
        .customer_accounts
        .create_customer(ws, &customer, plan, quota(plan.max_customers()))
        .await
        .map_err(over_limit(|| {
            format!(
                "Your plan holds {} customers; delete one or move to a larger plan.",
                plan.max_customers()
            )
        }))?;
    Ok(Reply::created_versioned(&created))
}

async fn update(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let patch: UpdateCustomer = req.json()?;
    agency_only(&req)?;
    let name = patch.name.map(|n| validate::text("name", &n, 1, 120)).transpose()?;
    let email = patch.email.map(|e| validate::email("email", &e)).transpose_patch()?;
    if let Some(metadata) = &patch.metadata {
        validate::metadata(metadata)?;
    }
    let at = switchboard_core::clock::api_time(req.now);
    let updated = crud::update(state.customers.as_ref(), &req, req.param("id"), |mut customer| {
        switchboard_http::set(&mut customer.name, &name);
        email.clone().apply(&mut customer.email);
        switchboard_http::set(&mut customer.metadata, &patch.metadata);
        customer.updated_at = at;
        Ok((customer, Vec::new()))
    })
    .await?;
    Ok(Reply::versioned(&updated))
}

/// Suspends the customer's workspace first (its own keys and sessions stop), then deletes its
/// row and the guard the header is checked against: a failure half-way leaves it listed, for
/// the retry to finish.
async fn delete(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let ws = agency_only(&req)?;
    let current = crud::find(state.customers.as_ref(), &req, req.param("id")).await?;
    let customer_ws = switchboard_core::model::customer_workspace_id(&current.value.id, ws);
    state.team.set_suspended(&customer_ws, true, req.now).await?;
    if !switchboard_core::model::is_test_workspace(&customer_ws) {
        // Its own test keys act in its test-mode twin, when it has one.
        match state
            .team
            .set_suspended(&test_workspace_id(&customer_ws), true, req.now)
            .await
        {
            Err(StoreError::NotFound(_)) | Ok(()) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let deleted = crud::delete(state.customers.as_ref(), &req, &current.value.id, Some(quota(0))).await?;
    Ok(Reply::ok(&Deleted::new(&deleted.value.id, "customer")))
}
