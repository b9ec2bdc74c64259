//! Connections: a connector with the credentials to use it. The credentials are checked
//! against what the connector's authentication needs, sealed under the workspace's own key
//! before they are stored, and never returned, logged or audited (the audit entry names the
//! fields set, not their values).

use std::collections::BTreeMap;
use std::sync::Arc;

use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{
    ConnectionStatus, ConnectionTest, ConnectionTestObject, ConnectorAuth, MAX_CONNECTIONS, Scope, StoredConnection,
};
use switchboard_core::ports::{ListQuery, Quota};
use switchboard_core::{ErrorCode, validate};
use switchboard_domain::automation::connectors::{self, Access};
use switchboard_http::crud::{self, Deleted};
use switchboard_http::{Access as RouteAccess, ApiError, Reply, Request, Route, over_limit};
use utoipa::ToSchema;

use crate::State;

const TAG: &str = "Connections";
/// The longest credential value.
const MAX_CREDENTIAL_BYTES: usize = 4096;

const QUOTA: Quota = Quota {
    counter: "connection_count",
    max: MAX_CONNECTIONS,
};

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/connections", list)
            .doc(TAG, "listConnections", "List connections")
            .describe("Names, connectors and status: a connection's credentials are never shown again.")
            .returns_list::<switchboard_core::model::Connection>("A page of connections, newest first."),
        Route::new(Method::POST, "/v1/connections", create)
            .access(RouteAccess::Scoped(Scope::Admin))
            .doc(TAG, "createConnection", "Create a connection")
            .describe(
                "A connector with the `credentials` its authentication needs: `api_key` (API-key header), \
                 `token` (bearer), `username` and `password` (basic), `client_id` and `client_secret` (OAuth 2 \
                 client credentials), `url` (a chat's incoming webhook). They are sealed with a key of the \
                 workspace's own and never returned. `base_url` only for a connector without one (`http`). \
                 At most 100 per workspace.",
            )
            .body::<CreateConnection>(|| {
                json!({"connector_id": "hubspot", "name": "Our HubSpot",
                       "credentials": {"token": "pat-na1-0c4e-example"}})
            })
            .returns::<switchboard_core::model::Connection>(201, "The connection (without its credentials)."),
        Route::new(Method::GET, "/v1/connections/{id}", get)
            .doc(TAG, "getConnection", "Get a connection")
            .returns::<switchboard_core::model::Connection>(200, "The connection."),
        Route::new(Method::DELETE, "/v1/connections/{id}", delete)
            .access(RouteAccess::Scoped(Scope::Admin))
            .doc(TAG, "deleteConnection", "Delete a connection")
            .returns::<Deleted>(200, "Deleted."),
        Route::new(Method::POST, "/v1/connections/{id}/test", test)
            .access(RouteAccess::Scoped(Scope::Write))
            .doc(TAG, "testConnection", "Test a connection")
            .describe(
                "Makes the connector's test request (one that changes nothing) with the connection's credentials \
                 and records the outcome on the connection (`status`, `last_error`).",
            )
            .returns::<ConnectionTest>(200, "What the API answered."),
    ]
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnection {
    #[schema(example = "hubspot")]
    pub connector_id: String,
    #[schema(max_length = 120)]
    pub name: String,
    /// For a connector without a base URL of its own (`http`): where its requests go.
    pub base_url: Option<String>,
    /// The values the connector's authentication needs (each at most 4 KB).
    #[serde(default)]
    pub credentials: BTreeMap<String, String>,
}

async fn list(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let page = req.page("")?;
    let found = state
        .connections
        .query(req.workspace_id()?, &ListQuery::from(page))
        .await?;
    let views = found.items.iter().map(|c| c.value.view()).collect();
    Ok(req.list::<switchboard_core::model::Connection>(views, found.next, ""))
}

async fn get(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let found = crud::find(state.connections.as_ref(), &req, req.param("id")).await?;
    Ok(Reply::ok(&found.value.view()).etag(found.version))
}

async fn create(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: CreateConnection = req.json()?;
    let name = validate::text("name", &input.name, 1, 120)?;
    let connector = crate::connectors::find(&state, &req, &input.connector_id)
        .await
        .map_err(|e| e.with_param("connector_id"))?;
    let needed = connector.auth.credential_fields();
    if let Some(extra) = input.credentials.keys().find(|k| !needed.contains(&k.as_str())) {
        return Err(ApiError::param(
            ErrorCode::UnknownField,
            format!("credentials.{extra}"),
            format!("`{}` takes {}.", connector.id, describe_fields(needed)),
        ));
    }
    if let Some(missing) = needed
        .iter()
        .find(|k| input.credentials.get(**k).is_none_or(|v| v.is_empty()))
    {
        return Err(ApiError::param(
            ErrorCode::MissingField,
            format!("credentials.{missing}"),
            format!("`{}` takes {}.", connector.id, describe_fields(needed)),
        ));
    }
    if let Some((field, _)) = input.credentials.iter().find(|(_, v)| v.len() > MAX_CREDENTIAL_BYTES) {
        return Err(ApiError::validation(
            format!("credentials.{field}"),
            format!("A credential is at most {MAX_CREDENTIAL_BYTES} bytes."),
        ));
    }
    let mut credentials = input.credentials;
    if connector.auth == ConnectorAuth::WebhookUrl {
        let url = state
            .http
            .check_destination(&credentials["url"])
            .await
            .map_err(|why| ApiError::param(ErrorCode::InvalidValue, "credentials.url", why))?;
        credentials.insert("url".into(), url);
    }
    let base_url = match (
        &connector.base_url,
        connector.auth == ConnectorAuth::WebhookUrl,
        input.base_url,
    ) {
        (None, false, Some(url)) => Some(
            state
                .http
                .check_destination(&url)
                .await
                .map_err(|why| ApiError::param(ErrorCode::InvalidValue, "base_url", why))?,
        ),
        (None, false, None) => {
            return Err(ApiError::param(
                ErrorCode::MissingField,
                "base_url",
                format!(
                    "`{}` has no base URL of its own: give the connection one.",
                    connector.id
                ),
            ));
        }
        (_, _, Some(_)) => {
            return Err(ApiError::param(
                ErrorCode::UnknownField,
                "base_url",
                format!("`{}` has its own base URL.", connector.id),
            ));
        }
        (_, _, None) => None,
    };
    let ws = req.workspace_id()?;
    let at = switchboard_core::clock::api_time(req.now);
    let sealed = state
        .keys
        .of(ws)
        .seal(&serde_json::to_string(&credentials).unwrap_or_default());
    let connection = StoredConnection {
        id: ids::new_id_at(prefix::CONNECTION, req.now),
        connector_id: connector.id.clone(),
        name,
        base_url,
        sealed_credentials: sealed,
        credential_fields: needed.iter().map(|f| (*f).to_owned()).collect(),
        status: ConnectionStatus::Untested,
        last_tested_at: None,
        last_error: None,
        created_at: at,
        updated_at: at,
    };
    let created = state
        .connections
        .insert(ws, &connection, Some(QUOTA), &[])
        .await
        .map_err(over_limit(|| {
            format!("A workspace holds at most {MAX_CONNECTIONS} connections; delete one first.")
        }))?;
    Ok(Reply::created(&created.value.view()).etag(created.version))
}

fn describe_fields(fields: &[&str]) -> String {
    if fields.is_empty() {
        "no credentials".to_owned()
    } else {
        fields
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(" and ")
    }
}

async fn delete(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let deleted = crud::delete(state.connections.as_ref(), &req, req.param("id"), Some(QUOTA)).await?;
    Ok(Reply::ok(&Deleted::new(&deleted.value.id, "connection")))
}

async fn test(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let ws = req.workspace_id()?;
    let current = crud::find(state.connections.as_ref(), &req, req.param("id")).await?;
    let connector = crate::connectors::find(&state, &req, &current.value.connector_id).await?;
    let credentials = connectors::open_credentials(&state.keys, ws, &current.value)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a connection's credentials do not open")))?;
    let access = Access {
        base_url: current.value.base_url.as_deref(),
        credentials: &credentials,
    };
    let action = connector.test_action.as_deref().and_then(|name| connector.action(name));
    let outcome = connectors::call(state.http.as_ref(), &connector, &access, action, &Value::Null, None).await;
    let (ok, status_code, latency_ms, error) = match &outcome {
        Ok(result) => (true, Some(result.status), result.latency_ms, None),
        Err(failure) => (false, failure.status, failure.latency_ms, Some(failure.message.clone())),
    };
    let at = switchboard_core::clock::api_time(req.now);
    let updated = crud::update(state.connections.as_ref(), &req, &current.value.id, |mut connection| {
        connection.status = if ok {
            ConnectionStatus::Working
        } else {
            ConnectionStatus::Failing
        };
        connection.last_tested_at = Some(at);
        connection.last_error.clone_from(&error);
        connection.updated_at = at;
        Ok((connection, Vec::new()))
    })
    .await?;
    Ok(Reply::ok(&ConnectionTest {
        object: ConnectionTestObject,
        ok,
        status_code,
        latency_ms,
        error,
        connection: updated.value.view(),
    }))
}
