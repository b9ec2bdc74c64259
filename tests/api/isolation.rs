//! Tenant isolation, for every route that names a resource: another workspace's id is
//! "not found" for reading, changing and deleting, and never appears in a list.

use http::Method;
use serde_json::json;
use switchboard_http::openapi::RouteInfo;
use switchboard_http::{Access, acts_for_customers};
use switchboard_tests::{Req, Tenant, TestApp, phone_ending, unique_phone};

/// Every route of every function.
pub fn routes() -> Vec<RouteInfo> {
    switchboard_tests::all_routes()
        .into_iter()
        .flat_map(|(_, routes)| routes)
        .collect()
}

/// The lists of whole collections (lists inside a resource, such as an agent's messages, are
/// tested with the resource).
pub fn collections() -> Vec<RouteInfo> {
    routes()
        .into_iter()
        .filter(|r| r.method == Method::GET && !r.path.contains('{') && r.query.iter().any(|q| q.name == "limit"))
        .collect()
}

/// Creates, in `tenant`'s workspace, the resource a route with `{id}` addresses.
pub async fn make(app: &TestApp, tenant: &Tenant, path: &str) -> String {
    if path.starts_with("/v1/agents/") {
        app.create(tenant, "/v1/agents", json!({"name": "mine", "system_prompt": "p"}))
            .await
    } else if path.starts_with("/v1/contacts/") {
        let phone = unique_phone();
        app.create(tenant, "/v1/contacts", json!({"phone": phone})).await
    } else if path.starts_with("/v1/appointments/") {
        let contact = app
            .create(tenant, "/v1/contacts", json!({"phone": unique_phone()}))
            .await;
        let hour = rand::random::<u32>() % 10_000;
        let start = chrono::DateTime::<chrono::Utc>::from_timestamp(1_899_999_900 + i64::from(hour) * 3600, 0).unwrap();
        let end = start + chrono::Duration::minutes(30);
        app.create(
            tenant,
            "/v1/appointments",
            json!({"contact_id": contact, "start_time": start, "end_time": end, "title": "mine"}),
        )
        .await
    } else if path.starts_with("/v1/approvals/") {
        app.create(
            tenant,
            "/v1/approvals",
            json!({"proposed_action": "callback", "rationale": "mine"}),
        )
        .await
    } else if path.starts_with("/v1/numbers/") {
        // Numbers are unique across workspaces, and tests share the table.
        let number = unique_phone();
        app.create_at(tenant, "/v1/numbers/import", json!({"phone_number": number}))
            .await
    } else if path.starts_with("/v1/calls/") {
        let (agent, number, _) = app.phone_line(tenant).await;
        app.create(
            tenant,
            "/v1/calls",
            json!({"agent_id": agent, "phone_number_id": number, "to": phone_ending("0100")}),
        )
        .await
    } else if path.starts_with("/v1/campaigns/") {
        switchboard_tests::draft_campaign(app, tenant, json!({})).await
    } else if path.starts_with("/v1/webhooks/") {
        app.create(
            tenant,
            "/v1/webhooks",
            json!({"url": "https://hooks.example.com/switchboard", "events": ["call.ended"]}),
        )
        .await
    } else if path.starts_with("/v1/api-keys/") {
        let res = app
            .post("/v1/api-keys")
            .bearer(&tenant.token)
            .json(json!({"name": "mine", "scope": "read"}))
            .send()
            .await;
        res.expect(201);
        res.id().to_owned()
    } else if path.starts_with("/v1/users/") {
        app.invite_member(tenant, "member").await.user_id
    } else if path.starts_with("/v1/auth/sessions/") {
        app.login(&tenant.email, &tenant.password).await;
        let listed = app.get("/v1/auth/sessions").bearer(&tenant.token).send().await;
        listed.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["current"] == false)
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .unwrap()
    } else if path.starts_with("/v1/roles/") {
        let res = app
            .post("/v1/roles")
            .bearer(&tenant.token)
            .json(json!({"name": "mine", "grants": {"agents": "read"}}))
            .send()
            .await;
        res.expect(201);
        res.id().to_owned()
    } else if path.starts_with("/v1/secrets/") {
        let name = format!("MINE_{}", rand::random::<u32>());
        app.create(tenant, "/v1/secrets", json!({"name": name, "value": "mine"}))
            .await
    } else if path.starts_with("/v1/connectors/") {
        app.create(
            tenant,
            "/v1/connectors",
            json!({"name": "mine", "base_url": "https://crm.example.com", "auth": {"type": "bearer"}}),
        )
        .await
    } else if path.starts_with("/v1/connections/") {
        app.create(
            tenant,
            "/v1/connections",
            json!({"connector_id": "hubspot", "name": "mine", "credentials": {"token": "t"}}),
        )
        .await
    } else if path.starts_with("/v1/workflows/") {
        draft_workflow(app, tenant).await
    } else if path.starts_with("/v1/executions/") {
        let workflow = draft_workflow(app, tenant).await;
        app.create(tenant, &format!("/v1/workflows/{workflow}/run"), json!({}))
            .await
    } else if path.starts_with("/v1/triggers/") {
        let workflow = draft_workflow(app, tenant).await;
        app.create(
            tenant,
            "/v1/triggers",
            json!({"workflow_id": workflow, "type": "inbound"}),
        )
        .await
    } else if path.starts_with("/v1/customers/") {
        app.create(tenant, "/v1/customers", json!({"name": "mine"})).await
    } else if path.starts_with("/v1/audit/") {
        app.create(tenant, "/v1/agents", json!({"name": "audited", "system_prompt": "p"}))
            .await;
        let log = app.get("/v1/audit?limit=1").bearer(&tenant.key).send().await;
        log.expect(200);
        log.body["data"][0]["id"].as_str().unwrap().to_owned()
    } else {
        panic!("no factory for {path}: add one so its isolation and bad-input tests run")
    }
}

/// A workflow of one step, a draft.
async fn draft_workflow(app: &TestApp, tenant: &Tenant) -> String {
    app.create(
        tenant,
        "/v1/workflows",
        json!({"name": "mine", "steps": [{"id": "w", "type": "wait", "minutes": 5}]}),
    )
    .await
}

/// A request on `route` with the credential it needs.
pub fn call<'a>(app: &'a TestApp, route: &RouteInfo, path: &str, tenant: &Tenant) -> Req<'a> {
    let req = app.request(route.method.clone(), path);
    match route.access {
        Access::Public | Access::PublicLimited => req,
        Access::Session(_) => req.bearer(&tenant.token),
        Access::Scoped(_) => req.bearer(&tenant.key),
    }
}

/// Makes a resource of `owner` for every route with `{id}` that `reaches` and sends that route
/// with the intruder's credential: 404, and the owner's data unchanged. Returns how many
/// routes were walked.
async fn walk(app: &TestApp, owner: &Tenant, intruder: &Tenant, reaches: impl Fn(&str) -> bool) -> usize {
    let mut checked = 0;
    // Public routes (an inbound trigger's URL) answer to the signature on the request, which
    // their own tests check.
    let credentialed = |r: &RouteInfo| !matches!(r.access, Access::Public | Access::PublicLimited);
    for route in routes()
        .iter()
        .filter(|r| r.path.contains("{id}") && reaches(r.path) && credentialed(r))
    {
        let id = make(app, owner, route.path).await;
        let required: Vec<String> = route
            .query
            .iter()
            .filter(|q| q.required)
            .map(|q| format!("{}=x", q.name))
            .collect();
        let path = if required.is_empty() {
            route.path.replace("{id}", &id)
        } else {
            format!("{}?{}", route.path.replace("{id}", &id), required.join("&"))
        };
        let before = app.snapshot(&owner.workspace_id).await;
        let mut req = call(app, route, &path, intruder);
        if let Some(example) = route.doc.example {
            req = req.json(example());
        }
        let res = req.send().await;
        assert_eq!(
            res.status, 404,
            "{} {path} from another workspace: {}",
            route.method, res.text
        );
        assert!(res.code().ends_with("_not_found"), "{}", res.text);
        assert!(!res.text.contains(&owner.workspace_id));
        assert_eq!(
            app.snapshot(&owner.workspace_id).await,
            before,
            "{} {path} changed the owner's data",
            route.method
        );
        checked += 1;
        app.clock.advance(chrono::Duration::seconds(61));
    }
    checked
}

#[tokio::test]
async fn another_workspaces_resources_are_not_found() {
    let app = TestApp::unlimited().await;
    let (owner, intruder) = (app.tenant().await, app.tenant().await);
    let checked = walk(&app, &owner, &intruder, |_| true).await;
    assert!(checked >= 7, "only {checked} routes were checked");
}

#[tokio::test]
async fn an_agency_acting_for_one_customer_cannot_reach_another() {
    let app = TestApp::unlimited().await;
    let agency = app.tenant().await;
    let (a, b) = (app.customer(&agency).await, app.customer(&agency).await);
    let checked = walk(&app, &a, &b, acts_for_customers).await;
    let customer_scoped = routes()
        .iter()
        .filter(|r| r.path.contains("{id}") && acts_for_customers(r.path))
        .filter(|r| !matches!(r.access, Access::Public | Access::PublicLimited))
        .count();
    assert_eq!(checked, customer_scoped);
    assert!(checked >= 20, "only {checked} routes were checked");
}

#[tokio::test]
async fn lists_never_show_another_workspaces_resources() {
    let app = TestApp::unlimited().await;
    let (owner, other) = (app.tenant().await, app.tenant().await);
    let mut owned = vec![owner.key_id.clone()];
    for path in [
        "/v1/agents/{id}",
        "/v1/contacts/{id}",
        "/v1/api-keys/{id}",
        "/v1/calls/{id}",
        "/v1/webhooks/{id}",
        "/v1/secrets/{id}",
    ] {
        owned.push(make(&app, &owner, path).await);
    }
    let lists = collections();
    assert!(lists.len() >= 3);
    for route in &lists {
        let res = call(&app, route, &format!("{}?limit=200", route.path), &other)
            .send()
            .await;
        res.expect(200);
        for id in &owned {
            assert!(
                !res.text.contains(id.as_str()),
                "{} lists {id} of another workspace",
                route.path
            );
        }
    }
}
