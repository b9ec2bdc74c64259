//! The wallet: the trial credit, holds and charges of calls, the ledger that adds up to the
//! balance under any interleaving, the 402s, and campaigns that run out of money.

use std::collections::BTreeMap;

use futures::stream::{self, StreamExt};
use http::Method;
use serde_json::{Value, json};
use switchboard_core::model::{Call, CallStatus, Direction, LedgerEntry, LedgerKind};
use switchboard_core::ports::{Hold, ListQuery, Repository, Wallets};
use switchboard_core::{ErrorCode, StoreError};
use switchboard_domain::calls::{self, CallBook, NewCall, StatusReport};
use switchboard_tests::{Tenant, TestApp, phone_ending, phones_ending, unique_phone};

async fn balance(app: &TestApp, t: &Tenant) -> Value {
    let res = app.get("/v1/billing/balance").bearer(&t.key).send().await;
    res.expect(200);
    res.body.clone()
}

/// Every entry of the workspace's ledger, through the API, newest first.
async fn ledger(app: &TestApp, t: &Tenant) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/billing/history?limit=200&cursor={c}"),
            None => "/v1/billing/history?limit=200".to_owned(),
        };
        let res = app.get(&path).bearer(&t.key).send().await;
        res.expect(200);
        entries.extend(res.body["data"].as_array().unwrap().iter().cloned());
        match res.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return entries,
        }
    }
}

fn sum(entries: &[Value]) -> i64 {
    entries.iter().map(|e| e["amount_minor"].as_i64().unwrap()).sum()
}

/// An agent whose calls last at most `max_call_duration` seconds, on a number it calls from.
async fn line(app: &TestApp, t: &Tenant, max_call_duration: u32) -> (String, String) {
    let agent = app
        .create(
            t,
            "/v1/agents",
            json!({"name": "Biller", "system_prompt": "You are brief.", "first_message": "Hello!",
                   "max_call_duration": max_call_duration}),
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

async fn place(app: &TestApp, t: &Tenant, agent: &str, number: &str, to: &str) -> switchboard_tests::Res {
    app.post("/v1/calls")
        .bearer(&t.key)
        .json(json!({"agent_id": agent, "phone_number_id": number, "to": to}))
        .send()
        .await
}

#[tokio::test]
async fn a_new_workspace_starts_with_its_trial_credit_on_the_ledger() {
    let app = TestApp::spawn().await;
    let t = app.trial_tenant().await;
    let wallet = balance(&app, &t).await;
    assert_eq!(
        (
            &wallet["object"],
            &wallet["balance_minor"],
            &wallet["held_minor"],
            &wallet["available_minor"],
            &wallet["currency"],
            &wallet["funded"]
        ),
        (
            &json!("balance"),
            &json!(500),
            &json!(0),
            &json!(500),
            &json!("USD"),
            &json!(false)
        )
    );
    let entries = ledger(&app, &t).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (&entries[0]["object"], &entries[0]["kind"], &entries[0]["amount_minor"]),
        (&json!("ledger_entry"), &json!("trial_credit"), &json!(500))
    );
    assert!(entries[0]["id"].as_str().unwrap().starts_with("led_"));
}

/// A trial workspace and a call placed by its agent of five minutes at most (the call's id).
async fn five_minute_call(app: &TestApp) -> (Tenant, String) {
    let t = app.trial_tenant().await;
    let (agent, number) = line(app, &t, 300).await;
    let res = place(app, &t, &agent, &number, &phone_ending("0100")).await;
    res.expect(201);
    let id = res.id().to_owned();
    (t, id)
}

/// The check that ends the call `id` of `t` if it is still going at `due`.
fn overdue_check(t: &Tenant, id: &str, due: chrono::DateTime<chrono::Utc>) -> switchboard_core::ports::CallJob {
    switchboard_core::ports::CallJob::Overdue {
        workspace_id: t.workspace_id.clone(),
        call_id: id.to_owned(),
        due_at: due.timestamp(),
    }
}

#[tokio::test]
async fn a_call_holds_its_longest_cost_then_is_charged_per_started_minute() {
    let app = TestApp::spawn().await;
    let (t, id) = five_minute_call(&app).await;
    // Five minutes at the starter rate (12 cents a minute), held while the call is on.
    let held = balance(&app, &t).await;
    assert_eq!(
        (
            &held["balance_minor"],
            &held["held_minor"],
            &held["available_minor"],
            &held["active_calls"]
        ),
        (&json!(500), &json!(60), &json!(440), &json!(1))
    );

    app.run_call_jobs_until_final(&t, &id).await;
    let call = app.get(&format!("/v1/calls/{id}")).bearer(&t.key).send().await;
    let cost = call.body["cost"]["amount_minor"].as_i64().unwrap();
    let minutes = call.body["cost"]["billed_minutes"].as_i64().unwrap();
    let seconds = call.body["duration_seconds"].as_i64().unwrap();
    assert!(seconds > 0, "the simulated callee talked: {}", call.text);
    assert_eq!(minutes, (seconds + 59) / 60);
    assert_eq!(cost, minutes * 12);

    let after = balance(&app, &t).await;
    assert_eq!(
        (
            &after["balance_minor"],
            &after["held_minor"],
            &after["available_minor"],
            &after["active_calls"]
        ),
        (&json!(500 - cost), &json!(0), &json!(500 - cost), &json!(0))
    );
    let entries = ledger(&app, &t).await;
    assert_eq!(sum(&entries), after["balance_minor"].as_i64().unwrap());
    let charge = &entries[0];
    assert_eq!(
        (&charge["kind"], &charge["amount_minor"], &charge["call_id"]),
        (&json!("call_charge"), &json!(-cost), &json!(id))
    );
    let charges = app
        .get("/v1/billing/history?kind=call_charge")
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(charges.body["data"].as_array().unwrap().len(), 1);
    let credits = app
        .get("/v1/billing/history?kind=trial_credit")
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(credits.body["data"][0]["kind"], "trial_credit");
}

#[tokio::test]
async fn a_call_the_wallet_cannot_hold_is_refused_with_402_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let t = app.trial_tenant().await;
    // Two hours at 12 cents a minute: 1,440 cents, more than the trial's 500.
    let (agent, number) = line(&app, &t, 7200).await;
    let before = app.snapshot(&t.workspace_id).await;
    place(&app, &t, &agent, &number, &phone_ending("0100"))
        .await
        .expect_error(402, "insufficient_funds");
    let inbound = app
        .post("/v1/telephony/simulator/inbound-calls")
        .bearer(&t.key)
        .json(json!({"from": phone_ending("0100"), "to": app_number(&app, &t, &number).await}))
        .send()
        .await;
    inbound.expect_error(402, "insufficient_funds");
    assert_eq!(app.snapshot(&t.workspace_id).await, before);
    assert!(app.queued_call_jobs().await.is_empty(), "no call was placed");

    let precheck = app
        .get("/v1/billing/precheck?expected_seconds=7200")
        .bearer(&t.key)
        .send()
        .await;
    precheck.expect(200);
    assert_eq!(
        (
            &precheck.body["status"],
            &precheck.body["required_minor"],
            &precheck.body["available_minor"]
        ),
        (&json!("insufficient_funds"), &json!(1440), &json!(500))
    );
    let fine = app
        .get("/v1/billing/precheck?expected_seconds=61")
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(
        (&fine.body["status"], &fine.body["required_minor"]),
        (&json!("ok"), &json!(24))
    );
}

async fn app_number(app: &TestApp, t: &Tenant, number_id: &str) -> String {
    let res = app.get(&format!("/v1/numbers/{number_id}")).bearer(&t.key).send().await;
    res.body["phone_number"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_expired_trial_places_no_call_until_the_workspace_tops_up() {
    let app = TestApp::spawn().await;
    let t = app.trial_tenant().await;
    let (agent, number) = line(&app, &t, 60).await;
    app.clock.advance(chrono::Duration::days(15));
    place(&app, &t, &agent, &number, &phone_ending("0100"))
        .await
        .expect_error(402, "trial_expired");
    let precheck = app.get("/v1/billing/precheck").bearer(&t.key).send().await;
    assert_eq!(precheck.body["status"], "trial_expired");
    app.fund(&t, 1000).await;
    place(&app, &t, &agent, &number, &phone_ending("0100"))
        .await
        .expect(201);
}

#[tokio::test]
async fn calls_at_once_are_capped_by_the_plan_across_the_workspace() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number) = line(&app, &t, 60).await;
    let cap = switchboard_core::model::Plan::Starter.max_active_calls() as usize;
    // Holds straight through the wallet, as many calls as the plan allows at once.
    let (agent_value, number_value) = records(&app, &t, &agent, &number).await;
    let hold = Hold {
        amount_minor: 1,
        max_active_calls: cap as u32,
        destination_country: None,
        live: false,
        at: app.clock.now(),
    };
    for _ in 0..cap {
        let call = new_call(&agent_value, &number_value, &app);
        app.store.insert_held_call(&t.workspace_id, &call, &hold).await.unwrap();
    }
    let before = app.snapshot(&t.workspace_id).await;
    place(&app, &t, &agent, &number, &phone_ending("0100"))
        .await
        .expect_error(429, "concurrency_limit_reached");
    assert_eq!(app.snapshot(&t.workspace_id).await, before);
}

async fn records(
    app: &TestApp,
    t: &Tenant,
    agent: &str,
    number: &str,
) -> (switchboard_core::model::Agent, switchboard_core::model::PhoneNumber) {
    let agent = Repository::<switchboard_core::model::Agent>::get(&app.store, &t.workspace_id, agent)
        .await
        .unwrap()
        .unwrap()
        .value;
    let number = Repository::<switchboard_core::model::PhoneNumber>::get(&app.store, &t.workspace_id, number)
        .await
        .unwrap()
        .unwrap()
        .value;
    (agent, number)
}

fn new_call(
    agent: &switchboard_core::model::Agent,
    number: &switchboard_core::model::PhoneNumber,
    app: &TestApp,
) -> Call {
    NewCall {
        direction: Direction::Outbound,
        agent,
        number,
        remote: unique_phone(),
        contact_id: None,
        campaign_id: None,
        metadata: BTreeMap::new(),
        plan: switchboard_core::model::Plan::Enterprise,
        mode: switchboard_core::model::ProviderMode::Bundled,
        provider: "simulator".into(),
        provider_call_id: None,
    }
    .record(app.clock.now())
}

/// 1,050 calls ask to hold what 1,000 can; then the 1,000 end at once, each end reported twice,
/// across 20 workers: exactly 1,000 holds, each call charged once, the ledger adds up to the
/// balance, and nothing stays held.
#[tokio::test]
async fn a_thousand_calls_ending_at_once_are_each_charged_once_and_the_ledger_adds_up() {
    const CALLS: usize = 1000;
    const WORKERS: usize = 20;
    let app = TestApp::unlimited().await;
    let t = app.trial_tenant().await;
    let (agent, number) = line(&app, &t, 600).await;
    let (agent, number) = records(&app, &t, &agent, &number).await;
    let ws = t.workspace_id.as_str();
    let plan = switchboard_core::model::Plan::Enterprise;
    let hold = calls::hold_for(
        &agent,
        plan,
        switchboard_core::model::ProviderMode::Bundled,
        app.clock.now(),
    );
    app.fund(&t, hold.amount_minor * CALLS as i64 - 500).await;

    let store = &app.store;
    let attempts: Vec<Result<Call, StoreError>> = stream::iter(0..CALLS + 50)
        .map(|_| {
            let call = new_call(&agent, &number, &app);
            let hold = Hold {
                max_active_calls: 5000,
                ..hold.clone()
            };
            async move { store.insert_held_call(ws, &call, &hold).await.map(|_| call) }
        })
        .buffer_unordered(WORKERS)
        .collect()
        .await;
    let placed: Vec<Call> = attempts.iter().filter_map(|r| r.as_ref().ok().cloned()).collect();
    assert_eq!(placed.len(), CALLS);
    for refused in attempts.iter().filter_map(|r| r.as_ref().err()) {
        assert!(
            matches!(refused, StoreError::Conflict(ErrorCode::InsufficientFunds)),
            "{refused:?}"
        );
    }
    let full = app.store.wallet(ws, app.clock.now()).await.unwrap().unwrap().balance;
    assert_eq!(
        (full.available_minor, full.held_minor, full.active_calls),
        (0, hold.amount_minor * CALLS as i64, CALLS as u32)
    );

    let network = &app.call_worker.network;
    let book = CallBook {
        calls: network.calls.as_ref(),
        wallets: network.wallets.as_ref(),
        jobs: network.jobs.as_ref(),
        campaign_ends: None,
    };
    let now = app.clock.now();
    let report = |status, duration_seconds| StatusReport {
        status,
        at: now,
        duration_seconds,
        reason: None,
    };
    stream::iter(&placed)
        .map(|call| async move {
            calls::report(book, ws, &call.id, report(CallStatus::InProgress, None))
                .await
                .unwrap()
        })
        .buffer_unordered(WORKERS)
        .collect::<Vec<_>>()
        .await;
    // Each end twice, the two reports racing; some calls talk longer than they held.
    let ends: Vec<(usize, &Call)> = placed.iter().enumerate().flat_map(|(i, c)| [(i, c), (i, c)]).collect();
    stream::iter(ends)
        .map(|(i, call)| async move {
            let seconds = (i as u32 * 37) % 700;
            calls::report(book, ws, &call.id, report(CallStatus::Completed, Some(seconds)))
                .await
                .unwrap()
        })
        .buffer_unordered(WORKERS)
        .collect::<Vec<_>>()
        .await;

    let wallet = app.store.wallet(ws, app.clock.now()).await.unwrap().unwrap().balance;
    assert_eq!((wallet.held_minor, wallet.active_calls), (0, 0));
    assert_eq!(wallet.available_minor, wallet.balance_minor);
    assert!(wallet.balance_minor >= 0);
    let mut entries: Vec<LedgerEntry> = Vec::new();
    let mut query = ListQuery {
        limit: 200,
        ..ListQuery::default()
    };
    loop {
        let page = Repository::<LedgerEntry>::query(&app.store, ws, &query).await.unwrap();
        entries.extend(page.items.into_iter().map(|v| v.value));
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    assert_eq!(
        entries.iter().map(|e| e.amount_minor).sum::<i64>(),
        wallet.balance_minor
    );
    let mut charged: BTreeMap<String, i64> = BTreeMap::new();
    for entry in entries.iter().filter(|e| e.kind == LedgerKind::CallCharge) {
        assert!(
            charged
                .insert(entry.call_id.clone().unwrap(), -entry.amount_minor)
                .is_none(),
            "charged twice"
        );
    }
    for call in &placed {
        let ended = Repository::<Call>::get(&app.store, ws, &call.id)
            .await
            .unwrap()
            .unwrap()
            .value;
        let cost = ended.cost.unwrap().amount_minor;
        assert!(cost <= hold.amount_minor, "never more than held");
        assert_eq!(charged.get(&call.id).copied().unwrap_or(0), cost, "{}", call.id);
    }
}

/// A draft campaign calling `targets` answering numbers, `max_concurrent_calls` at once.
async fn ready_campaign(
    app: &TestApp,
    t: &Tenant,
    line: (&str, &str),
    max_concurrent_calls: u32,
    targets: usize,
) -> String {
    app.ready_campaign(t, line, max_concurrent_calls, &phones_ending("0100", targets))
        .await
}

#[tokio::test]
async fn a_campaign_the_wallet_cannot_start_is_refused_with_402() {
    let app = TestApp::spawn().await;
    let t = app.trial_tenant().await;
    // Ten minutes at 12 cents: 120 cents a call; five at once need 600, more than 500.
    let (agent, number) = line(&app, &t, 600).await;
    let campaign = ready_campaign(&app, &t, (&agent, &number), 5, 6).await;
    let start = app
        .post(&format!("/v1/campaigns/{campaign}/start"))
        .bearer(&t.key)
        .send()
        .await;
    start.expect_error(402, "insufficient_funds");
    let draft = app
        .get(&format!("/v1/campaigns/{campaign}"))
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(draft.body["status"], "draft");
    app.patch(&format!("/v1/campaigns/{campaign}"))
        .bearer(&t.key)
        .json(json!({"max_concurrent_calls": 4}))
        .send()
        .await
        .expect(200);
    app.post(&format!("/v1/campaigns/{campaign}/start"))
        .bearer(&t.key)
        .send()
        .await
        .expect(200);
}

#[tokio::test]
async fn a_campaign_that_runs_out_of_money_pauses_itself_and_places_no_further_call() {
    let app = TestApp::spawn().await;
    let t = app.trial_tenant().await;
    // 41 minutes at 12 cents: each call holds 492 of the 500; once the first is charged its
    // minute, no second can be held.
    let (agent, number) = line(&app, &t, 41 * 60).await;
    let campaign = ready_campaign(&app, &t, (&agent, &number), 1, 3).await;
    app.post(&format!("/v1/campaigns/{campaign}/start"))
        .bearer(&t.key)
        .send()
        .await
        .expect(200);
    app.run_dialing().await;

    assert!(
        app.event_types(&t.workspace_id)
            .await
            .contains(&"campaign.paused".to_owned())
    );
    let wallet = balance(&app, &t).await;
    assert_eq!(wallet["held_minor"], 0);
    assert_eq!(sum(&ledger(&app, &t).await), wallet["balance_minor"].as_i64().unwrap());
    // Resuming asks the wallet again.
    app.assert_paused_for(&t, &campaign, "insufficient_funds", 1, 402).await;
}

#[tokio::test]
async fn billing_reads_only_the_callers_workspace() {
    let app = TestApp::spawn().await;
    let owner = app.trial_tenant().await;
    let other = app.trial_tenant().await;
    let (agent, number) = line(&app, &owner, 60).await;
    let id = place(&app, &owner, &agent, &number, &phone_ending("0100"))
        .await
        .id()
        .to_owned();
    app.run_call_jobs_until_final(&owner, &id).await;
    let mine = ledger(&app, &owner).await;
    assert_eq!(mine.len(), 2, "trial credit and the call's charge");
    let theirs = ledger(&app, &other).await;
    assert_eq!(theirs.len(), 1);
    assert!(theirs.iter().all(|e| e["call_id"].is_null()));
    assert_eq!(balance(&app, &other).await["balance_minor"], 500);
}

#[tokio::test]
async fn billing_refuses_bad_queries() {
    let app = TestApp::spawn().await;
    let t = app.trial_tenant().await;
    for bad in ["0", "7201", "ten", "-5", "1.5"] {
        app.get(&format!("/v1/billing/precheck?expected_seconds={bad}"))
            .bearer(&t.key)
            .send()
            .await
            .expect_error(400, "invalid_parameter");
    }
    let res = app.get("/v1/billing/history?kind=refund").bearer(&t.key).send().await;
    res.expect_error(400, "invalid_parameter");
    assert_eq!(res.param(), "kind");
    app.get("/v1/billing/history?from=yesterday")
        .bearer(&t.key)
        .send()
        .await
        .expect(400);
    app.get("/v1/billing/history?limit=201")
        .bearer(&t.key)
        .send()
        .await
        .expect(400);
    app.get("/v1/billing/balance")
        .send()
        .await
        .expect_error(401, "missing_credential");
}

async fn top_up(app: &TestApp, t: &Tenant, amount_minor: i64) -> switchboard_tests::Res {
    app.post("/v1/billing/topup")
        .bearer(&t.key)
        .json(json!({"amount_minor": amount_minor}))
        .send()
        .await
}

#[tokio::test]
async fn a_top_up_credits_only_when_the_providers_signed_webhook_arrives() {
    let app = TestApp::spawn().await;
    let t = app.trial_tenant().await;
    let res = top_up(&app, &t, 2000).await;
    res.expect(201);
    assert_eq!(
        (
            &res.body["object"],
            &res.body["provider"],
            &res.body["amount_minor"],
            &res.body["currency"]
        ),
        (&json!("topup_checkout"), &json!("offline"), &json!(2000), &json!("USD"))
    );
    let checkout = res.body["checkout_id"].as_str().unwrap().to_owned();
    assert!(checkout.starts_with("cs_offline_"));
    assert_eq!(
        balance(&app, &t).await["balance_minor"],
        500,
        "a checkout credits nothing"
    );

    let delivered = app.deliver_payments().await;
    assert_eq!(delivered.len(), 1);
    delivered[0].expect(200);
    assert_eq!(delivered[0].body["credited"], true);
    let wallet = balance(&app, &t).await;
    assert_eq!(
        (&wallet["balance_minor"], &wallet["available_minor"], &wallet["funded"]),
        (&json!(2500), &json!(2500), &json!(true))
    );
    let entries = ledger(&app, &t).await;
    assert_eq!(
        (
            &entries[0]["kind"],
            &entries[0]["amount_minor"],
            &entries[0]["payment_id"]
        ),
        (&json!("top_up"), &json!(2000), &json!(checkout))
    );
    assert_eq!(sum(&entries), 2500);
    assert!(
        app.event_types(&t.workspace_id)
            .await
            .contains(&"billing.topup.succeeded".to_owned())
    );
}

#[tokio::test]
async fn a_payment_webhook_delivered_five_times_at_once_credits_once() {
    let app = TestApp::spawn().await;
    let t = app.trial_tenant().await;
    top_up(&app, &t, 5000).await.expect(201);
    let posted = app.payment_outbox.requests().pop().unwrap();
    let signature = posted
        .header(switchboard_payments::SIGNATURE_HEADER)
        .unwrap()
        .to_owned();
    let answers = futures::future::join_all((0..5).map(|_| {
        app.post(switchboard_payment_path())
            .raw("application/json", posted.body.clone())
            .header(switchboard_payments::SIGNATURE_HEADER, &signature)
            .send()
    }))
    .await;
    for answer in &answers {
        answer.expect(200);
    }
    assert_eq!(answers.iter().filter(|a| a.body["credited"] == true).count(), 1);
    assert_eq!(balance(&app, &t).await["balance_minor"], 5500);
    let top_ups = app.get("/v1/billing/history?kind=top_up").bearer(&t.key).send().await;
    assert_eq!(top_ups.body["data"].as_array().unwrap().len(), 1);
}

fn switchboard_payment_path() -> &'static str {
    "/v1/billing/webhooks/payment"
}

#[tokio::test]
async fn forged_or_stale_payment_webhooks_credit_nothing() {
    let app = TestApp::spawn().await;
    let t = app.trial_tenant().await;
    top_up(&app, &t, 5000).await.expect(201);
    let posted = app.payment_outbox.requests().pop().unwrap();
    let before = app.snapshot(&t.workspace_id).await;
    let now = app.clock.now().timestamp();
    let secret = switchboard_tests::PAYMENT_WEBHOOK_SECRET;
    let tampered = posted.body.replace("5000", "500000");
    for (body, signature) in [
        (posted.body.clone(), None),
        (
            posted.body.clone(),
            Some(switchboard_payments::sign(posted.body.as_bytes(), "whsec_forged", now)),
        ),
        (
            posted.body.clone(),
            Some(switchboard_payments::sign(posted.body.as_bytes(), secret, now - 301)),
        ),
        (
            tampered.clone(),
            posted.header(switchboard_payments::SIGNATURE_HEADER).map(str::to_owned),
        ),
        (posted.body.clone(), Some("t=abc,v1=00".to_owned())),
    ] {
        let mut req = app.post(switchboard_payment_path()).raw("application/json", body);
        if let Some(signature) = &signature {
            req = req.header(switchboard_payments::SIGNATURE_HEADER, signature);
        }
        req.send().await.expect_error(400, "invalid_payment_signature");
    }
    assert_eq!(app.snapshot(&t.workspace_id).await, before);
    assert_eq!(balance(&app, &t).await["balance_minor"], 500);
}

#[tokio::test]
async fn a_top_up_refuses_bad_input_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let t = app.trial_tenant().await;
    let writer = app.key(&t, "write").await;
    let before = app.snapshot(&t.workspace_id).await;
    for (body, status, param) in [
        (json!({"amount_minor": 499}), 422, "amount_minor"),
        (json!({"amount_minor": 1_000_001}), 422, "amount_minor"),
        (json!({"amount_minor": "ten"}), 400, "amount_minor"),
        (json!({}), 400, "amount_minor"),
        (
            json!({"amount_minor": 1000, "success_url": "javascript:alert(1)"}),
            422,
            "success_url",
        ),
        (
            json!({"amount_minor": 1000, "cancel_url": "https://a.example/ x"}),
            422,
            "cancel_url",
        ),
        (json!({"amount_minor": 1000, "coupon": "FREE"}), 400, "coupon"),
    ] {
        let res = app
            .post("/v1/billing/topup")
            .bearer(&t.key)
            .json(body.clone())
            .send()
            .await;
        assert_eq!((res.status, res.param()), (status, param), "{body}: {}", res.text);
    }
    app.post("/v1/billing/topup")
        .bearer(&writer)
        .json(json!({"amount_minor": 1000}))
        .send()
        .await
        .expect_error(403, "insufficient_scope");
    assert!(app.payment_outbox.requests().is_empty(), "the provider was not asked");
    assert_eq!(app.snapshot(&t.workspace_id).await, before);
}

#[tokio::test]
async fn stripe_opens_a_checkout_session_that_saves_the_card() {
    use switchboard_core::error::ProviderError;
    use switchboard_core::ports::{Payments, TopUpRequest};
    use switchboard_payments::stripe::StripePayments;
    use switchboard_tests::fake::FakeServer;
    let fake = FakeServer::start(|_, i| match i {
        0 => (
            200,
            "application/json",
            json!({"id": "cs_test_123", "url": "https://checkout.stripe.com/c/pay/cs_test_123"}).to_string(),
        ),
        1 => (
            400,
            "application/json",
            json!({"error": {"message": "Amount must be at least 50 cents"}}).to_string(),
        ),
        _ => (500, "application/json", "{}".into()),
    })
    .await;
    let stripe = StripePayments::new(&fake.url, "sk_test_abc", "https://app.example.com/billing");
    let request = TopUpRequest {
        workspace_id: "ws_01JD3QZ9R6X4Y7T2W8V5N1M0KA".into(),
        amount_minor: 2000,
        currency: "USD".into(),
        success_url: Some("https://app.example.com/paid".into()),
        cancel_url: None,
    };
    let checkout = stripe.checkout(&request).await.unwrap();
    assert_eq!(
        (checkout.id.as_str(), checkout.url.as_deref()),
        ("cs_test_123", Some("https://checkout.stripe.com/c/pay/cs_test_123"))
    );
    let sent = &fake.requests()[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/v1/checkout/sessions")
    );
    assert_eq!(sent.header("authorization"), Some("Bearer sk_test_abc"));
    let form: BTreeMap<String, String> = sent.form().into_iter().collect();
    for (field, value) in [
        ("mode", "payment"),
        ("line_items[0][price_data][unit_amount]", "2000"),
        ("line_items[0][price_data][currency]", "usd"),
        ("metadata[workspace_id]", "ws_01JD3QZ9R6X4Y7T2W8V5N1M0KA"),
        ("payment_intent_data[setup_future_usage]", "off_session"),
        ("customer_creation", "always"),
        ("success_url", "https://app.example.com/paid"),
        ("cancel_url", "https://app.example.com/billing"),
    ] {
        assert_eq!(form.get(field).map(String::as_str), Some(value), "{field}");
    }
    assert!(
        matches!(stripe.checkout(&request).await, Err(ProviderError::Rejected(m)) if m.contains("at least 50 cents"))
    );
    assert!(matches!(
        stripe.checkout(&request).await,
        Err(ProviderError::Unavailable(_))
    ));
    // What Stripe then posts is what the webhook reads.
    let event = json!({"id": "evt_1", "type": "checkout.session.completed", "data": {"object": {
        "id": "cs_test_123", "amount_total": 2000, "currency": "usd", "payment_status": "paid",
        "customer": "cus_1", "metadata": {"workspace_id": "ws_01JD3QZ9R6X4Y7T2W8V5N1M0KA"}}}});
    let paid = switchboard_payments::payment(event.to_string().as_bytes())
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            paid.id.as_str(),
            paid.kind,
            paid.amount_minor,
            paid.currency.as_str(),
            paid.customer.as_deref()
        ),
        ("cs_test_123", LedgerKind::TopUp, 2000, "USD", Some("cus_1"))
    );
    let unpaid = json!({"type": "checkout.session.completed", "data": {"object": {"payment_status": "unpaid"}}});
    assert_eq!(
        switchboard_payments::payment(unpaid.to_string().as_bytes()).unwrap(),
        None
    );
}

#[tokio::test]
async fn stripe_auto_charges_the_saved_card_off_session_once_per_key() {
    use switchboard_core::error::ProviderError;
    use switchboard_core::ports::{Payments, SavedCardCharge};
    use switchboard_payments::stripe::StripePayments;
    use switchboard_tests::fake::FakeServer;
    let fake = FakeServer::start(|request, _| {
        let path = request.path.split('?').next().unwrap_or_default();
        let (status, body) = match (request.method.as_str(), path) {
            ("GET", "/v1/payment_methods") if request.path.contains("customer=cus_declines") => {
                (200, json!({"object": "list", "data": [{"id": "pm_declines"}]}))
            }
            ("GET", "/v1/payment_methods") => (200, json!({"object": "list", "data": [{"id": "pm_card_1"}]})),
            ("POST", "/v1/payment_intents") if request.body.contains("pm_declines") => (
                402,
                json!({"error": {"type": "card_error", "code": "card_declined", "message": "Your card was declined."}}),
            ),
            ("POST", "/v1/payment_intents") => (200, json!({"id": "pi_123", "status": "succeeded"})),
            _ => (404, json!({"error": {"message": "no such route"}})),
        };
        (status, "application/json", body.to_string())
    })
    .await;
    let stripe = StripePayments::new(&fake.url, "sk_test_abc", "https://app.example.com/billing");
    let charge = SavedCardCharge {
        workspace_id: "ws_01JD3QZ9R6X4Y7T2W8V5N1M0KA".into(),
        customer: "cus_1".into(),
        amount_minor: 5000,
        currency: "USD".into(),
        idempotency_key: "evt_01JD3QZ9R6X4Y7T2W8V5N1M0KA".into(),
    };
    assert_eq!(stripe.charge_saved_card(&charge).await.unwrap(), "pi_123");
    let requests = fake.requests();
    let (methods, intent) = (&requests[0], &requests[1]);
    assert_eq!(
        (methods.method.as_str(), methods.path.as_str()),
        ("GET", "/v1/payment_methods?customer=cus_1&type=card&limit=1")
    );
    assert_eq!(intent.header("authorization"), Some("Bearer sk_test_abc"));
    assert_eq!(intent.header("idempotency-key"), Some("evt_01JD3QZ9R6X4Y7T2W8V5N1M0KA"));
    let form: BTreeMap<String, String> = intent.form().into_iter().collect();
    for (field, value) in [
        ("amount", "5000"),
        ("currency", "usd"),
        ("customer", "cus_1"),
        ("payment_method", "pm_card_1"),
        ("off_session", "true"),
        ("confirm", "true"),
        ("metadata[workspace_id]", "ws_01JD3QZ9R6X4Y7T2W8V5N1M0KA"),
        ("metadata[purpose]", "autocharge"),
    ] {
        assert_eq!(form.get(field).map(String::as_str), Some(value), "{field}");
    }
    let declined = SavedCardCharge {
        customer: "cus_declines".into(),
        ..charge
    };
    assert!(
        matches!(stripe.charge_saved_card(&declined).await, Err(ProviderError::Rejected(m)) if m.contains("declined"))
    );

    // Stripe's `payment_intent.succeeded` credits an auto-charge; a checkout's own payment
    // intent (no auto-charge purpose) credits nothing, its session does.
    let succeeded = |metadata: Value| {
        json!({"id": "evt_2", "type": "payment_intent.succeeded", "data": {"object": {
            "id": "pi_123", "amount_received": 5000, "currency": "usd", "customer": "cus_1", "metadata": metadata}}})
        .to_string()
    };
    let paid = switchboard_payments::payment(
        succeeded(json!({"workspace_id": "ws_01JD3QZ9R6X4Y7T2W8V5N1M0KA", "purpose": "autocharge"})).as_bytes(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        (paid.id.as_str(), paid.kind, paid.amount_minor),
        ("pi_123", LedgerKind::AutoCharge, 5000)
    );
    assert_eq!(
        switchboard_payments::payment(succeeded(json!({})).as_bytes()).unwrap(),
        None
    );
}

async fn autocharge(app: &TestApp, t: &Tenant, body: Value) -> switchboard_tests::Res {
    app.post("/v1/billing/autocharge")
        .bearer(&t.key)
        .json(body)
        .send()
        .await
}

/// Places a one-minute call from `line` and runs it until it has ended and been charged.
async fn call_to_the_end(app: &TestApp, t: &Tenant, (agent, number): (&str, &str)) {
    let res = place(app, t, agent, number, &phone_ending("0100")).await;
    res.expect(201);
    app.run_call_jobs_until_final(t, res.id()).await;
}

#[tokio::test]
async fn auto_charge_starts_one_charge_per_fall_below_the_threshold() {
    let app = TestApp::spawn().await;
    let t = app.trial_tenant().await;
    let (agent, number) = line(&app, &t, 60).await;
    let line = (agent.as_str(), number.as_str());
    let before = app.snapshot(&t.workspace_id).await;
    let refused = autocharge(&app, &t, json!({"enabled": true})).await;
    refused.expect_error(409, "payment_method_required");
    assert_eq!(refused.param(), "enabled");
    assert_eq!(app.snapshot(&t.workspace_id).await, before, "no card, nothing set");

    // A paid top-up saves the card.
    top_up(&app, &t, 500).await.expect(201);
    app.deliver_payments().await;
    let on = autocharge(
        &app,
        &t,
        json!({"enabled": true, "threshold_minor": 990, "amount_minor": 2000}),
    )
    .await;
    on.expect(200);
    assert_eq!(
        (
            &on.body["object"],
            &on.body["enabled"],
            &on.body["payment_method_saved"]
        ),
        (&json!("autocharge"), &json!(true), &json!(true))
    );

    // 1,000 available; three calls end at once, each charged 12: the first takes the balance
    // below 990, and that crossing alone is noted.
    let placed: Vec<String> = stream::iter(0..3)
        .map(|_| async {
            place(&app, &t, line.0, line.1, &phone_ending("0100"))
                .await
                .id()
                .to_owned()
        })
        .buffer_unordered(3)
        .collect()
        .await;
    for id in &placed {
        app.run_call_jobs_until_final(&t, id).await;
    }
    let low = |types: Vec<String>| types.iter().filter(|e| *e == "billing.low_balance").count();
    assert_eq!(low(app.event_types(&t.workspace_id).await), 1);
    // The event router starts the charge; the stream delivering the event again starts no
    // second one.
    app.route_events(&t.workspace_id).await;
    let event: switchboard_core::model::Event = app
        .events(&t.workspace_id)
        .await
        .into_iter()
        .find(|e| e["event"] == "billing.low_balance")
        .map(|e| serde_json::from_value(e).unwrap())
        .unwrap();
    app.event_router
        .route(&t.workspace_id, &event, app.clock.now())
        .await
        .unwrap();
    let delivered = app.deliver_payments().await;
    assert_eq!(
        delivered.len(),
        2,
        "the provider was asked twice, with one idempotency key"
    );
    let credits: Vec<Value> = ledger(&app, &t)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "auto_charge")
        .collect();
    assert_eq!(credits.len(), 1, "{credits:?}");
    assert_eq!(credits[0]["amount_minor"], 2000);
    let wallet = balance(&app, &t).await;
    assert_eq!(wallet["balance_minor"], 1000 - 36 + 2000);
    assert_eq!(sum(&ledger(&app, &t).await), wallet["balance_minor"].as_i64().unwrap());

    // Above the threshold again, calls note nothing; once it is raised above the balance, the
    // next charge is a new crossing.
    call_to_the_end(&app, &t, line).await;
    assert_eq!(low(app.event_types(&t.workspace_id).await), 1);
    autocharge(&app, &t, json!({"threshold_minor": 5000})).await.expect(200);
    call_to_the_end(&app, &t, line).await;
    call_to_the_end(&app, &t, line).await;
    assert_eq!(low(app.event_types(&t.workspace_id).await), 2);
}

#[tokio::test]
async fn auto_charge_refuses_bad_input_and_belongs_to_its_workspace() {
    let app = TestApp::spawn().await;
    let t = app.trial_tenant().await;
    let other = app.trial_tenant().await;
    let member = app.key(&t, "write").await;
    let before = app.snapshot(&t.workspace_id).await;
    app.expect_refusals(
        Method::POST,
        "/v1/billing/autocharge",
        &t.key,
        &[
            (
                json!({"threshold_minor": -1}),
                422,
                "validation_failed",
                "threshold_minor",
            ),
            (
                json!({"threshold_minor": 1_000_001}),
                422,
                "validation_failed",
                "threshold_minor",
            ),
            (json!({"amount_minor": 499}), 422, "validation_failed", "amount_minor"),
            (
                json!({"amount_minor": 1_000_001}),
                422,
                "validation_failed",
                "amount_minor",
            ),
            (json!({"enabled": "yes"}), 400, "invalid_type", "enabled"),
            (json!({"card": "4242"}), 400, "unknown_field", "card"),
        ],
    )
    .await;
    app.post("/v1/billing/autocharge")
        .bearer(&member)
        .json(json!({"threshold_minor": 0}))
        .send()
        .await
        .expect_error(403, "insufficient_scope");
    assert_eq!(app.snapshot(&t.workspace_id).await, before);

    autocharge(&app, &other, json!({"threshold_minor": 4242}))
        .await
        .expect(200);
    let mine = app.get("/v1/billing/autocharge").bearer(&t.key).send().await;
    mine.expect(200);
    assert_eq!(
        (
            &mine.body["enabled"],
            &mine.body["threshold_minor"],
            &mine.body["amount_minor"]
        ),
        (&json!(false), &json!(100), &json!(2000))
    );
}

#[tokio::test]
async fn usage_adds_up_calls_minutes_and_cost_by_day_agent_and_campaign() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number) = line(&app, &t, 300).await;
    let (other_agent, other_number) = line(&app, &t, 300).await;
    let mut ids = Vec::new();
    for (agent, number, to) in [
        (&agent, &number, phone_ending("0100")),
        (&agent, &number, phone_ending("0001")),
        (&other_agent, &other_number, phone_ending("0100")),
    ] {
        ids.push(place(&app, &t, agent, number, &to).await.id().to_owned());
    }
    for id in &ids {
        app.run_call_jobs_until_final(&t, id).await;
    }
    let mut cost = 0;
    let mut minutes = 0;
    for id in &ids {
        let call = app.get(&format!("/v1/calls/{id}")).bearer(&t.key).send().await;
        cost += call.body["cost"]["amount_minor"].as_i64().unwrap();
        minutes += call.body["cost"]["billed_minutes"].as_i64().unwrap();
    }
    let today = app.clock.now().date_naive().to_string();
    let by_day = app.get("/v1/billing/usage").bearer(&t.key).send().await;
    by_day.expect(200);
    assert_eq!(
        (&by_day.body["object"], &by_day.body["group_by"], &by_day.body["to"]),
        (&json!("usage"), &json!("day"), &json!(today))
    );
    assert_eq!(
        by_day.body["totals"],
        json!({"calls": 3, "minutes": minutes, "cost_minor": cost})
    );
    assert_eq!(
        by_day.body["data"],
        json!([{"key": today, "calls": 3, "minutes": minutes, "cost_minor": cost}])
    );
    let by_agent = app.get("/v1/billing/usage?group_by=agent").bearer(&t.key).send().await;
    let lines = by_agent.body["data"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    let mine = lines.iter().find(|l| l["key"] == agent.as_str()).unwrap();
    assert_eq!(mine["calls"], 2);
    assert_eq!(by_agent.body["totals"]["cost_minor"], cost);
    let by_campaign = app
        .get("/v1/billing/usage?group_by=campaign")
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(by_campaign.body["data"], json!([]), "no call was a campaign's");
    // Another workspace's usage is its own.
    let other = app.trial_tenant().await;
    let theirs = app.get("/v1/billing/usage").bearer(&other.key).send().await;
    assert_eq!(theirs.body["totals"]["calls"], 0);
    for bad in [
        "/v1/billing/usage?group_by=week",
        "/v1/billing/usage?from=2026-12-05&to=2026-12-01",
        "/v1/billing/usage?from=2024-01-01&to=2026-12-01",
        "/v1/billing/usage?from=soon",
    ] {
        app.get(bad).bearer(&t.key).send().await.expect(400);
    }
}

#[tokio::test]
async fn quotas_show_each_plan_limit_with_what_the_workspace_uses() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number) = line(&app, &t, 300).await;
    place(&app, &t, &agent, &number, &phone_ending("0100"))
        .await
        .expect(201);
    let res = app.get("/v1/billing/quotas").bearer(&t.key).send().await;
    res.expect(200);
    assert_eq!(
        (&res.body["object"], &res.body["plan"]),
        (&json!("quotas"), &json!("starter"))
    );
    let of = |name: &str| {
        res.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!((&of("agents")["limit"], &of("agents")["used"]), (&json!(10), &json!(1)));
    assert_eq!(
        (&of("active_calls")["limit"], &of("active_calls")["used"]),
        (&json!(20), &json!(1))
    );
    assert_eq!(
        (&of("api_keys")["limit"], &of("api_keys")["used"]),
        (&json!(10), &json!(1))
    );
    assert_eq!(of("webhook_endpoints")["used"], 0);
    assert_eq!(
        (&of("writes_per_minute")["limit"], &of("writes_per_minute")["used"]),
        (&json!(20), &json!(null))
    );
    let other = app.trial_tenant().await;
    let theirs = app.get("/v1/billing/quotas").bearer(&other.key).send().await;
    let agents = theirs.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "agents")
        .cloned()
        .unwrap();
    assert_eq!(agents["used"], 0);
}

/// A call whose end is never reported (a lost callback; here its simulated steps never run)
/// keeps its hold only until it is overdue, its longest duration and a grace after it began:
/// then, its provider not knowing it ended, it fails and its hold goes back. Before that, the
/// check only waits again.
#[tokio::test]
async fn a_call_whose_end_is_never_reported_fails_once_overdue_and_its_hold_goes_back() {
    let app = TestApp::spawn().await;
    let (t, id) = five_minute_call(&app).await;
    let due = app.clock.now() + chrono::Duration::seconds(300) + switchboard_domain::calls::OVERDUE_GRACE;
    let check = overdue_check(&t, &id, due);
    let held = |wallet: Value| (wallet["held_minor"].clone(), wallet["active_calls"].clone());

    app.clock.advance(chrono::Duration::seconds(300));
    call_worker::run(&app.call_worker, check.clone()).await.unwrap();
    assert_eq!(held(balance(&app, &t).await), (json!(60), json!(1)), "not yet due");

    app.clock.advance(switchboard_domain::calls::OVERDUE_GRACE);
    call_worker::run(&app.call_worker, check.clone()).await.unwrap();
    let call = app.get(&format!("/v1/calls/{id}")).bearer(&t.key).send().await;
    assert_eq!(
        (&call.body["status"], &call.body["ended_reason"]),
        (&json!("failed"), &json!("exceeded_max_duration")),
        "{}",
        call.text
    );
    let after = balance(&app, &t).await;
    assert_eq!(held(after.clone()), (json!(0), json!(0)));
    assert_eq!(after["balance_minor"], json!(500), "nothing charged");
    // Checked again (the queue delivers at least once): nothing more happens.
    call_worker::run(&app.call_worker, check).await.unwrap();
    assert_eq!(balance(&app, &t).await, after);
}

/// An answered call whose end is never reported is ended once overdue as having talked until
/// then: charged, never more than it held.
#[tokio::test]
async fn an_answered_call_whose_end_is_never_reported_is_charged_what_it_held_once_overdue() {
    let app = TestApp::spawn().await;
    let (t, id) = five_minute_call(&app).await;
    let answered = StatusReport {
        status: CallStatus::InProgress,
        at: app.clock.now(),
        duration_seconds: None,
        reason: None,
    };
    calls::report(app.call_worker.network.book(), &t.workspace_id, &id, answered)
        .await
        .unwrap();
    app.clock
        .advance(chrono::Duration::seconds(300) + switchboard_domain::calls::OVERDUE_GRACE);
    let check = overdue_check(&t, &id, app.clock.now());
    call_worker::run(&app.call_worker, check).await.unwrap();
    let call = app.get(&format!("/v1/calls/{id}")).bearer(&t.key).send().await;
    assert_eq!(
        (
            &call.body["status"],
            &call.body["ended_reason"],
            &call.body["cost"]["amount_minor"]
        ),
        (&json!("completed"), &json!("exceeded_max_duration"), &json!(60)),
        "five minutes held, five charged: {}",
        call.text
    );
    let after = balance(&app, &t).await;
    assert_eq!(
        (&after["balance_minor"], &after["held_minor"], &after["active_calls"]),
        (&json!(440), &json!(0), &json!(0))
    );
}
