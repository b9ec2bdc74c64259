//! Phone numbers: imported once across all workspaces, answered by an agent, released.

use chrono::{DateTime, NaiveDate, Utc};
use http::Method;
use serde_json::json;
use switchboard_core::StoreError;
use switchboard_core::model::{
    AutoCharge, Call, Event, PhoneNumber, SpendingControls, UsageGroup, UsageRecord, Wallet,
};
use switchboard_core::ports::{
    AutoChargeChange, Charge, ControlsChange, Credit, Directory, HeldCall, Hold, Versioned, Wallets,
};
use switchboard_tests::TestApp;

fn number() -> String {
    format!("+1415555{:04}", 1000 + rand::random::<u16>() % 9000)
}

#[tokio::test]
async fn a_number_is_imported_with_the_agent_that_answers_it() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let agent = app
        .create(&t, "/v1/agents", json!({"name": "Reception", "system_prompt": "p"}))
        .await;
    let e164 = number();
    let national = format!("({}) {}-{}", &e164[2..5], &e164[5..8], &e164[8..]);
    let res = app
        .post("/v1/numbers/import")
        .bearer(&t.key)
        .json(json!({"phone_number": national, "agent_id": agent, "label": "Front desk"}))
        .send()
        .await;
    res.expect(201);
    assert!(res.id().starts_with("num_"));
    assert_eq!(
        (
            res.body["phone_number"].as_str(),
            res.body["provider"].as_str(),
            res.body["agent_id"].as_str(),
            res.body["status"].as_str()
        ),
        (
            Some(e164.as_str()),
            Some("simulator"),
            Some(agent.as_str()),
            Some("active")
        )
    );
    // An inbound call to the number finds its workspace before anything else is known.
    assert_eq!(
        app.store.number_owner(&e164).await.unwrap(),
        Some((t.workspace_id.clone(), res.id().to_owned()))
    );
    let list = app.get("/v1/numbers").bearer(&t.key).send().await;
    assert_eq!(list.body["data"][0]["id"], res.id());
}

#[tokio::test]
async fn a_number_belongs_to_one_workspace_until_released() {
    let app = TestApp::spawn().await;
    let (a, b) = (app.tenant().await, app.tenant().await);
    let e164 = number();
    let id = app
        .create_at(&a, "/v1/numbers/import", json!({"phone_number": e164}))
        .await;
    for who in [&a, &b] {
        let res = app
            .post("/v1/numbers/import")
            .bearer(&who.key)
            .json(json!({"phone_number": e164}))
            .send()
            .await;
        res.expect_error(409, "number_in_use");
        assert_eq!(res.param(), "phone_number");
    }
    let write = app.key(&a, "write").await;
    app.post(&format!("/v1/numbers/{id}/release"))
        .bearer(&write)
        .send()
        .await
        .expect_error(403, "insufficient_scope");
    let released = app
        .post(&format!("/v1/numbers/{id}/release"))
        .bearer(&a.key)
        .send()
        .await;
    released.expect(200);
    assert_eq!(released.body["status"], "released");
    let again = app
        .post(&format!("/v1/numbers/{id}/release"))
        .bearer(&a.key)
        .send()
        .await;
    again.expect(200);
    assert_eq!(
        again.header("etag"),
        released.header("etag"),
        "releasing twice changes nothing"
    );
    assert_eq!(app.store.number_owner(&e164).await.unwrap(), None);
    app.create_at(&b, "/v1/numbers/import", json!({"phone_number": e164}))
        .await;
}

#[tokio::test]
async fn two_workspaces_racing_for_a_number_leave_one_out() {
    let app = TestApp::spawn().await;
    let (a, b) = (app.tenant().await, app.tenant().await);
    let e164 = number();
    let results = futures::future::join_all([&a, &b, &a, &b].map(|t| {
        app.post("/v1/numbers/import")
            .bearer(&t.key)
            .json(json!({"phone_number": e164}))
            .send()
    }))
    .await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 409, 409, 409]);
}

#[tokio::test]
async fn the_answering_agent_must_be_the_workspaces() {
    let app = TestApp::spawn().await;
    let (t, other) = (app.tenant().await, app.tenant().await);
    let theirs = app
        .create(&other, "/v1/agents", json!({"name": "x", "system_prompt": "p"}))
        .await;
    for agent in [theirs.as_str(), "agt_01JD3QZ9R6X4Y7T2W8V5N1M0KA", "nope"] {
        let res = app
            .post("/v1/numbers/import")
            .bearer(&t.key)
            .json(json!({"phone_number": number(), "agent_id": agent}))
            .send()
            .await;
        res.expect_error(404, "agent_not_found");
        assert_eq!(res.param(), "agent_id");
    }
    let id = app
        .create_at(&t, "/v1/numbers/import", json!({"phone_number": number()}))
        .await;
    app.patch(&format!("/v1/numbers/{id}"))
        .bearer(&t.key)
        .json(json!({"agent_id": theirs}))
        .send()
        .await
        .expect_error(404, "agent_not_found");
    let mine = app
        .create(&t, "/v1/agents", json!({"name": "mine", "system_prompt": "p"}))
        .await;
    let res = app
        .patch(&format!("/v1/numbers/{id}"))
        .bearer(&t.key)
        .json(json!({"agent_id": mine}))
        .send()
        .await;
    assert_eq!(res.body["agent_id"], mine.as_str());
    let res = app
        .patch(&format!("/v1/numbers/{id}"))
        .bearer(&t.key)
        .json(json!({"agent_id": null}))
        .send()
        .await;
    assert!(res.body["agent_id"].is_null());
    app.post("/v1/numbers/import")
        .bearer(&t.key)
        .json(json!({"phone_number": "12"}))
        .send()
        .await
        .expect_error(400, "invalid_phone_number");
}

/// An area code numbers are offered in, picked at random so that tests sharing the table do
/// not buy the same numbers.
fn area_code() -> &'static str {
    const AREAS: [&str; 16] = [
        "201", "202", "206", "212", "213", "305", "312", "404", "415", "503", "512", "602", "617", "702", "718", "919",
    ];
    AREAS[rand::random::<u32>() as usize % AREAS.len()]
}

/// One of the numbers the simulator offers in a random area code.
async fn offered(app: &TestApp, t: &switchboard_tests::Tenant) -> String {
    let res = app
        .post("/v1/numbers/search")
        .bearer(&t.key)
        .json(json!({"area_code": area_code(), "limit": 50}))
        .send()
        .await;
    res.expect(200);
    let offers = res.body["data"].as_array().unwrap();
    offers[rand::random::<u32>() as usize % offers.len()]["phone_number"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn provision(app: &TestApp, t: &switchboard_tests::Tenant, phone: &str) -> switchboard_tests::Res {
    app.post("/v1/numbers/provision")
        .bearer(&t.key)
        .json(json!({"phone_number": phone, "label": "Sales"}))
        .send()
        .await
}

async fn number_fees(app: &TestApp, t: &switchboard_tests::Tenant) -> Vec<i64> {
    let res = app
        .get("/v1/billing/history?kind=number_fee")
        .bearer(&t.key)
        .send()
        .await;
    res.expect(200);
    res.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["amount_minor"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn numbers_are_searched_in_the_workspaces_country_by_area_code_and_digits() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let res = app
        .post("/v1/numbers/search")
        .bearer(&t.key)
        .json(json!({"area_code": "212", "contains": "0105", "limit": 3}))
        .send()
        .await;
    res.expect(200);
    assert_eq!(res.body["object"], "list");
    let offers = res.body["data"].as_array().unwrap();
    assert_eq!(offers.len(), 1, "{}", res.text);
    assert_eq!(
        (
            &offers[0]["object"],
            &offers[0]["phone_number"],
            &offers[0]["country"],
            &offers[0]["monthly_fee_minor"]
        ),
        (
            &json!("available_phone_number"),
            &json!("+12125550105"),
            &json!("US"),
            &json!(150)
        )
    );
    let some = app
        .post("/v1/numbers/search")
        .bearer(&t.key)
        .json(json!({"limit": 5}))
        .send()
        .await;
    some.expect(200);
    assert_eq!(some.body["data"].as_array().unwrap().len(), 5);
    let british = app
        .post("/v1/numbers/search")
        .bearer(&t.key)
        .json(json!({"country": "gb", "limit": 2}))
        .send()
        .await;
    british.expect(200);
    assert!(
        british.body["data"][0]["phone_number"]
            .as_str()
            .unwrap()
            .starts_with("+44")
    );

    let before = app.snapshot(&t.workspace_id).await;
    app.expect_refusals(
        Method::POST,
        "/v1/numbers/search",
        &t.key,
        &[
            (json!({"country": "XX"}), 400, "invalid_value", "country"),
            (json!({"area_code": "41a"}), 400, "invalid_value", "area_code"),
            (json!({"contains": "12345678901"}), 400, "invalid_value", "contains"),
            (json!({"limit": 0}), 422, "validation_failed", "limit"),
            (json!({"limit": 51}), 422, "validation_failed", "limit"),
            (json!({"pattern": "1"}), 400, "unknown_field", "pattern"),
        ],
    )
    .await;
    assert_eq!(app.snapshot(&t.workspace_id).await, before, "a search writes nothing");
}

#[tokio::test]
async fn a_provisioned_number_is_charged_its_first_month_and_once_a_month_after() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let phone = offered(&app, &t).await;
    let res = provision(&app, &t, &phone).await;
    res.expect(201);
    assert_eq!(
        (
            &res.body["phone_number"],
            &res.body["source"],
            &res.body["monthly_fee_minor"],
            &res.body["status"]
        ),
        (&json!(phone), &json!("provisioned"), &json!(150), &json!("active"))
    );
    let id = res.id().to_owned();
    assert_eq!(number_fees(&app, &t).await, [-150]);
    let renews_at: chrono::DateTime<chrono::Utc> = res.body["renews_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        renews_at.date_naive(),
        (app.clock.now() + chrono::Months::new(1)).date_naive()
    );

    // Another workspace cannot buy or import it.
    let other = app.tenant().await;
    provision(&app, &other, &phone).await.expect_error(409, "number_in_use");

    // Nothing is due before the month is over; then the fee is charged once, however often the job runs.
    assert_eq!(app.renew_numbers(&t).await, Default::default());
    app.clock.advance(chrono::Duration::days(32));
    assert_eq!(app.renew_numbers(&t).await.charged, 1);
    assert_eq!(app.renew_numbers(&t).await.charged, 0);
    assert_eq!(number_fees(&app, &t).await, [-150, -150]);
    let renewed = app.get(&format!("/v1/numbers/{id}")).bearer(&t.key).send().await;
    let next: chrono::DateTime<chrono::Utc> = renewed.body["renews_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(next, renews_at + chrono::Months::new(1));

    // Released, it is no longer charged.
    app.post(&format!("/v1/numbers/{id}/release"))
        .bearer(&t.key)
        .send()
        .await
        .expect(200);
    app.clock.advance(chrono::Duration::days(62));
    assert_eq!(app.renew_numbers(&t).await, Default::default());
    assert_eq!(number_fees(&app, &t).await.len(), 2);
    let wallet = app.get("/v1/billing/balance").bearer(&t.key).send().await;
    assert_eq!(wallet.body["balance_minor"], 100_500 - 300);
}

#[tokio::test]
async fn a_number_the_wallet_cannot_pay_for_is_not_bought_and_an_unpaid_one_is_released_after_seven_days() {
    let app = TestApp::spawn().await;
    let t = app.trial_tenant().await;
    let phone = offered(&app, &t).await;
    let bought = provision(&app, &t, &phone).await;
    bought.expect(201);
    // 350 of the trial's 500 left; a call in progress holds 300 of them.
    let agent = app
        .create(
            &t,
            "/v1/agents",
            json!({"name": "Long", "system_prompt": "p", "max_call_duration": 1500}),
        )
        .await;
    app.post("/v1/calls")
        .bearer(&t.key)
        .json(json!({"agent_id": agent, "phone_number_id": bought.id(), "to": switchboard_tests::phone_ending("0100")}))
        .send()
        .await
        .expect(201);
    let before = app.snapshot(&t.workspace_id).await;
    provision(&app, &t, &offered(&app, &t).await)
        .await
        .expect_error(402, "insufficient_funds");
    assert_eq!(
        app.snapshot(&t.workspace_id).await,
        before,
        "nothing bought, nothing written"
    );

    app.clock.advance(chrono::Duration::days(31));
    let first = app.renew_numbers(&t).await;
    assert_eq!((first.charged, first.past_due), (0, 1));
    let overdue = app
        .get(&format!("/v1/numbers/{}", bought.id()))
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(overdue.body["status"], "active");
    assert!(overdue.body["past_due_since"].is_string(), "{}", overdue.text);
    for _ in 0..6 {
        app.clock.advance(chrono::Duration::days(1));
        assert_eq!(app.renew_numbers(&t).await.past_due, 1);
    }
    // The day it is due to go, the workspace's provider cannot be reached (here: it moved to
    // its own Twilio account and has given no credential): the number stays, due the next day.
    let mode = |mode: &'static str| {
        app.put("/v1/onboarding/mode")
            .bearer(&t.key)
            .json(json!({ "mode": mode }))
            .send()
    };
    mode("byok").await.expect(200);
    app.clock.advance(chrono::Duration::days(1));
    let failed = app.renew_numbers(&t).await;
    assert_eq!((failed.released, failed.failed), (0, 1));
    let kept = app
        .get(&format!("/v1/numbers/{}", bought.id()))
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(kept.body["status"], "active", "{}", kept.text);
    mode("bundled").await.expect(200);
    app.clock.advance(chrono::Duration::days(1));
    assert_eq!(app.renew_numbers(&t).await.released, 1);
    let gone = app
        .get(&format!("/v1/numbers/{}", bought.id()))
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(
        (&gone.body["status"], &gone.body["renews_at"]),
        (&json!("released"), &json!(null))
    );
    assert_eq!(number_fees(&app, &t).await, [-150], "an unpaid month is never charged");
    // Released, anyone may buy it.
    app.tenant().await;
    provision(&app, &app.tenant().await, &phone).await.expect(201);
}

#[tokio::test]
async fn provisioning_refuses_bad_input_and_members() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let member = app.key(&t, "write").await;
    let before = app.snapshot(&t.workspace_id).await;
    app.expect_refusals(
        Method::POST,
        "/v1/numbers/provision",
        &t.key,
        &[
            (json!({}), 400, "missing_field", "phone_number"),
            (
                json!({"phone_number": "12"}),
                400,
                "invalid_phone_number",
                "phone_number",
            ),
            (
                json!({"phone_number": "+14155550123", "agent_id": "agt_01JD3QZ9R6X4Y7T2W8V5N1M0KA"}),
                404,
                "agent_not_found",
                "agent_id",
            ),
        ],
    )
    .await;
    app.post("/v1/numbers/provision")
        .bearer(&member)
        .json(json!({"phone_number": "+14155550123"}))
        .send()
        .await
        .expect_error(403, "insufficient_scope");
    assert_eq!(app.snapshot(&t.workspace_id).await, before);
}

/// The wallet port of a numbers function whose table refuses every fee: what a purchase meets
/// when its function stops between buying a number and charging its first month.
struct FeesRefused(switchboard_store::DynamoStore);

#[async_trait::async_trait]
impl Wallets for FeesRefused {
    async fn wallet(&self, ws: &str, now: DateTime<Utc>) -> Result<Option<Wallet>, StoreError> {
        self.0.wallet(ws, now).await
    }

    async fn charge_number(
        &self,
        ws: &str,
        current: &Versioned<PhoneNumber>,
        next: &PhoneNumber,
        fee: Option<&Charge>,
        events: &[Event],
    ) -> Result<Versioned<PhoneNumber>, StoreError> {
        match fee {
            Some(_) => Err(StoreError::Throttled(anyhow::anyhow!("the table is busy"))),
            None => self.0.charge_number(ws, current, next, None, events).await,
        }
    }

    async fn set_spending_controls(
        &self,
        ws: &str,
        change: &ControlsChange,
        now: DateTime<Utc>,
    ) -> Result<SpendingControls, StoreError> {
        self.0.set_spending_controls(ws, change, now).await
    }

    async fn insert_held_call(&self, ws: &str, call: &Call, hold: &Hold) -> Result<Versioned<Call>, StoreError> {
        self.0.insert_held_call(ws, call, hold).await
    }

    async fn held_for(&self, ws: &str, call_id: &str) -> Result<Option<HeldCall>, StoreError> {
        self.0.held_for(ws, call_id).await
    }

    async fn held_call(
        &self,
        ws: &str,
        call_id: &str,
    ) -> Result<Option<(Versioned<Call>, Option<HeldCall>)>, StoreError> {
        self.0.held_call(ws, call_id).await
    }

    async fn end_held_call(
        &self,
        ws: &str,
        previous: &Versioned<Call>,
        value: &Call,
        events: &[Event],
        held: HeldCall,
        charge: &Charge,
    ) -> Result<Versioned<Call>, StoreError> {
        self.0.end_held_call(ws, previous, value, events, held, charge).await
    }

    async fn usage(
        &self,
        ws: &str,
        group: UsageGroup,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<UsageRecord>, StoreError> {
        self.0.usage(ws, group, from, to).await
    }

    async fn credit(&self, ws: &str, credit: &Credit, events: &[Event]) -> Result<bool, StoreError> {
        self.0.credit(ws, credit, events).await
    }

    async fn set_autocharge(
        &self,
        ws: &str,
        change: &AutoChargeChange,
        now: DateTime<Utc>,
    ) -> Result<AutoCharge, StoreError> {
        self.0.set_autocharge(ws, change, now).await
    }

    async fn due_renewals(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<(String, String)>, StoreError> {
        self.0.due_renewals(from, to).await
    }

    async fn note_low_balance(&self, ws: &str, event: &Event) -> Result<bool, StoreError> {
        self.0.note_low_balance(ws, event).await
    }
}

/// A number bought whose first month was never charged is billed by the next day's renewals,
/// not kept for nothing.
#[tokio::test]
async fn a_bought_number_whose_first_charge_never_landed_is_billed_by_the_renewals() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let state = numbers::State {
        numbers: std::sync::Arc::new(app.store.clone()),
        agents: std::sync::Arc::new(app.store.clone()),
        accounts: std::sync::Arc::new(app.store.clone()),
        wallets: std::sync::Arc::new(FeesRefused(app.store.clone())),
        providers: app.providers.clone(),
    };
    let platform = switchboard_runtime::platform(&app.store, b"numbers test key", app.clock.clone(), 1000);
    let function = switchboard_http::Service::new(platform, state, numbers::routes());
    let phone = offered(&app, &t).await;
    let bought = app
        .post("/v1/numbers/provision")
        .bearer(&t.key)
        .json(json!({"phone_number": phone, "label": "Sales"}))
        .send_to(&function)
        .await;
    assert_eq!(bought.status, 503, "{}", bought.text);
    let listed = app.get("/v1/numbers").bearer(&t.key).send().await;
    let kept = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["phone_number"] == phone.as_str())
        .cloned()
        .expect("the number was bought, and is kept");
    assert_eq!(number_fees(&app, &t).await, Vec::<i64>::new());

    app.clock.advance(chrono::Duration::days(1));
    assert_eq!(app.renew_numbers(&t).await.charged, 1);
    assert_eq!(number_fees(&app, &t).await, [-150]);
    let renewed = app
        .get(&format!("/v1/numbers/{}", kept["id"].as_str().unwrap()))
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(renewed.body["status"], "active");
}
