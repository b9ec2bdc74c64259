//! Automation: connectors (built-in and custom) and connections, whose credentials are sealed,
//! never shown, and used against a local receiver playing the outside API.

use serde_json::{Value, json};
use switchboard_tests::fake::FakeServer;
use switchboard_tests::{Tenant, TestApp};

async fn connection(app: &TestApp, t: &Tenant, body: Value) -> switchboard_tests::Res {
    app.post("/v1/connections").bearer(&t.key).json(body).send().await
}

/// A custom connector to `base_url`, authenticating with an API-key header.
async fn custom_connector(app: &TestApp, t: &Tenant, base_url: &str) -> String {
    app.create(
        t,
        "/v1/connectors",
        json!({"name": "Clinic CRM", "base_url": base_url,
               "auth": {"type": "api_key_header", "header": "x-api-key"},
               "actions": [
                   {"name": "ping", "method": "GET", "path": "/ping"},
                   {"name": "log_call", "method": "POST", "path": "/calls/{{input.phone}}",
                    "body": {"outcome": "{{input.outcome}}", "note": "Outcome: {{input.outcome}}"},
                    "outputs": {"id": "/id"}}],
               "test_action": "ping"}),
    )
    .await
}

#[tokio::test]
async fn the_catalogue_lists_built_in_connectors_then_the_workspaces_own() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let mine = custom_connector(&app, &t, "https://crm.example.com/api").await;
    let listed = app.get("/v1/connectors").bearer(&t.key).send().await;
    listed.expect(200);
    let ids: Vec<&str> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["http", "chat_webhook", "hubspot", "pipedrive", mine.as_str()]);
    let hubspot = app.get("/v1/connectors/hubspot").bearer(&t.key).send().await;
    hubspot.expect(200);
    assert_eq!(hubspot.body["auth"], json!({"type": "bearer"}));
    assert_eq!(hubspot.body["kind"], "built_in");
    app.put("/v1/connectors/hubspot")
        .bearer(&t.key)
        .json(json!({"name": "x", "base_url": "https://x.example.com", "auth": {"type": "none"}}))
        .send()
        .await
        .expect_error(409, "built_in_connector");
    app.delete("/v1/connectors/hubspot")
        .bearer(&t.key)
        .send()
        .await
        .expect_error(409, "built_in_connector");
    // Another workspace sees the built-ins, never this one's own.
    let other = app.tenant().await;
    let theirs = app.get("/v1/connectors").bearer(&other.key).send().await;
    assert!(!theirs.text.contains(&mine));
    app.get(&format!("/v1/connectors/{mine}"))
        .bearer(&other.key)
        .send()
        .await
        .expect_error(404, "connector_not_found");
}

#[tokio::test]
async fn a_connection_uses_its_sealed_credentials_and_shows_them_nowhere() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let receiver = FakeServer::start(|request, _| match request.header("x-api-key") {
        Some(key) if key.starts_with("crm-") => (200, "application/json", r#"{"ok": true}"#.into()),
        _ => (401, "application/json", r#"{"error": "bad key"}"#.into()),
    })
    .await;
    let connector = custom_connector(&app, &t, &receiver.url).await;
    let secret = format!("crm-{}", rand::random::<u64>());
    let created = connection(
        &app,
        &t,
        json!({"connector_id": connector, "name": "Clinic CRM", "credentials": {"api_key": secret}}),
    )
    .await;
    created.expect(201);
    assert_eq!(created.body["credential_fields"], json!(["api_key"]));
    assert_eq!(created.body["status"], "untested");
    let id = created.id().to_owned();

    let tested = app
        .post(&format!("/v1/connections/{id}/test"))
        .bearer(&t.key)
        .send()
        .await;
    tested.expect(200);
    assert_eq!(
        (&tested.body["ok"], &tested.body["status_code"]),
        (&json!(true), &json!(200)),
        "{}",
        tested.text
    );
    assert_eq!(tested.body["connection"]["status"], "working");
    let sent = receiver.requests();
    assert_eq!((sent[0].method.as_str(), sent[0].path.as_str()), ("GET", "/ping"));
    assert_eq!(sent[0].header("x-api-key"), Some(secret.as_str()));

    let listed = app.get("/v1/connections").bearer(&t.key).send().await;
    let fetched = app.get(&format!("/v1/connections/{id}")).bearer(&t.key).send().await;
    let audit = app.get("/v1/audit").bearer(&t.key).send().await;
    for text in [&created.text, &tested.text, &listed.text, &fetched.text, &audit.text] {
        assert!(!text.contains(&secret), "{text}");
    }
    for item in app.whole_table().await {
        assert!(!item.contains(&secret), "{item}");
    }
}

#[tokio::test]
async fn a_failing_test_is_recorded_without_the_apis_echo_of_a_credential() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let receiver = FakeServer::start(|request, _| {
        let echoed = request.header("authorization").unwrap_or_default().to_owned();
        (403, "application/json", format!(r#"{{"error": "refused {echoed}"}}"#))
    })
    .await;
    let created = connection(
        &app,
        &t,
        json!({"connector_id": "http", "name": "Echo", "base_url": receiver.url, "credentials": {}}),
    )
    .await;
    created.expect(201);
    let tested = app
        .post(&format!("/v1/connections/{}/test", created.id()))
        .bearer(&t.key)
        .send()
        .await;
    tested.expect(200);
    assert_eq!(
        (&tested.body["ok"], &tested.body["status_code"]),
        (&json!(false), &json!(403))
    );
    assert_eq!(tested.body["connection"]["status"], "failing");
    assert!(tested.body["error"].as_str().unwrap().contains("403"));

    // A bearer connection whose API echoes the token back: the token is redacted.
    let bearer = app
        .create(
            &t,
            "/v1/connectors",
            json!({"name": "Echo bearer", "base_url": receiver.url, "auth": {"type": "bearer"}}),
        )
        .await;
    let token = format!("tok-{}", rand::random::<u64>());
    let made = connection(
        &app,
        &t,
        json!({"connector_id": bearer, "name": "B", "credentials": {"token": token}}),
    )
    .await;
    let tested = app
        .post(&format!("/v1/connections/{}/test", made.id()))
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(tested.body["ok"], false);
    assert!(!tested.text.contains(&token), "{}", tested.text);
    for item in app.whole_table().await {
        assert!(!item.contains(&token), "{item}");
    }
}

#[tokio::test]
async fn connectors_and_connections_refuse_bad_input_and_write_nothing() {
    let app = TestApp::unlimited().await;
    let t = app.tenant().await;
    let before = app.snapshot(&t.workspace_id).await;
    let base = json!({"name": "CRM", "base_url": "https://crm.example.com", "auth": {"type": "bearer"}});
    let with = |patch: Value| {
        let mut body = base.clone();
        body.as_object_mut().unwrap().extend(patch.as_object().unwrap().clone());
        body
    };
    for (body, status, code, param) in [
        (
            with(json!({"base_url": "http://crm.example.com"})),
            400,
            "invalid_value",
            "base_url",
        ),
        (
            with(json!({"base_url": "ftp://crm.example.com"})),
            400,
            "invalid_value",
            "base_url",
        ),
        (
            with(json!({"auth": {"type": "magic"}})),
            400,
            "invalid_type",
            "auth.type",
        ),
        (
            with(json!({"auth": {"type": "webhook_url"}})),
            400,
            "invalid_value",
            "auth.type",
        ),
        (
            with(json!({"auth": {"type": "api_key_header", "header": "bad header"}})),
            400,
            "invalid_value",
            "auth.header",
        ),
        (
            with(
                json!({"actions": [{"name": "a", "method": "GET", "path": "/x"}, {"name": "a", "method": "GET", "path": "/y"}]}),
            ),
            422,
            "validation_failed",
            "actions[1].name",
        ),
        (
            with(
                json!({"actions": [{"name": "a", "method": "POST", "path": "/x", "body": {"v": "{{trigger.data}}"}}]}),
            ),
            422,
            "validation_failed",
            "actions[0].body.v",
        ),
        (
            with(json!({"actions": [{"name": "a", "method": "POST", "path": "/x/{{input.id"}]})),
            422,
            "validation_failed",
            "actions[0].path",
        ),
        (
            with(json!({"actions": [{"name": "a", "method": "FETCH", "path": "/x"}]})),
            400,
            "invalid_type",
            "actions[0].method",
        ),
        (
            with(json!({"test_action": "nope"})),
            422,
            "validation_failed",
            "test_action",
        ),
        (with(json!({"colour": "red"})), 400, "unknown_field", "colour"),
    ] {
        let res = app.post("/v1/connectors").bearer(&t.key).json(body).send().await;
        res.expect_error(status, code);
        assert_eq!(res.param(), param, "{}", res.text);
    }
    for (body, status, code, param) in [
        (
            json!({"connector_id": "nope", "name": "x"}),
            404,
            "connector_not_found",
            "connector_id",
        ),
        (
            json!({"connector_id": "hubspot", "name": "x"}),
            400,
            "missing_field",
            "credentials.token",
        ),
        (
            json!({"connector_id": "hubspot", "name": "x", "credentials": {"token": "t", "password": "p"}}),
            400,
            "unknown_field",
            "credentials.password",
        ),
        (
            json!({"connector_id": "http", "name": "x"}),
            400,
            "missing_field",
            "base_url",
        ),
        (
            json!({"connector_id": "hubspot", "name": "x", "base_url": "https://x.example.com", "credentials": {"token": "t"}}),
            400,
            "unknown_field",
            "base_url",
        ),
        (
            json!({"connector_id": "chat_webhook", "name": "x", "credentials": {"url": "http://hooks.example.com/in"}}),
            400,
            "invalid_value",
            "credentials.url",
        ),
        (
            json!({"connector_id": "hubspot", "name": "", "credentials": {"token": "t"}}),
            422,
            "validation_failed",
            "name",
        ),
    ] {
        let res = app.post("/v1/connections").bearer(&t.key).json(body).send().await;
        res.expect_error(status, code);
        assert_eq!(res.param(), param, "{}", res.text);
    }
    assert_eq!(app.snapshot(&t.workspace_id).await, before);

    // A connector in use stays until its connections go.
    let connector = custom_connector(&app, &t, "https://crm.example.com").await;
    let made = connection(
        &app,
        &t,
        json!({"connector_id": connector, "name": "c", "credentials": {"api_key": "k"}}),
    )
    .await;
    made.expect(201);
    let path = format!("/v1/connectors/{connector}");
    app.delete(&path)
        .bearer(&t.key)
        .send()
        .await
        .expect_error(409, "connector_in_use");
    // Nor does it move its connections' credentials to another host; a new path on the same
    // host is fine.
    let definition = |base_url: &str| {
        json!({"name": "Clinic CRM", "base_url": base_url,
               "auth": {"type": "api_key_header", "header": "x-api-key"},
               "actions": [{"name": "ping", "method": "GET", "path": "/ping"}]})
    };
    let replace = |path: String, body: Value| app.put(&path).bearer(&t.key).json(body).send();
    replace(path.clone(), definition("https://crm.example.com/v2"))
        .await
        .expect(200);
    let oauth = |token_url: &str| {
        json!({"name": "Ledger", "base_url": "https://ledger.example.com",
               "auth": {"type": "oauth2_client_credentials", "token_url": token_url},
               "actions": [{"name": "ping", "method": "GET", "path": "/ping"}]})
    };
    let ledger = app
        .create(&t, "/v1/connectors", oauth("https://ledger.example.com/token"))
        .await;
    connection(
        &app,
        &t,
        json!({"connector_id": ledger, "name": "l", "credentials": {"client_id": "i", "client_secret": "s"}}),
    )
    .await
    .expect(201);
    let before = app.snapshot(&t.workspace_id).await;
    for (path, body) in [
        (path.clone(), definition("https://collector.example.net")),
        (path.clone(), definition("https://crm.example.com:8443/v2")),
        (
            format!("/v1/connectors/{ledger}"),
            oauth("https://collector.example.net/token"),
        ),
    ] {
        replace(path, body).await.expect_error(409, "connector_in_use");
    }
    assert_eq!(app.snapshot(&t.workspace_id).await, before);
    app.delete(&format!("/v1/connections/{}", made.id()))
        .bearer(&t.key)
        .send()
        .await
        .expect(200);
    app.delete(&path).bearer(&t.key).send().await.expect(200);
}
