//! Spending controls: the countries calls may go to, special-service numbers never called, the
//! daily spend limit (live calls only for workspaces whose owner verified their email: in
//! `twilio.rs`).

use futures::StreamExt;
use http::Method;
use serde_json::{Value, json};
use switchboard_core::model::TargetStatus;
use switchboard_tests::{Tenant, TestApp, phone_ending, phones_ending, unique_phone};

/// An agent whose calls last at most a minute (a 12-cent hold), on a number it calls from.
async fn line(app: &TestApp, t: &Tenant) -> (String, String) {
    let agent = app
        .create(
            t,
            "/v1/agents",
            json!({"name": "Guarded", "system_prompt": "You are brief.", "first_message": "Hello!",
                   "max_call_duration": 60}),
        )
        .await;
    let number = app
        .create_at(
            t,
            "/v1/numbers/import",
            json!({"phone_number": unique_phone(), "agent_id": agent}),
        )
        .await;
    (agent, number)
}

async fn place(app: &TestApp, t: &Tenant, (agent, number): (&str, &str), to: &str) -> switchboard_tests::Res {
    app.post("/v1/calls")
        .bearer(&t.key)
        .json(json!({"agent_id": agent, "phone_number_id": number, "to": to}))
        .send()
        .await
}

async fn controls(app: &TestApp, t: &Tenant) -> Value {
    let res = app.get("/v1/billing/spending-controls").bearer(&t.key).send().await;
    res.expect(200);
    res.body.clone()
}

async fn set_controls(app: &TestApp, t: &Tenant, body: Value) -> Value {
    let res = app
        .patch("/v1/billing/spending-controls")
        .bearer(&t.key)
        .json(body)
        .send()
        .await;
    res.expect(200);
    res.body.clone()
}

#[tokio::test]
async fn calls_go_only_to_allowed_countries_and_never_to_special_service_numbers() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number) = line(&app, &t).await;
    let line = (agent.as_str(), number.as_str());
    let start = controls(&app, &t).await;
    assert_eq!(
        (
            &start["object"],
            &start["allowed_countries"],
            &start["daily_spend_limit_minor"]
        ),
        (&json!("spending_controls"), &json!(["US"]), &Value::Null),
        "a workspace may call its own country"
    );

    let before = app.snapshot(&t.workspace_id).await;
    let abroad = place(&app, &t, line, "+442071838750").await;
    abroad.expect_error(403, "destination_not_allowed");
    assert_eq!(abroad.param(), "to");
    // A satellite phone's number belongs to no country: no list allows it.
    let nowhere = place(&app, &t, line, "+870301234567").await;
    nowhere.expect_error(403, "destination_not_allowed");
    assert_eq!(nowhere.param(), "to");
    for (to, kind) in [
        ("+19002345678", "premium-rate"),
        ("+15002345678", "personal"),
        ("+33884012345", "shared-cost"),
    ] {
        let refused = place(&app, &t, line, to).await;
        refused.expect_error(403, "special_service_number");
        assert_eq!(refused.param(), "to", "{kind}");
    }
    assert_eq!(
        app.snapshot(&t.workspace_id).await,
        before,
        "refused calls write nothing"
    );

    let allowed = set_controls(&app, &t, json!({"allowed_countries": ["us", "GB", "GB"]})).await;
    assert_eq!(allowed["allowed_countries"], json!(["US", "GB"]));
    place(&app, &t, line, "+442071838750").await.expect(201);
    // Allowing France does not make its shared-cost numbers callable.
    set_controls(&app, &t, json!({"allowed_countries": ["US", "FR"]})).await;
    place(&app, &t, line, "+33884012345")
        .await
        .expect_error(403, "special_service_number");
    place(&app, &t, line, "+442071838750")
        .await
        .expect_error(403, "destination_not_allowed");
}

#[tokio::test]
async fn the_daily_spend_limit_caps_what_calls_commit_in_a_utc_day() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number) = line(&app, &t).await;
    let line = (agent.as_str(), number.as_str());
    // Two one-minute holds of 12 cents fit in 24.
    let set = set_controls(&app, &t, json!({"daily_spend_limit_minor": 24})).await;
    assert_eq!(
        (&set["daily_spend_limit_minor"], &set["spent_today_minor"]),
        (&json!(24), &json!(0))
    );
    let answered = place(&app, &t, line, &phone_ending("0100")).await;
    answered.expect(201);
    let busy = place(&app, &t, line, &phone_ending("0001")).await;
    busy.expect(201);
    assert_eq!(controls(&app, &t).await["spent_today_minor"], 24);

    let before = app.snapshot(&t.workspace_id).await;
    let third = place(&app, &t, line, &phone_ending("0100")).await;
    third.expect_error(402, "daily_spend_limit_reached");
    assert_eq!(app.snapshot(&t.workspace_id).await, before);

    // The busy call cost nothing: its hold goes back to today's room; the answered one spent its minute.
    app.run_call_jobs_until_final(&t, busy.id()).await;
    app.run_call_jobs_until_final(&t, answered.id()).await;
    assert_eq!(controls(&app, &t).await["spent_today_minor"], 12);
    place(&app, &t, line, &phone_ending("0100")).await.expect(201);
    place(&app, &t, line, &phone_ending("0100"))
        .await
        .expect_error(402, "daily_spend_limit_reached");

    // Raising the limit makes room at once; the next UTC day starts from nothing spent.
    set_controls(&app, &t, json!({"daily_spend_limit_minor": 36})).await;
    place(&app, &t, line, &phone_ending("0100")).await.expect(201);
    app.advance(chrono::Duration::days(1)).await;
    assert_eq!(controls(&app, &t).await["spent_today_minor"], 0);
    let next_day = place(&app, &t, line, &phone_ending("0100")).await;
    next_day.expect(201);
    assert_eq!(controls(&app, &t).await["spent_today_minor"], 12);
    // `null` lifts the limit.
    let lifted = set_controls(&app, &t, json!({"daily_spend_limit_minor": null})).await;
    assert_eq!(lifted["daily_spend_limit_minor"], Value::Null);
}

#[tokio::test]
async fn calls_racing_to_be_the_first_of_a_new_day_are_all_held() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number) = line(&app, &t).await;
    set_controls(&app, &t, json!({"daily_spend_limit_minor": 1000})).await;
    place(&app, &t, (&agent, &number), &phone_ending("0100"))
        .await
        .expect(201);
    app.advance(chrono::Duration::days(1)).await;
    // Each finds yesterday's count on the wallet; one starts the new day, the others join it.
    let placed: Vec<u16> = futures::stream::iter(0..10)
        .map(|_| async { place(&app, &t, (&agent, &number), &phone_ending("0100")).await.status })
        .buffer_unordered(10)
        .collect()
        .await;
    assert_eq!(placed, vec![201; 10]);
    assert_eq!(controls(&app, &t).await["spent_today_minor"], 120);
}

async fn start(app: &TestApp, t: &Tenant, campaign: &str) -> switchboard_tests::Res {
    app.post(&format!("/v1/campaigns/{campaign}/start"))
        .bearer(&t.key)
        .send()
        .await
}

#[tokio::test]
async fn a_campaign_skips_numbers_it_may_not_call_and_pauses_at_the_daily_limit() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number) = line(&app, &t).await;
    let mut phones = phones_ending("0100", 4);
    phones.push("+442071838750".into());
    phones.push("+19002345678".into());
    // Four calls of 12 cents fit in the limit.
    set_controls(&app, &t, json!({"daily_spend_limit_minor": 48})).await;
    let first = app.ready_campaign(&t, (&agent, &number), 2, &phones).await;
    start(&app, &t, &first).await.expect(200);
    app.run_dialing().await;
    let calls = app
        .get(&format!("/v1/calls?campaign_id={first}"))
        .bearer(&t.key)
        .send()
        .await;
    let called: Vec<&str> = calls.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["to"].as_str().unwrap())
        .collect();
    assert_eq!(called.len(), 4, "{}", calls.text);
    assert!(called.iter().all(|to| to.starts_with("+1415")), "{called:?}");
    let targets = app.targets(&t, &first).await;
    let fate = |phone: &str| {
        let target = targets.iter().find(|x| x.phone == phone).unwrap();
        (target.status, target.skip_reason.clone())
    };
    assert_eq!(
        fate("+442071838750"),
        (TargetStatus::Skipped, Some("destination_not_allowed".into()))
    );
    assert_eq!(
        fate("+19002345678"),
        (TargetStatus::Skipped, Some("special_service_number".into()))
    );
    assert_eq!(controls(&app, &t).await["spent_today_minor"], 48);

    // Today's limit is spent: a campaign does not start, and one that starts on the last of it
    // pauses itself when the next call cannot be held.
    let second = app
        .ready_campaign(&t, (&agent, &number), 1, &phones_ending("0100", 3))
        .await;
    start(&app, &t, &second)
        .await
        .expect_error(402, "daily_spend_limit_reached");
    set_controls(&app, &t, json!({"daily_spend_limit_minor": 60})).await;
    start(&app, &t, &second).await.expect(200);
    app.run_dialing().await;
    app.assert_paused_for(&t, &second, "daily_spend_limit_reached", 1, 402)
        .await;
}

#[tokio::test]
async fn spending_controls_refuse_bad_input_and_belong_to_their_workspace() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let other = app.tenant().await;
    let member = app.key(&t, "write").await;
    let before = app.snapshot(&t.workspace_id).await;
    app.expect_refusals(
        Method::PATCH,
        "/v1/billing/spending-controls",
        &t.key,
        &[
            (
                json!({"allowed_countries": []}),
                422,
                "validation_failed",
                "allowed_countries",
            ),
            (
                json!({"allowed_countries": ["XX"]}),
                400,
                "invalid_value",
                "allowed_countries",
            ),
            (
                json!({"allowed_countries": "US"}),
                400,
                "invalid_type",
                "allowed_countries",
            ),
            (
                json!({"allowed_countries": vec!["US"; 51]}),
                422,
                "validation_failed",
                "allowed_countries",
            ),
            (
                json!({"daily_spend_limit_minor": -1}),
                422,
                "validation_failed",
                "daily_spend_limit_minor",
            ),
            (
                json!({"daily_spend_limit_minor": 100_000_001}),
                422,
                "validation_failed",
                "daily_spend_limit_minor",
            ),
            (
                json!({"daily_spend_limit_minor": "10"}),
                400,
                "invalid_type",
                "daily_spend_limit_minor",
            ),
            (json!({"limit": 10}), 400, "unknown_field", "limit"),
        ],
    )
    .await;
    // Only admins change them.
    app.patch("/v1/billing/spending-controls")
        .bearer(&member)
        .json(json!({"daily_spend_limit_minor": 0}))
        .send()
        .await
        .expect_error(403, "insufficient_scope");
    assert_eq!(app.snapshot(&t.workspace_id).await, before);

    set_controls(
        &app,
        &other,
        json!({"allowed_countries": ["GB"], "daily_spend_limit_minor": 0}),
    )
    .await;
    let mine = controls(&app, &t).await;
    assert_eq!(
        (&mine["allowed_countries"], &mine["daily_spend_limit_minor"]),
        (&json!(["US"]), &Value::Null)
    );
}
