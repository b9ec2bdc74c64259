//! Connectors: the built-in catalogue, the same for every workspace, and custom connectors a
//! workspace defines for an API of its own (base URL, how it authenticates, its actions).

use std::collections::HashSet;
use std::sync::Arc;

use http::Method;
use serde::Deserialize;
use serde_json::json;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{
    Connector, ConnectorAction, ConnectorAuth, ConnectorKind, ConnectorObject, MAX_CONNECTORS, Scope,
};
use switchboard_core::ports::{ListQuery, Quota, Versioned};
use switchboard_core::{ErrorCode, validate};
use switchboard_domain::automation::{connectors, template};
use switchboard_http::crud::{self, Deleted};
use switchboard_http::{Access, ApiError, Reply, Request, Route, over_limit};
use utoipa::ToSchema;

use crate::State;

const TAG: &str = "Connectors";
const MAX_ACTIONS: usize = 20;

const QUOTA: Quota = Quota {
    counter: "connector_count",
    max: MAX_CONNECTORS,
};

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/connectors", list)
            .doc(TAG, "listConnectors", "List connectors")
            .describe("The built-in connectors (on the first page), then the workspace's own, newest first.")
            .returns_list::<Connector>("A page of connectors."),
        Route::new(Method::POST, "/v1/connectors", create)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "createConnector", "Create a custom connector")
            .describe(
                "An API of your own for workflow steps: its `base_url` (https), how connections authenticate \
                 (`auth.type`: `none`, `api_key_header` with its `header`, `bearer`, `basic`, \
                 `oauth2_client_credentials` with its `token_url`), and up to 20 `actions`, each a method, a \
                 path and a JSON body whose `{{input.name}}` placeholders steps fill. At most 50 per workspace.",
            )
            .body::<ConnectorInput>(|| {
                json!({"name": "Clinic CRM", "base_url": "https://crm.example.com/api",
                       "auth": {"type": "api_key_header", "header": "x-api-key"},
                       "actions": [{"name": "log_call", "method": "POST", "path": "/calls",
                                    "body": {"phone": "{{input.phone}}", "outcome": "{{input.outcome}}"},
                                    "outputs": {"id": "/id"}}],
                       "test_action": null})
            })
            .returns::<Connector>(201, "The connector."),
        Route::new(Method::GET, "/v1/connectors/{id}", get)
            .doc(TAG, "getConnector", "Get a connector")
            .describe("A built-in connector by its name (`hubspot`), or one of yours by id.")
            .returns::<Connector>(200, "The connector."),
        Route::new(Method::PUT, "/v1/connectors/{id}", replace)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "replaceConnector", "Replace a custom connector")
            .describe("Replaces its definition whole; its connections keep their credentials, so while any uses it the hosts of its base and token URLs stay as they are (409 `connector_in_use`): credentials go only where they were given for. Honours `If-Match`. Built-in connectors cannot be changed (409).")
            .body::<ConnectorInput>(|| {
                json!({"name": "Clinic CRM", "base_url": "https://crm.example.com/api/v2",
                       "auth": {"type": "bearer"}, "actions": []})
            })
            .returns::<Connector>(200, "The connector."),
        Route::new(Method::DELETE, "/v1/connectors/{id}", delete)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "deleteConnector", "Delete a custom connector")
            .describe("Only while no connection uses it (409 `connector_in_use`).")
            .returns::<Deleted>(200, "Deleted."),
    ]
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorInput {
    #[schema(max_length = 120)]
    pub name: String,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    pub base_url: String,
    pub auth: ConnectorAuth,
    #[serde(default)]
    pub actions: Vec<ConnectorAction>,
    /// An action that changes nothing, which testing a connection runs; `null`: a GET of `base_url`.
    pub test_action: Option<String>,
}

fn name_ok(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The connector `input` describes, checked: every URL through the outbound guard, action names
/// unique, placeholders well formed and drawn from `input` only.
pub(crate) async fn checked(
    state: &State,
    input: ConnectorInput,
) -> Result<
    (
        String,
        Option<String>,
        String,
        ConnectorAuth,
        Vec<ConnectorAction>,
        Option<String>,
    ),
    ApiError,
> {
    let name = validate::text("name", &input.name, 1, 120)?;
    let description = input
        .description
        .map(|d| validate::text("description", &d, 0, 500))
        .transpose()?;
    let base_url = state
        .http
        .check_destination(&input.base_url)
        .await
        .map_err(|why| ApiError::param(ErrorCode::InvalidValue, "base_url", why))?;
    let auth = match input.auth {
        ConnectorAuth::ApiKeyHeader { header } => {
            if http::HeaderName::from_bytes(header.as_bytes()).is_err() || header.len() > 64 {
                return Err(ApiError::param(
                    ErrorCode::InvalidValue,
                    "auth.header",
                    "A header name: letters, digits and `-`.",
                ));
            }
            ConnectorAuth::ApiKeyHeader { header }
        }
        ConnectorAuth::Oauth2ClientCredentials { token_url, scope } => {
            let token_url = state
                .http
                .check_destination(&token_url)
                .await
                .map_err(|why| ApiError::param(ErrorCode::InvalidValue, "auth.token_url", why))?;
            ConnectorAuth::Oauth2ClientCredentials { token_url, scope }
        }
        ConnectorAuth::WebhookUrl => {
            return Err(ApiError::param(
                ErrorCode::InvalidValue,
                "auth.type",
                "`webhook_url` is for the built-in `chat_webhook` connector; a custom connector has a base URL.",
            ));
        }
        other => other,
    };
    if input.actions.len() > MAX_ACTIONS {
        return Err(ApiError::validation(
            "actions",
            format!("At most {MAX_ACTIONS} actions."),
        ));
    }
    let mut names = HashSet::new();
    for (i, action) in input.actions.iter().enumerate() {
        let at = |field: &str| format!("actions[{i}].{field}");
        if !name_ok(&action.name) || !names.insert(action.name.as_str()) {
            return Err(ApiError::validation(
                at("name"),
                "Each action has its own name: letters, digits and `_`, at most 64.",
            ));
        }
        if !(action.path.is_empty() || action.path.starts_with('/')) || action.path.len() > 1024 {
            return Err(ApiError::validation(
                at("path"),
                "A path is empty or starts with `/` (at most 1024 characters).",
            ));
        }
        let mut placeholders: Vec<(String, Vec<String>)> = template::paths_in(&action.path)
            .map_err(|why| ApiError::validation(at("path"), why))?
            .into_iter()
            .map(|path| (at("path"), path.into_iter().map(str::to_owned).collect()))
            .collect();
        if let Some(body) = &action.body {
            placeholders.extend(
                template::paths_of(body, &at("body")).map_err(|(param, why)| ApiError::validation(param, why))?,
            );
        }
        if let Some((param, path)) = placeholders
            .iter()
            .find(|(_, path)| path.first().map(String::as_str) != Some("input") || path.len() < 2)
        {
            return Err(ApiError::validation(
                param.clone(),
                format!(
                    "`{{{{{}}}}}`: an action's placeholders name its input (`{{{{input.phone}}}}`).",
                    path.join(".")
                ),
            ));
        }
        if let Some((name, pointer)) = action
            .outputs
            .iter()
            .find(|(name, pointer)| !name_ok(name) || !(pointer.is_empty() || pointer.starts_with('/')))
        {
            return Err(ApiError::validation(
                at(&format!("outputs.{name}")),
                format!(
                    "`{pointer}`: an output names a JSON pointer into the answer (`/id`), under a name of letters, digits and `_`."
                ),
            ));
        }
    }
    if let Some(test) = &input.test_action
        && !input.actions.iter().any(|a| &a.name == test)
    {
        return Err(ApiError::validation(
            "test_action",
            format!("`{test}` is not one of the actions."),
        ));
    }
    Ok((name, description, base_url, auth, input.actions, input.test_action))
}

/// The connector `id` of the workspace, built-in or custom.
pub async fn find(state: &State, req: &Request, id: &str) -> Result<Connector, ApiError> {
    connectors::find(state.connectors.as_ref(), req.workspace_id()?, id)
        .await?
        .ok_or_else(|| ApiError::of(ErrorCode::ConnectorNotFound))
}

async fn list(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let page = req.page("")?;
    let first = page.after.is_none();
    let found = state
        .connectors
        .query(req.workspace_id()?, &ListQuery::from(page))
        .await?;
    let mut all: Vec<Versioned<Connector>> = Vec::new();
    if first {
        all.extend(
            connectors::built_ins()
                .into_iter()
                .map(|value| Versioned { value, version: 1 }),
        );
    }
    all.extend(found.items);
    let found = switchboard_core::ports::Page {
        items: all,
        next: found.next,
    };
    Ok(req.list_versioned(found, ""))
}

async fn get(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let id = req.param("id");
    if let Some(built_in) = connectors::built_in_connector(id) {
        return Ok(Reply::ok(&built_in));
    }
    crud::get(state.connectors.as_ref(), &req).await
}

async fn create(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: ConnectorInput = req.json()?;
    let (name, description, base_url, auth, actions, test_action) = checked(&state, input).await?;
    let at = switchboard_core::clock::api_time(req.now);
    let connector = Connector {
        id: ids::new_id_at(prefix::CONNECTOR, req.now),
        object: ConnectorObject,
        kind: ConnectorKind::Custom,
        name,
        description,
        base_url: Some(base_url),
        auth,
        actions,
        test_action,
        created_at: Some(at),
        updated_at: Some(at),
    };
    let created = state
        .connectors
        .insert(req.workspace_id()?, &connector, Some(QUOTA), &[])
        .await
        .map_err(over_limit(|| {
            format!("A workspace defines at most {MAX_CONNECTORS} connectors; delete one first.")
        }))?;
    Ok(Reply::created_versioned(&created))
}

fn built_in_refused() -> ApiError {
    ApiError::new(
        ErrorCode::BuiltInConnector,
        "Built-in connectors cannot be changed or deleted.",
    )
}

async fn replace(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    if connectors::built_in_connector(req.param("id")).is_some() {
        return Err(built_in_refused());
    }
    let input: ConnectorInput = req.json()?;
    let (name, description, base_url, auth, actions, test_action) = checked(&state, input).await?;
    let current = crud::find(state.connectors.as_ref(), &req, req.param("id"))
        .await?
        .value;
    let moved = connectors::credential_origins(&current)
        != connectors::credential_origins(&Connector {
            base_url: Some(base_url.clone()),
            auth: auth.clone(),
            ..current.clone()
        });
    // Credentials were given for the hosts the connector named then: they are not sent to others.
    if moved && in_use(&state, &req, &current.id).await? {
        return Err(ApiError::new(
            ErrorCode::ConnectorInUse,
            "Connections use this connector, and their credentials go only to the hosts it named when they were given: \
             keep its base and token URLs' hosts, or make a new connector for the new host.",
        ));
    }
    let at = switchboard_core::clock::api_time(req.now);
    let updated = crud::update(state.connectors.as_ref(), &req, req.param("id"), |connector| {
        Ok((
            Connector {
                name: name.clone(),
                description: description.clone(),
                base_url: Some(base_url.clone()),
                auth: auth.clone(),
                actions: actions.clone(),
                test_action: test_action.clone(),
                updated_at: Some(at),
                ..connector
            },
            Vec::new(),
        ))
    })
    .await?;
    Ok(Reply::versioned(&updated))
}

/// Whether connections of the workspace use the connector.
async fn in_use(state: &State, req: &Request, connector_id: &str) -> Result<bool, ApiError> {
    let using = ListQuery {
        equals: vec![("connector_id", connector_id.to_owned())],
        limit: 1,
        ..ListQuery::default()
    };
    let found = state.connections.query(req.workspace_id()?, &using).await?;
    Ok(!found.items.is_empty())
}

async fn delete(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let id = req.param("id");
    if connectors::built_in_connector(id).is_some() {
        return Err(built_in_refused());
    }
    let current = crud::find(state.connectors.as_ref(), &req, id).await?;
    if in_use(&state, &req, &current.value.id).await? {
        return Err(ApiError::new(
            ErrorCode::ConnectorInUse,
            "Connections use this connector: delete them first.",
        ));
    }
    let deleted = crud::delete(state.connectors.as_ref(), &req, id, Some(QUOTA)).await?;
    Ok(Reply::ok(&Deleted::new(&deleted.value.id, "connector")))
}
