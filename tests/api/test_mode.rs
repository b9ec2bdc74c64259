//! Test mode: `sb_test_` keys act in the workspace's test-mode twin, apart from its live data,
//! through the simulator, the offline model and offline payments whatever the workspace's
//! mode; every object says which it is.

use serde_json::json;
use switchboard_core::model::test_workspace_id;
use switchboard_tests::fake::FakeServer;
use switchboard_tests::{Options, Tenant, TestApp, phone_ending};

use crate::twilio::{created_call, twilio_answer};

/// A test-mode key of the tenant, made by its owner.
pub(crate) async fn test_key(app: &TestApp, t: &Tenant) -> String {
    let res = app
        .post("/v1/api-keys")
        .bearer(&t.token)
        .json(json!({"name": "sandbox", "scope": "admin", "mode": "test"}))
        .send()
        .await;
    res.expect(201);
    // The key is the live workspace's; it acts on test data.
    assert_eq!(
        (&res.body["mode"], &res.body["livemode"]),
        (&json!("test"), &json!(true)),
        "{}",
        res.text
    );
    let secret = res.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sb_test_") && res.body["prefix"].as_str().unwrap().starts_with("sb_test_"));
    secret
}

#[tokio::test]
async fn a_test_key_never_sees_live_data_nor_a_live_key_test_data() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let test = test_key(&app, &t).await;
    let agent = json!({"name": "Sarah", "system_prompt": "You are Sarah."});
    let live_agent = app.post("/v1/agents").bearer(&t.key).json(agent.clone()).send().await;
    live_agent.expect(201);
    assert_eq!(live_agent.body["livemode"], true);
    let test_agent = app.post("/v1/agents").bearer(&test).json(agent).send().await;
    test_agent.expect(201);
    assert_eq!(test_agent.body["livemode"], false);

    for (key, own, other) in [(&t.key, &live_agent, &test_agent), (&test, &test_agent, &live_agent)] {
        let listed = app.get("/v1/agents").bearer(key).send().await;
        let ids: Vec<&str> = listed.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [own.id()]);
        assert_eq!(listed.body["data"][0]["livemode"], own.body["livemode"]);
        app.get(&format!("/v1/agents/{}", other.id()))
            .bearer(key)
            .send()
            .await
            .expect_error(404, "agent_not_found");
    }
    // The test agent lives in partitions of the twin, none of the live workspace's.
    let live_items = app.snapshot(&t.workspace_id).await;
    assert!(!live_items.values().any(|item| item.contains(test_agent.id())));
    let twin = test_workspace_id(&t.workspace_id);
    assert!(
        app.snapshot(&twin)
            .await
            .values()
            .any(|item| item.contains(test_agent.id()))
    );
}

#[tokio::test]
async fn test_mode_calls_go_through_the_simulator_and_are_paid_with_test_money() {
    // The deployment calls through Twilio.
    let fake = FakeServer::start(|request, _| twilio_answer(request, &created_call())).await;
    let app = TestApp::with(Options {
        twilio_api: Some(fake.url.clone()),
        ..Options::default()
    })
    .await;
    let t = app.tenant().await;
    let test = test_key(&app, &t).await;
    let live_balance = app.get("/v1/billing/balance").bearer(&t.key).send().await.body["balance_minor"].clone();

    let as_test = Tenant {
        key: test.clone(),
        workspace_id: test_workspace_id(&t.workspace_id),
        ..t.clone()
    };
    let (agent, number_id, _) = app.phone_line(&as_test).await;
    let call = app
        .post("/v1/calls")
        .bearer(&test)
        .json(json!({"agent_id": agent, "phone_number_id": number_id, "to": phone_ending("0100")}))
        .send()
        .await;
    call.expect(201);
    assert_eq!(
        (call.body["provider"].as_str(), call.body["livemode"].as_bool()),
        (Some("simulator"), Some(false))
    );
    assert!(
        fake.requests().is_empty(),
        "Twilio heard nothing: {:?}",
        fake.requests()
    );
    app.run_call_jobs_until_final(&as_test, call.id()).await;
    let ended = app.get(&format!("/v1/calls/{}", call.id())).bearer(&test).send().await;
    assert_eq!(ended.body["status"], "completed", "{}", ended.text);
    let cost = ended.body["cost"]["amount_minor"].as_i64().unwrap();
    assert!(cost > 0);
    // Its events say they are test-mode ones.
    let events = app.events(&as_test.workspace_id).await;
    assert!(
        events.iter().any(|e| e["event"] == "call.ended") && events.iter().all(|e| e["livemode"] == false),
        "{events:?}"
    );
    assert!(app.events(&t.workspace_id).await.iter().all(|e| e["livemode"] == true));

    // Paid with test money; the live wallet is untouched.
    let test_balance = app.get("/v1/billing/balance").bearer(&test).send().await;
    assert_eq!(
        test_balance.body["balance_minor"].as_i64(),
        Some(switchboard_core::model::TEST_CREDIT_MINOR - cost)
    );
    let live = app.get("/v1/billing/balance").bearer(&t.key).send().await;
    assert_eq!(live.body["balance_minor"], live_balance);
    // A test-mode top-up is paid offline, and credits the test wallet alone.
    app.post("/v1/billing/topup")
        .bearer(&test)
        .json(json!({"amount_minor": 1000}))
        .send()
        .await
        .expect(201);
    app.deliver_payments().await;
    let topped = app.get("/v1/billing/balance").bearer(&test).send().await;
    assert_eq!(
        topped.body["balance_minor"].as_i64(),
        Some(switchboard_core::model::TEST_CREDIT_MINOR - cost + 1000)
    );
    let live = app.get("/v1/billing/balance").bearer(&t.key).send().await;
    assert_eq!(live.body["balance_minor"], live_balance);
}

#[tokio::test]
async fn a_second_test_key_shares_the_twin_and_a_workspace_cannot_reach_anothers_twin() {
    let app = TestApp::spawn().await;
    let (a, b) = (app.tenant().await, app.tenant().await);
    let (first, second) = (test_key(&app, &a).await, test_key(&app, &a).await);
    let made = app
        .create(
            &Tenant {
                key: first.clone(),
                ..a.clone()
            },
            "/v1/contacts",
            json!({"phone": phone_ending("0177")}),
        )
        .await;
    app.get(&format!("/v1/contacts/{made}"))
        .bearer(&second)
        .send()
        .await
        .expect(200);
    let theirs = test_key(&app, &b).await;
    app.get(&format!("/v1/contacts/{made}"))
        .bearer(&theirs)
        .send()
        .await
        .expect_error(404, "contact_not_found");
    // Keys are managed from the live workspace, test ones among them.
    let keys = app.get("/v1/api-keys").bearer(&a.token).send().await;
    let modes: Vec<&str> = keys.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["mode"].as_str().unwrap())
        .collect();
    assert_eq!(modes.iter().filter(|mode| **mode == "test").count(), 2, "{}", keys.text);
}
