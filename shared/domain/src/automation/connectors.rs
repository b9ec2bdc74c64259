//! The built-in connectors, and how a connection makes a connector's request: the URL, the
//! body and the credentials' headers, through the outbound HTTP port (which refuses private
//! addresses in production, as webhook deliveries do).

use std::collections::BTreeMap;
use std::time::Instant;

use base64::Engine;
use serde_json::{Value, json};
use switchboard_core::StoreError;
use switchboard_core::model::{
    Connector, ConnectorAction, ConnectorAuth, ConnectorKind, ConnectorObject, HttpMethod, StoredConnection,
};
use switchboard_core::ports::{OutboundHttp, OutboundRequest, Repository};

use super::template;
use crate::sealing::WorkspaceKeys;

fn built_in(
    id: &str,
    name: &str,
    description: &str,
    base_url: Option<&str>,
    auth: ConnectorAuth,
    actions: Vec<ConnectorAction>,
    test_action: Option<&str>,
) -> Connector {
    Connector {
        id: id.to_owned(),
        object: ConnectorObject,
        kind: ConnectorKind::BuiltIn,
        name: name.to_owned(),
        description: Some(description.to_owned()),
        base_url: base_url.map(str::to_owned),
        auth,
        actions,
        test_action: test_action.map(str::to_owned),
        created_at: None,
        updated_at: None,
    }
}

fn action(
    name: &str,
    method: HttpMethod,
    path: &str,
    body: Option<Value>,
    outputs: &[(&str, &str)],
) -> ConnectorAction {
    ConnectorAction {
        name: name.to_owned(),
        method,
        path: path.to_owned(),
        body,
        outputs: outputs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

/// The connectors every workspace has.
pub fn built_ins() -> Vec<Connector> {
    vec![
        built_in(
            "http",
            "HTTP request",
            "Any JSON API at the connection's base URL, without credentials (make a custom connector for one that needs them).",
            None,
            ConnectorAuth::None,
            vec![
                action("get", HttpMethod::Get, "{{input.path}}", None, &[]),
                action(
                    "post",
                    HttpMethod::Post,
                    "{{input.path}}",
                    Some(json!("{{input.body}}")),
                    &[],
                ),
            ],
            None,
        ),
        built_in(
            "chat_webhook",
            "Chat incoming webhook",
            "Posts a message to a Slack, Microsoft Teams or Google Chat incoming webhook; the webhook's URL is the connection's credential.",
            None,
            ConnectorAuth::WebhookUrl,
            vec![action(
                "post_message",
                HttpMethod::Post,
                "",
                Some(json!({"text": "{{input.text}}"})),
                &[],
            )],
            None,
        ),
        built_in(
            "hubspot",
            "HubSpot CRM",
            "Contacts in HubSpot, with a private app's access token.",
            Some("https://api.hubapi.com"),
            ConnectorAuth::Bearer,
            vec![
                action(
                    "create_contact",
                    HttpMethod::Post,
                    "/crm/v3/objects/contacts",
                    Some(json!({"properties": "{{input.properties}}"})),
                    &[("id", "/id")],
                ),
                action(
                    "update_contact",
                    HttpMethod::Patch,
                    "/crm/v3/objects/contacts/{{input.contact_id}}",
                    Some(json!({"properties": "{{input.properties}}"})),
                    &[("id", "/id")],
                ),
                action(
                    "list_contacts",
                    HttpMethod::Get,
                    "/crm/v3/objects/contacts?limit=1",
                    None,
                    &[],
                ),
            ],
            Some("list_contacts"),
        ),
        built_in(
            "pipedrive",
            "Pipedrive CRM",
            "People and notes in Pipedrive, with an API token.",
            Some("https://api.pipedrive.com/v1"),
            ConnectorAuth::ApiKeyHeader {
                header: "x-api-token".into(),
            },
            vec![
                action(
                    "create_person",
                    HttpMethod::Post,
                    "/persons",
                    Some(json!({"name": "{{input.name}}", "phone": "{{input.phone}}"})),
                    &[("id", "/data/id")],
                ),
                action(
                    "add_note",
                    HttpMethod::Post,
                    "/notes",
                    Some(json!({"content": "{{input.content}}", "person_id": "{{input.person_id}}"})),
                    &[("id", "/data/id")],
                ),
                action("me", HttpMethod::Get, "/users/me", None, &[]),
            ],
            Some("me"),
        ),
    ]
}

/// Where a connector sends its connections' credentials: the origins (scheme, host, port) of
/// its base URL and, for OAuth, of its token URL.
pub fn credential_origins(connector: &Connector) -> [Option<String>; 2] {
    let origin = |raw: &str| url::Url::parse(raw).ok().map(|url| url.origin().ascii_serialization());
    let token_url = match &connector.auth {
        ConnectorAuth::Oauth2ClientCredentials { token_url, .. } => origin(token_url),
        _ => None,
    };
    [connector.base_url.as_deref().and_then(origin), token_url]
}

/// The built-in connector `id`.
pub fn built_in_connector(id: &str) -> Option<Connector> {
    built_ins().into_iter().find(|c| c.id == id)
}

/// The connector `id` of the workspace: built in, or one of its own.
pub async fn find(
    connectors: &dyn Repository<Connector>,
    workspace_id: &str,
    id: &str,
) -> Result<Option<Connector>, StoreError> {
    if let Some(built_in) = built_in_connector(id) {
        return Ok(Some(built_in));
    }
    if !switchboard_core::ids::is_valid(switchboard_core::ids::prefix::CONNECTOR, id) {
        return Ok(None);
    }
    Ok(connectors.get(workspace_id, id).await?.map(|found| found.value))
}

/// A connection's credentials, opened with its workspace's key; `None` when they do not open.
pub fn open_credentials(
    keys: &WorkspaceKeys,
    workspace_id: &str,
    connection: &StoredConnection,
) -> Option<BTreeMap<String, String>> {
    let json = keys.of(workspace_id).open(&connection.sealed_credentials).ok()?;
    serde_json::from_str(&json).ok()
}

/// What a connection brings to its connector's requests.
pub struct Access<'a> {
    pub base_url: Option<&'a str>,
    pub credentials: &'a BTreeMap<String, String>,
}

/// What an action's request answered.
#[derive(Debug, Clone)]
pub struct ActionResult {
    pub status: u16,
    /// The outputs the action names, picked from the JSON answer (or the whole answer).
    pub output: Value,
    pub latency_ms: u64,
}

/// Why an action's request failed: its answer's status when one came, and a few words.
#[derive(Debug, Clone)]
pub struct ActionError {
    pub status: Option<u16>,
    pub message: String,
    pub latency_ms: u64,
    /// Whether trying again may succeed: not for a request that cannot be made as written.
    pub retryable: bool,
}

/// Runs `action` of `connector` through `access` with `input`; `idempotency_key`, when given,
/// goes in an `Idempotency-Key` header, the same for every attempt of one step.
pub async fn call(
    http: &dyn OutboundHttp,
    connector: &Connector,
    access: &Access<'_>,
    action: Option<&ConnectorAction>,
    input: &Value,
    idempotency_key: Option<&str>,
) -> Result<ActionResult, ActionError> {
    let started = Instant::now();
    let fail = |status, message: String, retryable| ActionError {
        status,
        message,
        latency_ms: started.elapsed().as_millis() as u64,
        retryable,
    };
    let token = match &connector.auth {
        ConnectorAuth::Oauth2ClientCredentials { token_url, scope } => Some(
            client_credentials_token(http, access, token_url, scope.as_deref())
                .await
                .map_err(|message| fail(None, message, true))?,
        ),
        _ => None,
    };
    let request = prepare(connector, access, action, input, token, idempotency_key)
        .map_err(|message| fail(None, message, false))?;
    // What an API echoes of the credentials (or of the headers made from them) is never kept,
    // in an error or in an answer.
    let secrets: Vec<String> = access
        .credentials
        .values()
        .cloned()
        .chain(
            request
                .headers
                .iter()
                .filter(|(name, _)| is_credential_header(connector, name))
                .map(|(_, v)| v.clone()),
        )
        .filter(|secret| secret.len() >= 4)
        .collect();
    let redacted = |text: String| {
        secrets
            .iter()
            .fold(text, |text, secret| text.replace(secret.as_str(), "[redacted]"))
    };
    let answer = http
        .send(request)
        .await
        .map_err(|message| fail(None, redacted(message), true))?;
    if !(200..300).contains(&answer.status) {
        let excerpt: String = answer.body.chars().take(200).collect();
        return Err(fail(
            Some(answer.status),
            redacted(format!("the API answered {}: {excerpt}", answer.status)),
            true,
        ));
    }
    let body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    let output = match action {
        Some(action) if !action.outputs.is_empty() => Value::Object(
            action
                .outputs
                .iter()
                .map(|(name, pointer)| (name.clone(), body.pointer(pointer).cloned().unwrap_or(Value::Null)))
                .collect(),
        ),
        _ => body,
    };
    Ok(ActionResult {
        status: answer.status,
        output: redact_strings(output, &redacted),
        latency_ms: started.elapsed().as_millis() as u64,
    })
}

/// `value` with `redact` applied to every string in it, keys included.
fn redact_strings(value: Value, redact: &impl Fn(String) -> String) -> Value {
    match value {
        Value::String(text) => Value::String(redact(text)),
        Value::Array(items) => Value::Array(items.into_iter().map(|item| redact_strings(item, redact)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(key, item)| (redact(key), redact_strings(item, redact)))
                .collect(),
        ),
        other => other,
    }
}

/// Whether `name` is a header that carries the connection's credentials.
fn is_credential_header(connector: &Connector, name: &str) -> bool {
    match &connector.auth {
        ConnectorAuth::ApiKeyHeader { header } => header.eq_ignore_ascii_case(name),
        ConnectorAuth::None | ConnectorAuth::WebhookUrl => false,
        _ => name == "authorization",
    }
}

fn credential<'a>(access: &'a Access<'_>, name: &str) -> Result<&'a str, String> {
    access
        .credentials
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| format!("the connection has no `{name}`"))
}

/// The request of `action` (a GET of the base URL when none): URL, headers and body.
fn prepare(
    connector: &Connector,
    access: &Access<'_>,
    action: Option<&ConnectorAction>,
    input: &Value,
    token: Option<String>,
    idempotency_key: Option<&str>,
) -> Result<OutboundRequest, String> {
    let base = match &connector.auth {
        ConnectorAuth::WebhookUrl => credential(access, "url")?,
        _ => connector
            .base_url
            .as_deref()
            .or(access.base_url)
            .ok_or("the connection has no base URL")?,
    };
    let scope = json!({ "input": input });
    let path = match action {
        Some(action) => template::render_text(&action.path, &scope, |value| {
            // Values fill path segments and query values; `/` and `?` in a path given whole
            // (the HTTP connector's `input.path`) stay as they are.
            if action.path.trim() == "{{input.path}}" {
                value.to_owned()
            } else {
                form_urlencoded::byte_serialize(value.as_bytes()).collect()
            }
        })?,
        None => String::new(),
    };
    // What follows the base URL stays below it: a path or a query, never a longer host name
    // (`.example.net`) or another authority.
    if !(path.is_empty() || path.starts_with('/') || path.starts_with('?')) || path.starts_with("//") {
        return Err(format!("`{path}` is not a path: it starts with `/` (or `?`)"));
    }
    let url = format!("{}{}", base.trim_end_matches('/'), path);
    let mut headers = vec![("accept".to_owned(), "application/json".to_owned())];
    match &connector.auth {
        ConnectorAuth::None | ConnectorAuth::WebhookUrl => {}
        ConnectorAuth::ApiKeyHeader { header } => {
            headers.push((header.clone(), credential(access, "api_key")?.to_owned()))
        }
        ConnectorAuth::Bearer => headers.push((
            "authorization".into(),
            format!("Bearer {}", credential(access, "token")?),
        )),
        ConnectorAuth::Basic => {
            let pair = format!(
                "{}:{}",
                credential(access, "username")?,
                credential(access, "password")?
            );
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            headers.push(("authorization".into(), format!("Basic {encoded}")));
        }
        ConnectorAuth::Oauth2ClientCredentials { .. } => {
            let token = token.ok_or("no token was bought")?;
            headers.push(("authorization".into(), format!("Bearer {token}")));
        }
    }
    if let Some(key) = idempotency_key {
        headers.push(("idempotency-key".into(), key.to_owned()));
    }
    let body = match action.and_then(|a| a.body.as_ref()) {
        Some(body) => {
            headers.push(("content-type".into(), "application/json".into()));
            Some(serde_json::to_vec(&template::render(body, &scope)?).unwrap_or_default())
        }
        None => None,
    };
    Ok(OutboundRequest {
        method: action.map_or(HttpMethod::Get, |a| a.method),
        url,
        headers,
        body,
    })
}

/// A token bought with the connection's client id and secret (RFC 6749 §4.4).
async fn client_credentials_token(
    http: &dyn OutboundHttp,
    access: &Access<'_>,
    token_url: &str,
    scope: Option<&str>,
) -> Result<String, String> {
    let form = {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials");
        form.append_pair("client_id", credential(access, "client_id")?);
        form.append_pair("client_secret", credential(access, "client_secret")?);
        if let Some(scope) = scope {
            form.append_pair("scope", scope);
        }
        form.finish()
    };
    let answer = http
        .send(OutboundRequest {
            method: HttpMethod::Post,
            url: token_url.to_owned(),
            headers: vec![
                ("content-type".into(), "application/x-www-form-urlencoded".into()),
                ("accept".into(), "application/json".into()),
            ],
            body: Some(form.into_bytes()),
        })
        .await?;
    if !(200..300).contains(&answer.status) {
        return Err(format!("the token endpoint answered {}", answer.status));
    }
    serde_json::from_str::<Value>(&answer.body)
        .ok()
        .and_then(|body| body["access_token"].as_str().map(str::to_owned))
        .ok_or_else(|| "the token endpoint's answer has no access_token".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::ports::OutboundResponse;

    /// An API that answers 200 with the request's headers.
    struct Echo;

    #[async_trait::async_trait]
    impl OutboundHttp for Echo {
        async fn check_destination(&self, url: &str) -> Result<String, String> {
            Ok(url.to_owned())
        }

        async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, String> {
            let headers: BTreeMap<String, String> = request.headers.into_iter().collect();
            Ok(OutboundResponse {
                status: 200,
                body: json!({"seen": headers, "nested": [{"again": headers.get("authorization")}]}).to_string(),
            })
        }
    }

    #[tokio::test]
    async fn an_answer_echoing_a_credential_is_kept_without_it() {
        let mut connector = built_in_connector("http").unwrap();
        connector.auth = ConnectorAuth::Bearer;
        let credentials = BTreeMap::from([("token".to_owned(), "tok-echoed-back".to_owned())]);
        let access = Access {
            base_url: Some("https://api.example.com"),
            credentials: &credentials,
        };
        let answer = call(&Echo, &connector, &access, None, &Value::Null, None)
            .await
            .unwrap();
        let kept = answer.output.to_string();
        assert!(kept.contains("[redacted]"), "{kept}");
        assert!(!kept.contains("tok-echoed-back"), "{kept}");
    }
}
