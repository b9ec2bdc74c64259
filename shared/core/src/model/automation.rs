//! Automation's building blocks: connectors (what an outside API offers: where it is, how it
//! authenticates, the requests it takes) and connections (a connector with the credentials to
//! use it, sealed and never shown again).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::object_name;

object_name!(ConnectorObject, "connector");
object_name!(ConnectionObject, "connection");
object_name!(ConnectionTestObject, "connection_test");

/// Custom connectors a workspace may define.
pub const MAX_CONNECTORS: u32 = 50;
/// Connections a workspace may hold.
pub const MAX_CONNECTIONS: u32 = 100;

/// How a connection proves itself to its connector's API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConnectorAuth {
    /// No credential.
    None,
    /// The connection's `api_key`, sent in the header `header`.
    ApiKeyHeader { header: String },
    /// The connection's `token`, as `Authorization: Bearer`.
    Bearer,
    /// The connection's `username` and `password`, as `Authorization: Basic`.
    Basic,
    /// OAuth 2 client credentials: the connection's `client_id` and `client_secret` buy a token
    /// at `token_url`, sent as a bearer token.
    Oauth2ClientCredentials { token_url: String, scope: Option<String> },
    /// The credential is the `url` itself (a chat's incoming webhook), which actions post to.
    WebhookUrl,
}

impl ConnectorAuth {
    /// The credential fields a connection of this kind gives.
    pub fn credential_fields(&self) -> &'static [&'static str] {
        match self {
            ConnectorAuth::None => &[],
            ConnectorAuth::ApiKeyHeader { .. } => &["api_key"],
            ConnectorAuth::Bearer => &["token"],
            ConnectorAuth::Basic => &["username", "password"],
            ConnectorAuth::Oauth2ClientCredentials { .. } => &["client_id", "client_secret"],
            ConnectorAuth::WebhookUrl => &["url"],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }
}

/// One request a connector makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorAction {
    /// Letters, digits and `_`, unique in the connector.
    #[schema(example = "create_contact")]
    pub name: String,
    pub method: HttpMethod,
    /// Appended to the base URL; `{{input.name}}` placeholders are filled (URL-encoded) from
    /// the step's input.
    #[schema(example = "/crm/v3/objects/contacts")]
    pub path: String,
    /// The JSON body. A string that is one placeholder takes the input's value as it is;
    /// placeholders inside longer strings are written into them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// What the step outputs: names for JSON pointers into the answer (`"id": "/id"`).
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorKind {
    /// Part of Switchboard, the same for everyone.
    BuiltIn,
    /// The workspace's own.
    Custom,
}

/// An outside API that workflow steps reach through a connection.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Connector {
    #[schema(example = "hubspot")]
    pub id: String,
    pub object: ConnectorObject,
    pub kind: ConnectorKind,
    #[schema(example = "HubSpot")]
    pub name: String,
    pub description: Option<String>,
    /// Where its actions go; `null` when each connection brings its own (generic HTTP).
    #[schema(example = "https://api.hubapi.com")]
    pub base_url: Option<String>,
    pub auth: ConnectorAuth,
    pub actions: Vec<ConnectorAction>,
    /// The action `POST /v1/connections/{id}/test` runs (one that changes nothing); `null`: a
    /// GET of the base URL.
    pub test_action: Option<String>,
    /// For custom connectors.
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

resource!(Connector, CONNECTOR, ConnectorNotFound);

impl Connector {
    pub fn action(&self, name: &str) -> Option<&ConnectorAction> {
        self.actions.iter().find(|a| a.name == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Not tested yet.
    Untested,
    /// Its last test or use succeeded.
    Working,
    /// Its last test or use failed: `last_error` says how.
    Failing,
}

/// A connection as stored: its credentials sealed under the workspace's own key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredConnection {
    pub id: String,
    pub connector_id: String,
    pub name: String,
    pub base_url: Option<String>,
    /// The credentials (a JSON object of strings), sealed.
    pub sealed_credentials: String,
    pub credential_fields: Vec<String>,
    pub status: ConnectionStatus,
    pub last_tested_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

resource!(StoredConnection, CONNECTION, ConnectionNotFound);

/// A connection as the API shows it: never its credentials.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Connection {
    #[schema(example = "cxn_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: ConnectionObject,
    #[schema(example = "hubspot")]
    pub connector_id: String,
    #[schema(example = "Our HubSpot")]
    pub name: String,
    pub base_url: Option<String>,
    /// The names of the credentials it holds (their values are never shown).
    pub credential_fields: Vec<String>,
    pub status: ConnectionStatus,
    pub last_tested_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl StoredConnection {
    pub fn view(&self) -> Connection {
        Connection {
            id: self.id.clone(),
            object: ConnectionObject,
            connector_id: self.connector_id.clone(),
            name: self.name.clone(),
            base_url: self.base_url.clone(),
            credential_fields: self.credential_fields.clone(),
            status: self.status,
            last_tested_at: self.last_tested_at,
            last_error: self.last_error.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// The answer to testing a connection.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConnectionTest {
    pub object: ConnectionTestObject,
    pub ok: bool,
    /// The API's HTTP status, when it answered.
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
    pub connection: Connection,
}
