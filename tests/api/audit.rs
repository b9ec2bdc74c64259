//! The audit log: one entry per successful change, written with the change, naming who, what,
//! when and from where, never a secret; filtered and paged; immutable; kept for the plan's
//! retention.

use http::Method;
use serde_json::{Value, json};
use switchboard_http::Access;
use switchboard_http::openapi::RouteInfo;
use switchboard_tests::{Res, Tenant, TestApp, phone_ending, unique_phone};

use crate::isolation::{make, routes};

/// The audit entries of the workspace, newest first.
async fn entries(app: &TestApp, t: &Tenant) -> Vec<Value> {
    let mut all = Vec::new();
    let mut path = "/v1/audit?limit=200".to_owned();
    loop {
        let page = app.get(&path).bearer(&t.key).send().await;
        page.expect(200);
        all.extend(page.body["data"].as_array().unwrap().iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/audit?limit=200&cursor={cursor}"),
            None => return all,
        }
    }
}

/// A successful request on `route`, with what it needs made first: the path, the body and
/// the credential. Routes a generic request cannot succeed on have their own case.
async fn successful(app: &TestApp, t: &Tenant, route: &RouteInfo) -> (String, Option<Value>, String) {
    let bearer = match route.access {
        Access::Session(_) => t.token.clone(),
        _ => t.key.clone(),
    };
    let example = route.doc.example.map(|example| example());
    let id_of = async |path: &str| make(app, t, path).await;
    let at = |id: &str| route.path.replace("{id}", id);
    let (path, body) = match (route.method.as_str(), route.path) {
        ("POST", "/v1/calls") => {
            let (agent, number, _) = app.phone_line(t).await;
            let body = json!({"agent_id": agent, "phone_number_id": number, "to": phone_ending("0142")});
            (route.path.to_owned(), Some(body))
        }
        ("POST", "/v1/appointments") => {
            let contact = app.create(t, "/v1/contacts", json!({"phone": unique_phone()})).await;
            let start = chrono::DateTime::<chrono::Utc>::from_timestamp(1_899_990_000, 0).unwrap();
            let body = json!({"contact_id": contact, "start_time": start,
                              "end_time": start + chrono::Duration::minutes(30), "title": "audited"});
            (route.path.to_owned(), Some(body))
        }
        ("POST", "/v1/campaigns") => {
            let (agent, number, _) = app.phone_line(t).await;
            let mut body = example.unwrap();
            body["agent_id"] = json!(agent);
            body["phone_number_id"] = json!(number);
            (route.path.to_owned(), Some(body))
        }
        ("POST", "/v1/campaigns/{id}/start") => {
            let (agent, number, _) = app.phone_line(t).await;
            let campaign = app
                .ready_campaign(t, (&agent, &number), 1, &[phone_ending("0143")])
                .await;
            (at(&campaign), example)
        }
        ("POST", "/v1/campaigns/{id}/pause" | "/v1/campaigns/{id}/resume") => {
            let (agent, number, _) = app.phone_line(t).await;
            let campaign = app
                .ready_campaign(t, (&agent, &number), 1, &[phone_ending("0144")])
                .await;
            let start = format!("/v1/campaigns/{campaign}/start");
            app.post(&start).bearer(&t.key).send().await.expect(200);
            if route.path.ends_with("resume") {
                let pause = format!("/v1/campaigns/{campaign}/pause");
                app.post(&pause).bearer(&t.key).send().await.expect(200);
            }
            (at(&campaign), example)
        }
        ("DELETE", "/v1/api-keys/{id}") => {
            let key = id_of(route.path).await;
            let revoke = format!("/v1/api-keys/{key}/revoke");
            app.post(&revoke).bearer(&t.token).send().await.expect(200);
            (at(&key), None)
        }
        ("DELETE", "/v1/dnc/{phone_e164}") => {
            let phone = unique_phone();
            app.post("/v1/dnc")
                .bearer(&t.key)
                .json(json!({"phone_e164": phone}))
                .send()
                .await
                .expect(201);
            (route.path.replace("{phone_e164}", &phone), None)
        }
        ("POST", "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver") => {
            let webhook = id_of("/v1/webhooks/").await;
            let test = app
                .post(&format!("/v1/webhooks/{webhook}/test"))
                .bearer(&t.key)
                .send()
                .await;
            test.expect(201);
            let delivery = test.id().to_owned();
            (at(&webhook).replace("{delivery_id}", &delivery), None)
        }
        ("POST", "/v1/agents/{id}/messages") => {
            let mut body = example.unwrap();
            body.as_object_mut().unwrap().remove("contact_id");
            (at(&id_of(route.path).await), Some(body))
        }
        ("POST", "/v1/billing/autocharge") => {
            // A paid top-up saves the card auto-charge needs.
            let topup = app
                .post("/v1/billing/topup")
                .bearer(&t.key)
                .json(json!({"amount_minor": 500}))
                .send()
                .await;
            topup.expect(201);
            app.deliver_payments().await;
            (route.path.to_owned(), example)
        }
        ("POST", "/v1/numbers/provision" | "/v1/numbers/import") => {
            let mut body = example.unwrap();
            body.as_object_mut().unwrap().remove("agent_id");
            // Numbers are unique across workspaces, and the table outlives one run.
            body["phone_number"] = json!(unique_phone());
            (route.path.to_owned(), Some(body))
        }
        ("POST", "/v1/telephony/simulator/inbound-calls") => {
            let (_, _, number) = app.phone_line(t).await;
            let mut body = example.unwrap();
            body["to"] = json!(number);
            (route.path.to_owned(), Some(body))
        }
        ("POST", "/v1/campaigns/{id}/regenerate-rule-book") => {
            let campaign = switchboard_tests::draft_campaign(
                app,
                t,
                json!({"nl_prompt": "Remind patients of their check-up; offer to book one."}),
            )
            .await;
            (at(&campaign), example)
        }
        ("POST", "/v1/auth/sessions/revoke-others") => {
            app.login(&t.email, &t.password).await;
            (route.path.to_owned(), example)
        }
        ("POST", "/v1/auth/logout") => {
            let fresh = app.login(&t.email, &t.password).await;
            let token = fresh.body["token"].as_str().unwrap().to_owned();
            return (route.path.to_owned(), None, token);
        }
        ("POST", "/v1/auth/change-password") => {
            let member = app.invite_member(t, "member").await;
            let body = json!({"current_password": member.password, "new_password": "another long password"});
            return (route.path.to_owned(), Some(body), member.token);
        }
        // The workspace stays on the platform's accounts: the routes after this one call through them.
        ("PUT", "/v1/onboarding/mode") => (route.path.to_owned(), Some(json!({"mode": "bundled"}))),
        ("PUT", "/v1/onboarding/credentials/{provider}") => (route.path.replace("{provider}", "twilio"), example),
        ("DELETE", "/v1/onboarding/credentials/{provider}") => {
            let path = route.path.replace("{provider}", "anthropic");
            app.put(&path)
                .bearer(&t.key)
                .json(json!({"api_key": "test_audited_model_key"}))
                .send()
                .await
                .expect(200);
            (path, None)
        }
        ("POST", "/v1/workflows") | ("PUT", "/v1/workflows/{id}") => {
            let connection = app
                .create(
                    t,
                    "/v1/connections",
                    json!({"connector_id": "chat_webhook", "name": "chat",
                           "credentials": {"url": "https://hooks.example.com/services/x"}}),
                )
                .await;
            let mut body = example.unwrap();
            body["steps"][1]["connection_id"] = json!(connection);
            let path = match route.path.contains("{id}") {
                true => at(&id_of(route.path).await),
                false => route.path.to_owned(),
            };
            (path, Some(body))
        }
        ("POST", "/v1/triggers") => {
            let workflow = id_of("/v1/workflows/{id}").await;
            let mut body = example.unwrap();
            body["workflow_id"] = json!(workflow);
            (route.path.to_owned(), Some(body))
        }
        (_, path) if path.contains("{id}") => (at(&id_of(path).await), example),
        _ => (route.path.to_owned(), example),
    };
    (path, body, bearer)
}

/// Walks the route table: every route that changes something, called successfully, leaves
/// exactly one entry naming its credential, action, resource and request, written in the
/// change's own DynamoDB request; no entry holds a secret the requests sent or received.
#[tokio::test]
async fn every_successful_change_leaves_one_audit_entry_without_secrets() {
    let app = TestApp::unlimited().await;
    let t = app.tenant().await;
    let mut secrets = vec![t.password.clone(), t.token.clone(), t.key.clone()];
    let mut checked = Vec::new();
    let mut failures = Vec::new();
    let mut alone = Vec::new();
    for route in routes() {
        if !route.audited || matches!(route.access, Access::Public | Access::PublicLimited) {
            continue;
        }
        let what = format!("{} {}", route.method, route.path);
        let (path, body, bearer) = successful(&app, &t, &route).await;
        let before = entries(&app, &t).await;
        let mut req = app.request(route.method.clone(), &path).bearer(&bearer);
        if let Some(body) = body.clone() {
            req = req.json(body);
        }
        app.ops.take();
        let res: Res = req.send().await;
        let operations = app.ops.take();
        if operations.iter().any(|op| op.ends_with("(audit entry)")) {
            alone.push(what.clone());
        }
        if !(200..300).contains(&res.status) {
            failures.push(format!("{what}: {} {}", res.status, res.text));
            continue;
        }
        secrets.extend(strings_named(&res.body, &["secret", "token", "signing_secret"]));
        if let Some(body) = &body {
            let named = [
                "password",
                "current_password",
                "new_password",
                "auth_token",
                "api_key",
                "value",
            ];
            secrets.extend(strings_named(body, &named));
        }

        let after = entries(&app, &t).await;
        // By id: an erasure rewrites earlier entries (pseudonymised), which are not new.
        let new: Vec<&Value> = after
            .iter()
            .filter(|e| !before.iter().any(|b| b["id"] == e["id"]))
            .collect();
        if new.len() != 1 {
            failures.push(format!("{what}: one entry, found {new:#?}"));
            continue;
        }
        let entry = new[0];
        let request_id = res.header("x-request-id").unwrap();
        assert_eq!(entry["request"]["request_id"], request_id, "{what}");
        assert_eq!(entry["request"]["method"], route.method.as_str(), "{what}");
        assert_eq!(entry["request"]["path"], path.as_str(), "{what}");
        assert!(entry["request"]["ip"].is_string(), "{what}");
        assert!(
            entry["actor"]["id"]
                .as_str()
                .unwrap()
                .starts_with(if bearer.starts_with("sb_") { "key_" } else { "usr_" })
        );
        // The resource: the one the path names, or the one the request created.
        let named = path.rsplit('/').find(|s| s.contains('_') || s.starts_with('+'));
        let created = (res.status == 201 && res.body["object"] == entry["resource"]["type"])
            .then(|| res.body.get("id").or(res.body.get("phone_e164")).cloned())
            .flatten();
        let expected = match (created, named) {
            (Some(id), _) => Some(id),
            (None, Some(segment)) if route.path.contains('{') => Some(json!(segment)),
            _ => None,
        };
        if expected.as_ref().is_some_and(|id| entry["resource"]["id"] != *id) {
            failures.push(format!("{what}: resource {expected:?} in {entry}"));
        }
        if let Some(Value::Object(fields)) = &body {
            let mut names: Vec<&String> = fields.keys().collect();
            names.sort();
            assert_eq!(entry["changes"], json!(names), "{what}");
        }
        checked.push(format!("{what} → {}", entry["action"].as_str().unwrap()));
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // The entry rides in its change's own request (a bulk import's in its first batch), except
    // where no write of ours makes the change: a checkout only the payment provider records,
    // and a number imported into the simulator (kept by its provisional claim alone).
    assert_eq!(alone, ["POST /v1/numbers/import", "POST /v1/billing/topup"]);
    assert!(checked.len() >= 50, "only {} routes: {checked:#?}", checked.len());

    let raw = app.snapshot(&t.workspace_id).await;
    let audit: Vec<&String> = raw
        .iter()
        .filter(|(k, _)| k.contains("#AUDIT|"))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(audit.len(), entries(&app, &t).await.len());
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        for item in &audit {
            assert!(!item.contains(secret.as_str()), "a secret in an audit entry: {item}");
        }
    }
}

/// Every string under a key named one of `names`, anywhere in `value`.
fn strings_named(value: &Value, names: &[&str]) -> Vec<String> {
    match value {
        Value::Object(fields) => fields
            .iter()
            .flat_map(|(k, v)| match v {
                Value::String(s) if names.contains(&k.as_str()) => vec![s.clone()],
                _ => strings_named(v, names),
            })
            .collect(),
        Value::Array(items) => items.iter().flat_map(|v| strings_named(v, names)).collect(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn the_log_filters_by_actor_resource_action_and_time_and_pages() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let agent = app
        .create(&t, "/v1/agents", json!({"name": "a", "system_prompt": "p"}))
        .await;
    app.request(Method::PATCH, &format!("/v1/agents/{agent}"))
        .bearer(&t.token)
        .json(json!({"name": "b"}))
        .send()
        .await
        .expect(200);
    app.create(&t, "/v1/contacts", json!({"phone": unique_phone()})).await;
    let earlier = app.clock.now();
    app.advance(chrono::Duration::hours(2)).await;
    app.request(Method::DELETE, &format!("/v1/agents/{agent}"))
        .bearer(&t.key)
        .send()
        .await
        .expect(200);

    let actions = async |query: &str| -> Vec<String> {
        let res = app.get(&format!("/v1/audit?{query}")).bearer(&t.key).send().await;
        res.expect(200);
        res.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect()
    };
    // The tenant's own API key was the first change.
    assert_eq!(
        actions("").await,
        [
            "agent.delete",
            "contact.create",
            "agent.update",
            "agent.create",
            "api_key.create"
        ]
    );
    assert_eq!(
        actions(&format!("actor={}", t.user_id)).await,
        ["agent.update", "api_key.create"]
    );
    assert_eq!(
        actions(&format!("actor={}", t.key_id)).await,
        ["agent.delete", "contact.create", "agent.create"]
    );
    assert_eq!(
        actions(&format!("resource_id={agent}")).await,
        ["agent.delete", "agent.update", "agent.create"]
    );
    assert_eq!(
        actions(&format!("resource_id={agent}&actor={}", t.user_id)).await,
        ["agent.update"]
    );
    assert_eq!(actions("resource_type=contact").await, ["contact.create"]);
    assert_eq!(actions("action=agent.delete").await, ["agent.delete"]);
    let stamp = |at: chrono::DateTime<chrono::Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(
        actions(&format!("to={}", stamp(earlier))).await,
        ["contact.create", "agent.update", "agent.create", "api_key.create"]
    );
    assert_eq!(
        actions(&format!("from={}", stamp(earlier + chrono::Duration::seconds(1)))).await,
        ["agent.delete"]
    );

    // Page by page, the filter kept by the cursor.
    let mut seen = Vec::new();
    let mut path = format!("/v1/audit?resource_id={agent}&limit=1");
    loop {
        let page = app.get(&path).bearer(&t.key).send().await;
        page.expect(200);
        seen.push(page.body["data"][0]["action"].as_str().unwrap().to_owned());
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/audit?resource_id={agent}&limit=1&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["agent.delete", "agent.update", "agent.create"]);

    app.get("/v1/audit?from=yesterday")
        .bearer(&t.key)
        .send()
        .await
        .expect_error(400, "invalid_parameter");
}

#[tokio::test]
async fn entries_are_immutable_and_leave_after_the_plans_retention() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    app.create(&t, "/v1/agents", json!({"name": "a", "system_prompt": "p"}))
        .await;
    let log = app.get("/v1/audit").bearer(&t.key).send().await;
    let entry = log.body["data"][0].clone();
    let id = entry["id"].as_str().unwrap();
    let one = app.get(&format!("/v1/audit/{id}")).bearer(&t.key).send().await;
    one.expect(200);
    assert_eq!(one.body, entry);
    for method in [Method::PATCH, Method::DELETE, Method::PUT, Method::POST] {
        app.request(method, &format!("/v1/audit/{id}"))
            .bearer(&t.key)
            .json(json!({"action": "nothing.happened"}))
            .send()
            .await
            .expect_error(405, "method_not_allowed");
    }
    app.get("/v1/audit/aud_01JD3QZ9R6X4Y7T2W8V5N1M0KA")
        .bearer(&t.key)
        .send()
        .await
        .expect_error(404, "audit_entry_not_found");

    let plan: switchboard_core::model::Plan =
        serde_json::from_value(app.get("/v1/auth/me").bearer(&t.token).send().await.body["workspace"]["plan"].clone())
            .unwrap();
    let occurred: chrono::DateTime<chrono::Utc> = serde_json::from_value(entry["occurred_at"].clone()).unwrap();
    let expires: chrono::DateTime<chrono::Utc> = serde_json::from_value(entry["expires_at"].clone()).unwrap();
    assert_eq!(expires - occurred, chrono::Duration::days(plan.audit_retention_days()));
    let item = app.raw_item(&format!("{}#AUDIT", t.workspace_id), id).await.unwrap();
    assert_eq!(item["ttl"].as_n().unwrap(), &expires.timestamp().to_string());
}

/// A refused change leaves nothing in the log; only owners and admins read it.
#[tokio::test]
async fn refused_changes_leave_no_entry_and_members_cannot_read_the_log() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    app.post("/v1/agents")
        .bearer(&t.key)
        .json(json!({"name": ""}))
        .send()
        .await
        .expect(422);
    let key = app.key(&t, "read").await;
    let keys = app.get("/v1/api-keys").bearer(&t.token).send().await;
    let read_key = keys.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["scope"] == "read")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.request(Method::DELETE, &format!("/v1/api-keys/{read_key}"))
        .bearer(&t.token)
        .send()
        .await
        .expect_error(409, "key_still_active");
    let log = app.get("/v1/audit").bearer(&t.key).send().await;
    let actions: Vec<&str> = log.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["api_key.create", "api_key.create"], "only the keys' creation");

    app.get("/v1/audit")
        .bearer(&key)
        .send()
        .await
        .expect_error(403, "insufficient_scope");
    let member = app.invite_member(&t, "member").await;
    app.get("/v1/audit")
        .bearer(&member.token)
        .send()
        .await
        .expect_error(403, "permission_denied");
}
