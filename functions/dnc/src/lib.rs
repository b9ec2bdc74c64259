//! `dnc`: the numbers a workspace never calls (`/v1/dnc`): its do-not-call list, the national
//! registries it imports, and what they say about a number.

use std::collections::HashSet;
use std::sync::Arc;

use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_core::model::{Country, DncEntry, DncEntryObject, DncList, DncSource, Scope};
use switchboard_core::object_name;
use switchboard_core::ports::{DncStore, Workspaces};
use switchboard_core::{ErrorCode, validate};
use switchboard_domain::phones;
use switchboard_http::upload::{self, Upload};
use switchboard_http::{Access, ApiError, Platform, QueryParam, Reply, Request, Route, Service};
use switchboard_store::DynamoStore;
use utoipa::ToSchema;

pub struct State {
    pub dnc: Arc<dyn DncStore>,
    pub accounts: Arc<dyn Workspaces>,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn service(platform: Arc<Platform>, store: &DynamoStore) -> Service<State> {
    let state = State {
        dnc: Arc::new(store.clone()),
        accounts: Arc::new(store.clone()),
    };
    Service::new(platform, state, routes())
}

const TAG: &str = "Do not call";
/// Numbers an import takes at most.
pub const MAX_IMPORT: usize = 100_000;

object_name!(DncCheckObject, "dnc_check");
object_name!(DncImportObject, "dnc_import");

pub fn routes() -> Vec<Route<State>> {
    let list_param = || QueryParam::string("list", "`dnc` (default) or `registry`.");
    vec![
        Route::new(Method::GET, "/v1/dnc", list)
            .doc(TAG, "listDnc", "List the do-not-call list")
            .query([list_param()])
            .returns_list::<DncEntry>("A page of numbers (in no particular order: they are stored under keyed hashes)."),
        Route::new(Method::POST, "/v1/dnc", add)
            .doc(TAG, "addDnc", "Add a number")
            .describe("Idempotent: adding a number again refreshes its reason and time (200; 201 the first time).")
            .body::<AddDnc>(|| json!({"phone_e164": "+14155550100", "reason": "Asked by email not to be called."}))
            .returns::<DncEntry>(201, "The number is on the list.")
            .returns::<DncEntry>(200, "The number was on the list; its entry is refreshed."),
        Route::new(Method::DELETE, "/v1/dnc/{phone_e164}", remove)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "removeDnc", "Remove a number")
            .query([list_param()])
            .returns::<DncEntry>(200, "The entry that was removed."),
        Route::new(Method::GET, "/v1/dnc/check", check)
            .doc(TAG, "checkDnc", "Check a number")
            .describe("Whether a campaign would skip the number: on the do-not-call list, on an imported registry, or in the 7-day cool-down after a campaign called it.")
            .query([QueryParam::string("phone_e164", "The number (any format).").required()])
            .returns::<DncCheck>(200, "What the lists say."),
        Route::new(Method::POST, "/v1/dnc/import", import)
            .or_csv()
            .doc(TAG, "importDnc", "Import numbers")
            .describe(
                "Up to 100,000 numbers, as JSON or as a CSV file with a `phone` (or `phone_e164`) column and an optional `reason`. \
                 `list: registry` imports a national do-not-call registry, checked like the list. Numbers already on the list are \
                 left as they are; numbers that are not valid are skipped and counted.",
            )
            .body::<ImportDnc>(|| json!({"list": "dnc", "phones": ["+14155550100", "(415) 555-0101"], "reason": "Opted out"}))
            .query([list_param()])
            .returns::<DncImport>(200, "What was imported."),
    ]
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddDnc {
    /// The number (E.164, or national for the workspace's country).
    pub phone_e164: String,
    #[schema(max_length = 500)]
    pub reason: Option<String>,
    /// `dnc` (default) or `registry`.
    pub list: Option<DncList>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportDnc {
    /// `dnc` (default) or `registry`.
    pub list: Option<DncList>,
    #[schema(max_items = 100000)]
    pub phones: Vec<String>,
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DncCheck {
    pub object: DncCheckObject,
    pub phone_e164: String,
    pub on_dnc: bool,
    pub on_registry: bool,
    pub in_cooldown: bool,
    /// Whether a campaign would skip the number.
    pub would_be_filtered: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DncImport {
    pub object: DncImportObject,
    pub list: DncList,
    pub added: usize,
    pub skipped_existing: usize,
    pub skipped_invalid: usize,
}

fn list_of(req: &Request) -> Result<Option<DncList>, ApiError> {
    req.query("list")
        .map(|raw| {
            serde_json::from_value(json!(raw))
                .map_err(|_| ApiError::param(ErrorCode::InvalidParameter, "list", "`list` must be dnc or registry."))
        })
        .transpose()
}

fn reason(raw: Option<String>) -> Result<Option<String>, ApiError> {
    Ok(raw.map(|r| validate::text("reason", &r, 1, 500)).transpose()?)
}

async fn list(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let list = list_of(&req)?.unwrap_or_default();
    let filters = format!("list={list:?}");
    let page = req.page(&filters)?;
    let found = state.dnc.list_dnc(req.workspace_id()?, list, page).await?;
    Ok(req.list(found.items, found.next, &filters))
}

async fn add(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: AddDnc = req.json()?;
    let ws = req.workspace_id()?;
    let entry = DncEntry {
        object: DncEntryObject,
        phone_e164: phones::normalize(state.accounts.as_ref(), ws, "phone_e164", &input.phone_e164).await?,
        list: input.list.unwrap_or_default(),
        reason: reason(input.reason)?,
        source: DncSource::Api,
        added_at: switchboard_core::clock::api_time(req.now),
    };
    let new = state.dnc.add_dnc(ws, &entry).await?;
    Ok(if new { Reply::created(&entry) } else { Reply::ok(&entry) })
}

async fn remove(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let list = list_of(&req)?.unwrap_or_default();
    let ws = req.workspace_id()?;
    let not_found = || ApiError::of(ErrorCode::DncEntryNotFound);
    // A number that does not parse is on no list.
    let phone = phones::normalize(state.accounts.as_ref(), ws, "phone_e164", req.param("phone_e164"))
        .await
        .map_err(|_| not_found())?;
    let entry = state.dnc.dnc_entry(ws, list, &phone).await?.ok_or_else(not_found)?;
    state.dnc.remove_dnc(ws, list, &phone).await?;
    Ok(Reply::ok(&entry))
}

async fn check(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let ws = req.workspace_id()?;
    let raw = req.query("phone_e164").unwrap_or_default();
    let phone = phones::normalize(state.accounts.as_ref(), ws, "phone_e164", raw)
        .await
        .map_err(|e| ApiError::from(e).with_code(ErrorCode::InvalidParameter))?;
    let screened = state
        .dnc
        .screen(ws, std::slice::from_ref(&phone), req.now)
        .await?
        .remove(&phone)
        .unwrap_or_default();
    Ok(Reply::ok(&DncCheck {
        object: DncCheckObject,
        phone_e164: phone,
        on_dnc: screened.on_dnc,
        on_registry: screened.on_registry,
        in_cooldown: screened.cooldown_campaign.is_some(),
        would_be_filtered: !screened.allows(None),
    }))
}

/// A CSV row's number: its `phone` or `phone_e164` cell.
fn phone_cell(row: &upload::Row) -> Option<&String> {
    row.get("phone").or_else(|| row.get("phone_e164"))
}

async fn import(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let ws = req.workspace_id()?;
    let (list, rows): (DncList, Vec<(String, Option<String>)>) = match upload::read(&req, MAX_IMPORT).await? {
        Upload::Json => {
            let input: ImportDnc = req.json()?;
            if input.phones.len() > MAX_IMPORT {
                return Err(ApiError::validation(
                    "phones",
                    format!("At most {MAX_IMPORT} numbers per import."),
                ));
            }
            let reason = reason(input.reason)?;
            let list = input.list.or(list_of(&req)?).unwrap_or_default();
            (list, input.phones.into_iter().map(|p| (p, reason.clone())).collect())
        }
        Upload::Csv(rows) => {
            let list = list_of(&req)?.unwrap_or_default();
            let mut parsed = Vec::with_capacity(rows.len());
            for row in rows {
                let reason = row.get("reason").map(|r| r.chars().take(500).collect());
                parsed.push((phone_cell(&row).cloned().unwrap_or_default(), reason));
            }
            (list, parsed)
        }
    };
    let region: Option<Country> = phones::region(state.accounts.as_ref(), ws).await?;
    let at = switchboard_core::clock::api_time(req.now);
    let mut seen = HashSet::new();
    let mut entries = Vec::new();
    let (mut invalid, mut repeated) = (0, 0);
    for (raw, reason) in rows {
        match validate::phone("phone", &raw, region) {
            Ok(phone) if seen.insert(phone.clone()) => entries.push(DncEntry {
                object: DncEntryObject,
                phone_e164: phone,
                list,
                reason,
                source: DncSource::Import,
                added_at: at,
            }),
            // Repeated in the upload: on the list by the time it comes again.
            Ok(_) => repeated += 1,
            Err(_) => invalid += 1,
        }
    }
    let added = state.dnc.import_dnc(ws, &entries).await?;
    Ok(Reply::ok(&DncImport {
        object: DncImportObject,
        list,
        added,
        skipped_existing: entries.len() - added + repeated,
        skipped_invalid: invalid,
    }))
}
