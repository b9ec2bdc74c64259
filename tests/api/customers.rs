//! Customers: an agency's sub-accounts, each a workspace of its own that the agency's
//! credentials act in with `Switchboard-Customer` and its own keys act in alone.

use futures::future::join_all;
use serde_json::json;
use switchboard_tests::{Options, TestApp, phone_ending};

const HEADER: &str = "switchboard-customer";

#[tokio::test]
async fn an_agency_acts_for_each_customer_in_a_workspace_of_its_own() {
    let app = TestApp::spawn().await;
    let agency = app.tenant().await;
    let (a, b) = (app.customer(&agency).await, app.customer(&agency).await);
    let agent = app
        .create(
            &a,
            "/v1/agents",
            json!({"name": "Front desk", "system_prompt": "You book visits."}),
        )
        .await;

    let listed = |key: String| {
        let app = &app;
        async move {
            let res = app.get("/v1/agents").bearer(&key).send().await;
            res.expect(200);
            res.text
        }
    };
    assert!(listed(a.key.clone()).await.contains(&agent));
    // Neither a sibling nor the agency itself sees it.
    assert!(!listed(b.key.clone()).await.contains(&agent));
    assert!(!listed(agency.key.clone()).await.contains(&agent));
    for (key, header) in [
        (&b.key, None),
        (&agency.key, None),
        (&agency.key, Some(b.workspace_id.as_str())),
    ] {
        let mut req = app.get(&format!("/v1/agents/{agent}")).bearer(key);
        if let Some(customer) = header {
            req = req.header(HEADER, customer);
        }
        req.send().await.expect_error(404, "agent_not_found");
    }
    // The header is read per request: the agency's own key reaches A by naming it.
    app.get(&format!("/v1/agents/{agent}"))
        .bearer(&agency.key)
        .header(HEADER, &a.workspace_id)
        .send()
        .await
        .expect(200);

    // What the agency did for A is in A's audit log, by the agency's key.
    let audit = app
        .get(&format!("/v1/audit?resource_id={agent}"))
        .bearer(&a.key)
        .send()
        .await;
    audit.expect(200);
    assert_eq!(audit.body["data"][0]["actor"]["id"], a.key_id, "{}", audit.text);
}

#[tokio::test]
async fn the_header_names_only_the_callers_own_customers_on_routes_that_take_one() {
    let app = TestApp::spawn().await;
    let (agency, other) = (app.tenant().await, app.tenant().await);
    let customer = app.customer(&agency).await.workspace_id;
    let with = |key: &str, path: &str, value: &str| app.get(path).bearer(key).header(HEADER, value);

    for value in [
        customer.as_str(),
        "cus_01JD3QZ9R6X4Y7T2W8V5N1M0KA",
        "cus_nope",
        "",
        &agency.workspace_id,
    ] {
        let res = with(&other.key, "/v1/agents", value).send().await;
        res.expect_error(404, "customer_not_found");
        assert_eq!(res.param(), "Switchboard-Customer");
    }
    for path in ["/v1/users", "/v1/roles", "/v1/customers", "/v1/auth/sessions"] {
        with(&agency.token, path, &customer)
            .send()
            .await
            .expect_error(400, "customer_header_not_allowed");
    }
    // A customer's own key cannot reach its siblings through the header, nor manage customers.
    let own = own_key(&app, &agency, &customer).await;
    let sibling = app.customer(&agency).await.workspace_id;
    with(&own, "/v1/agents", &sibling)
        .send()
        .await
        .expect_error(404, "customer_not_found");
    app.get("/v1/customers")
        .bearer(&own)
        .send()
        .await
        .expect_error(403, "customers_not_allowed");
    app.post("/v1/customers")
        .bearer(&own)
        .json(json!({"name": "Nested"}))
        .send()
        .await
        .expect_error(403, "customers_not_allowed");
}

/// An admin key of the customer's own, made by the agency's owner acting for it.
async fn own_key(app: &TestApp, agency: &switchboard_tests::Tenant, customer: &str) -> String {
    let res = app
        .post("/v1/api-keys")
        .bearer(&agency.token)
        .header(HEADER, customer)
        .json(json!({"name": "their own", "scope": "admin"}))
        .send()
        .await;
    res.expect(201);
    res.body["secret"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_customers_own_key_reaches_it_alone_and_stops_when_it_is_deleted() {
    let app = TestApp::spawn().await;
    let agency = app.tenant().await;
    let customer = app.customer(&agency).await;
    let own = own_key(&app, &agency, &customer.workspace_id).await;
    let theirs = app
        .create(&customer, "/v1/contacts", json!({"phone": phone_ending("0100")}))
        .await;
    let agencys = app
        .create(&agency, "/v1/contacts", json!({"phone": phone_ending("0100")}))
        .await;
    app.get(&format!("/v1/contacts/{theirs}"))
        .bearer(&own)
        .send()
        .await
        .expect(200);
    app.get(&format!("/v1/contacts/{agencys}"))
        .bearer(&own)
        .send()
        .await
        .expect_error(404, "contact_not_found");
    // The agency lists its own keys; the customer's are the customer's.
    let keys = app.get("/v1/api-keys").bearer(&agency.token).send().await;
    assert_eq!(keys.body["data"].as_array().unwrap().len(), 2, "{}", keys.text);

    let path = format!("/v1/customers/{}", customer.workspace_id);
    app.delete(&path).bearer(&agency.key).send().await.expect(200);
    app.get(&path)
        .bearer(&agency.key)
        .send()
        .await
        .expect_error(404, "customer_not_found");
    app.get("/v1/contacts")
        .bearer(&agency.key)
        .header(HEADER, &customer.workspace_id)
        .send()
        .await
        .expect_error(404, "customer_not_found");
    app.get("/v1/contacts")
        .bearer(&own)
        .send()
        .await
        .expect_error(403, "account_inactive");
    app.delete(&path)
        .bearer(&agency.key)
        .send()
        .await
        .expect_error(404, "customer_not_found");
}

#[tokio::test]
async fn a_customer_pays_from_its_own_wallet_which_starts_empty() {
    let app = TestApp::spawn().await;
    let agency = app.tenant().await;
    let customer = app.unfunded_customer(&agency).await;
    let balance = app.get("/v1/billing/balance").bearer(&customer.key).send().await;
    balance.expect(200);
    assert_eq!(balance.body["balance_minor"], 0, "{}", balance.text);
    assert_eq!(
        app.get("/v1/billing/history").bearer(&customer.key).send().await.body["data"],
        json!([])
    );

    let (agent, number, _) = app.phone_line(&customer).await;
    let agency_balance = app.get("/v1/billing/balance").bearer(&agency.key).send().await.body["balance_minor"].clone();
    app.post("/v1/calls")
        .bearer(&customer.key)
        .json(json!({"agent_id": agent, "phone_number_id": number, "to": phone_ending("0100")}))
        .send()
        .await
        .expect_error(402, "insufficient_funds");
    assert_eq!(
        app.get("/v1/billing/balance").bearer(&agency.key).send().await.body["balance_minor"],
        agency_balance
    );

    // Funded through the agency's top-up sent for it, the customer calls.
    let topup = app
        .post("/v1/billing/topup")
        .bearer(&customer.key)
        .json(json!({"amount_minor": 2000}))
        .send()
        .await;
    topup.expect(201);
    for answer in app.deliver_payments().await {
        answer.expect(200);
    }
    let balance = app.get("/v1/billing/balance").bearer(&customer.key).send().await;
    assert_eq!(balance.body["balance_minor"], 2000, "{}", balance.text);
    app.post("/v1/calls")
        .bearer(&customer.key)
        .json(json!({"agent_id": agent, "phone_number_id": number, "to": phone_ending("0100")}))
        .send()
        .await
        .expect(201);
}

#[tokio::test]
async fn a_test_mode_agencys_customers_are_test_mode_workspaces() {
    let app = TestApp::spawn().await;
    let agency = app.tenant().await;
    let test = crate::test_mode::test_key(&app, &agency).await;
    let created = app
        .post("/v1/customers")
        .bearer(&test)
        .json(json!({"name": "Sandbox"}))
        .send()
        .await;
    created.expect(201);
    assert_eq!(created.body["livemode"], false);
    let customer = created.id().to_owned();
    let balance = app
        .get("/v1/billing/balance")
        .bearer(&test)
        .header(HEADER, &customer)
        .send()
        .await;
    assert_eq!(
        balance.body["balance_minor"],
        switchboard_core::model::TEST_CREDIT_MINOR
    );
    assert_eq!(balance.body["livemode"], false);
    // Live credentials know nothing of it.
    app.get("/v1/billing/balance")
        .bearer(&agency.key)
        .header(HEADER, &customer)
        .send()
        .await
        .expect_error(404, "customer_not_found");
    let listed = app.get("/v1/customers").bearer(&agency.key).send().await;
    assert!(!listed.text.contains(&customer));
}

#[tokio::test]
async fn customers_are_created_listed_and_changed_and_bad_input_writes_nothing() {
    let app = TestApp::spawn().await;
    let agency = app.tenant().await;
    let created = app
        .post("/v1/customers")
        .bearer(&agency.key)
        .json(
            json!({"name": "Bright Dental", "email": "Ops@BrightDental.example", "country": "us",
                     "metadata": {"crm_id": "A-1042"}}),
        )
        .send()
        .await;
    created.expect(201);
    assert_eq!(created.body["object"], "customer");
    assert_eq!(created.body["email"], "ops@brightdental.example");
    assert_eq!(created.body["country"], "US");
    let id = created.id().to_owned();
    let path = format!("/v1/customers/{id}");
    let etag = created.header("etag").unwrap().to_owned();
    let changed = app
        .patch(&path)
        .bearer(&agency.key)
        .header("if-match", &etag)
        .json(json!({"name": "Bright Dental Group", "email": null}))
        .send()
        .await;
    changed.expect(200);
    assert_eq!(
        (&changed.body["name"], &changed.body["email"]),
        (&json!("Bright Dental Group"), &json!(null))
    );
    app.patch(&path)
        .bearer(&agency.key)
        .header("if-match", &etag)
        .json(json!({"name": "Stale"}))
        .send()
        .await
        .expect_error(412, "precondition_failed");
    let listed = app.get("/v1/customers").bearer(&agency.key).send().await;
    assert_eq!(listed.body["data"][0]["name"], "Bright Dental Group");

    let read = app.key(&agency, "read").await;
    let before = app.snapshot(&agency.workspace_id).await;
    let many: serde_json::Map<String, serde_json::Value> = (0..21).map(|i| (format!("k{i}"), json!("v"))).collect();
    for (body, status, code, param) in [
        (json!({"name": ""}), 422, "validation_failed", "name"),
        (json!({"name": "x", "colour": "red"}), 400, "unknown_field", "colour"),
        (
            json!({"name": "x", "email": "not an email"}),
            400,
            "invalid_email",
            "email",
        ),
        (
            json!({"name": "x", "country": "Atlantis"}),
            400,
            "invalid_value",
            "country",
        ),
        (
            json!({"name": "x", "metadata": many}),
            422,
            "validation_failed",
            "metadata",
        ),
        (json!({"name": 7}), 400, "invalid_type", "name"),
    ] {
        let res = app.post("/v1/customers").bearer(&agency.key).json(body).send().await;
        res.expect_error(status, code);
        assert_eq!(res.param(), param, "{}", res.text);
    }
    app.patch(&path)
        .bearer(&agency.key)
        .json(json!({"name": ""}))
        .send()
        .await
        .expect_error(422, "validation_failed");
    // A read key cannot make or remove customers.
    app.post("/v1/customers")
        .bearer(&read)
        .json(json!({"name": "x"}))
        .send()
        .await
        .expect_error(403, "insufficient_scope");
    app.delete(&path)
        .bearer(&read)
        .send()
        .await
        .expect_error(403, "insufficient_scope");
    assert_eq!(app.snapshot(&agency.workspace_id).await, before);
}

#[tokio::test]
async fn racing_creations_never_exceed_the_plans_customers() {
    let app = TestApp::with(Options::default()).await;
    let agency = app.tenant().await;
    let max = switchboard_core::model::Plan::Starter.max_customers() as usize;
    let answers = join_all((0..max + 4).map(|i| {
        app.post("/v1/customers")
            .bearer(&agency.key)
            .json(json!({"name": format!("Customer {i}")}))
            .send()
    }))
    .await;
    let made = answers.iter().filter(|r| r.status == 201).count();
    assert_eq!(made, max, "{:?}", answers.iter().map(|r| &r.text).collect::<Vec<_>>());
    assert!(
        answers
            .iter()
            .filter(|r| r.status != 201)
            .all(|r| (r.status, r.code()) == (422, "limit_reached") || r.code() == "rate_limited")
    );
    let listed = app.get("/v1/customers?limit=50").bearer(&agency.key).send().await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), max);
}

#[tokio::test]
async fn a_members_keys_for_customers_follow_their_role_and_end_with_their_membership() {
    let app = TestApp::spawn().await;
    let agency = app.tenant().await;
    let customer = app.customer(&agency).await.workspace_id;
    let member = app.invite_member(&agency, "admin").await;
    let made = app
        .post("/v1/api-keys")
        .bearer(&member.token)
        .header(HEADER, &customer)
        .json(json!({"name": "for the customer", "scope": "write"}))
        .send()
        .await;
    made.expect(201);
    let key = made.body["secret"].as_str().unwrap().to_owned();
    app.post("/v1/agents")
        .bearer(&key)
        .json(json!({"name": "Desk", "system_prompt": "p"}))
        .send()
        .await
        .expect(201);

    // Made a viewer, the member's key for the customer reads and no longer writes.
    app.patch(&format!("/v1/users/{}", member.user_id))
        .bearer(&agency.token)
        .json(json!({"role": "viewer"}))
        .send()
        .await
        .expect(200);
    app.get("/v1/agents").bearer(&key).send().await.expect(200);
    app.post("/v1/agents")
        .bearer(&key)
        .json(json!({"name": "Desk 2", "system_prompt": "p"}))
        .send()
        .await
        .expect_error(403, "permission_denied");

    app.delete(&format!("/v1/users/{}", member.user_id))
        .bearer(&agency.token)
        .send()
        .await
        .expect(200);
    app.get("/v1/agents")
        .bearer(&key)
        .send()
        .await
        .expect_error(401, "credential_revoked");
}
