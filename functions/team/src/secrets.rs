//! Secrets (`/v1/secrets`): named, write-only values that automation steps refer to by name.
//! A value is sealed under the workspace's own key before it is stored, and no answer, event,
//! audit entry or log line ever holds it: the audit entry names the fields set, not their values.

use std::sync::Arc;

use http::Method;
use serde::Deserialize;
use serde_json::json;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{MAX_SECRET_BYTES, MAX_SECRETS, Scope, Secret, StoredSecret};
use switchboard_core::ports::{ListQuery, Quota, Unique};
use switchboard_core::{ErrorCode, StoreError};
use switchboard_http::crud::{self, Deleted};
use switchboard_http::{Access, ApiError, Reply, Request, Route};
use utoipa::ToSchema;

use crate::State;

const TAG: &str = "Secrets";

const QUOTA: Quota = Quota {
    counter: "secret_count",
    max: MAX_SECRETS,
};

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/secrets", list)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "listSecrets", "List secrets")
            .describe("Names and dates only: a secret's value is never shown again.")
            .returns_list::<Secret>("A page of secrets, newest first."),
        Route::new(Method::POST, "/v1/secrets", set)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "setSecret", "Set a secret")
            .describe(
                "Keeps `value` under `name`, sealed with a key of the workspace's own; setting a name again replaces its \
                 value (200) and keeps its id. The value is never returned. At most 100 secrets of up to 4 KB each.",
            )
            .body::<SetSecret>(|| json!({"name": "CRM_API_KEY", "value": "crm-live-2f9c1e"}))
            .returns::<Secret>(201, "The new secret (without its value).")
            .returns::<Secret>(200, "The secret whose value was replaced."),
        Route::new(Method::DELETE, "/v1/secrets/{id}", delete)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "deleteSecret", "Delete a secret")
            .returns::<Deleted>(200, "Deleted."),
    ]
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSecret {
    /// A letter, then letters, digits and `_`; at most 64.
    #[schema(max_length = 64)]
    pub name: String,
    /// At most 4096 bytes.
    pub value: String,
}

fn checked(input: &SetSecret) -> Result<(), ApiError> {
    let name = &input.name;
    let well_formed = name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !well_formed {
        return Err(ApiError::validation(
            "name",
            "A name is a letter, then letters, digits and `_`: at most 64 characters.",
        ));
    }
    if input.value.is_empty() || input.value.len() > MAX_SECRET_BYTES {
        return Err(ApiError::validation(
            "value",
            format!("A value is 1 to {MAX_SECRET_BYTES} bytes."),
        ));
    }
    Ok(())
}

async fn list(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let page = req.page("")?;
    let found = state.secrets.query(req.workspace_id()?, &ListQuery::from(page)).await?;
    let views = found.items.iter().map(|s| s.value.view()).collect();
    Ok(req.list::<Secret>(views, found.next, ""))
}

async fn set(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: SetSecret = req.json()?;
    checked(&input)?;
    let ws = req.workspace_id()?;
    let sealed = state.keys.of(ws).seal(&input.value);
    let at = switchboard_core::clock::api_time(req.now);
    let unique = Unique::SecretName(input.name.clone());
    if let Some(current) = state.secrets.find_unique(ws, &unique).await? {
        let mut next = current.value.clone();
        next.sealed = sealed;
        next.updated_at = at;
        let updated = state.secrets.update(ws, &current, &next, &[]).await.map_err(raced)?;
        return Ok(Reply::ok(&updated.value.view()));
    }
    let secret = StoredSecret {
        id: ids::new_id_at(prefix::SECRET, req.now),
        name: input.name,
        sealed,
        created_at: at,
        updated_at: at,
        last_used_at: None,
    };
    let created = state
        .secrets
        .insert(ws, &secret, Some(QUOTA), &[])
        .await
        .map_err(|e| match e {
            StoreError::LimitReached => ApiError::new(
                ErrorCode::LimitReached,
                format!("A workspace holds at most {MAX_SECRETS} secrets; delete one first."),
            ),
            e => raced(e),
        })?;
    Ok(Reply::created(&created.value.view()))
}

/// Another request set or deleted a secret of this name in between.
fn raced(e: StoreError) -> ApiError {
    match e {
        StoreError::VersionMismatch | StoreError::Conflict(ErrorCode::SecretNameTaken) => ApiError::new(
            ErrorCode::SecretNameTaken,
            "Another request set this secret at the same moment; send yours again.",
        ),
        e => e.into(),
    }
}

async fn delete(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let current = crud::find(state.secrets.as_ref(), &req, req.param("id")).await?;
    state.secrets.delete(req.workspace_id()?, &current, Some(QUOTA)).await?;
    Ok(Reply::ok(&Deleted::new(&current.value.id, "secret")))
}
