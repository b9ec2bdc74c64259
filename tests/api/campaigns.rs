//! Campaigns: settings and rule books, audiences, the lifecycle, and the dialer's guarantees:
//! slots never over-used, no target dialled twice, nothing lost when a worker stops, windows in
//! the callee's time (DST too), do-not-call numbers skipped whenever they were added.

use serde_json::{Value, json};
use switchboard_core::model::{Target, TargetStatus};
use switchboard_core::ports::{CampaignStore, Claim, DncStore};
use switchboard_tests::{Options, Res, Tenant, TestApp, draft_campaign, phone_ending, phones_ending, unique_phone};

/// Tuesday 2 June 2026, 12:00 in New York: inside the campaigns' windows.
fn noon() -> chrono::DateTime<chrono::Utc> {
    "2026-06-02T16:00:00Z".parse().unwrap()
}

async fn app_at(start: chrono::DateTime<chrono::Utc>) -> TestApp {
    TestApp::with(Options {
        start,
        signup_plan: switchboard_core::model::Plan::Enterprise,
        ..Options::default()
    })
    .await
}

async fn campaign(app: &TestApp, t: &Tenant, id: &str) -> Value {
    let res = app.get(&format!("/v1/campaigns/{id}")).bearer(&t.key).send().await;
    res.expect(200);
    res.body.clone()
}

async fn upload(app: &TestApp, t: &Tenant, id: &str, phones: &[String]) -> Res {
    let rows: Vec<Value> = phones.iter().map(|p| json!({"phone": p})).collect();
    app.post(&format!("/v1/campaigns/{id}/audience"))
        .bearer(&t.key)
        .json(json!({"rows": rows}))
        .send()
        .await
}

/// `POST /v1/campaigns/{id}/{action}` (start, pause...) with the API key.
async fn act(app: &TestApp, t: &Tenant, id: &str, action: &str) -> Res {
    app.post(&format!("/v1/campaigns/{id}/{action}"))
        .bearer(&t.key)
        .send()
        .await
}

/// A campaign with an audience, attested and started.
async fn started(app: &TestApp, t: &Tenant, settings: Value, phones: &[String]) -> String {
    let id = draft_campaign(app, t, settings).await;
    upload(app, t, &id, phones).await.expect(201);
    app.attest(t, &id).await;
    act(app, t, &id, "start").await.expect(200);
    id
}

async fn targets(app: &TestApp, t: &Tenant, id: &str) -> Vec<Target> {
    app.targets(t, id).await
}

/// A target as an import writes it.
fn pending_target(campaign_id: &str, phone: &str, now: chrono::DateTime<chrono::Utc>) -> Target {
    Target {
        id: switchboard_core::ids::new_id_at("tgt", now),
        object: switchboard_core::model::TargetObject,
        campaign_id: campaign_id.to_owned(),
        contact_id: None,
        timezone: None,
        phone: phone.to_owned(),
        name: None,
        attributes: Default::default(),
        status: TargetStatus::Pending,
        attempts: 0,
        next_attempt_at: now,
        lease_until: None,
        last_call_id: None,
        last_outcome: None,
        skip_reason: None,
        created_at: now,
        updated_at: now,
    }
}

/// The campaign's counters, read from the table.
async fn counters(app: &TestApp, t: &Tenant, id: &str) -> switchboard_core::model::CampaignStats {
    app.store
        .stats(&t.workspace_id, &[id.to_owned()])
        .await
        .unwrap()
        .remove(id)
        .unwrap()
}

async fn runs(app: &TestApp, t: &Tenant, id: &str) -> Vec<Value> {
    let res = app
        .get(&format!("/v1/campaigns/{id}/runs?limit=200"))
        .bearer(&t.key)
        .send()
        .await;
    res.expect(200);
    res.body["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_campaign_is_a_draft_with_a_rule_book_until_it_starts() {
    let app = app_at(noon()).await;
    let t = app.tenant().await;
    let id = draft_campaign(
        &app,
        &t,
        json!({"nl_prompt": "Remind patients their yearly check-up is due. Offer to book it."}),
    )
    .await;
    let got = campaign(&app, &t, &id).await;
    assert_eq!(
        (got["object"].as_str(), got["status"].as_str()),
        (Some("campaign"), Some("draft"))
    );
    assert!(
        got["rule_book"]["system_prompt"]
            .as_str()
            .unwrap()
            .contains("yearly check-up")
    );
    assert_eq!(
        got["rule_book"]["opening"],
        "Hi! I'm calling about this: Remind patients their yearly check-up is due."
    );
    assert_eq!(got["stats"]["targets_total"], 0);
    app.patch(&format!("/v1/campaigns/{id}"))
        .bearer(&t.key)
        .json(json!({"max_concurrent_calls": 7, "call_window": {"start": "10:00", "end": "18:00", "days": ["mon"]}}))
        .send()
        .await
        .expect(200);
    let got = campaign(&app, &t, &id).await;
    assert_eq!(
        (
            got["max_concurrent_calls"].as_u64(),
            got["call_window"]["days"][0].as_str()
        ),
        (Some(7), Some("mon"))
    );
    let regenerated = app
        .post(&format!("/v1/campaigns/{id}/regenerate-rule-book"))
        .bearer(&t.key)
        .send()
        .await;
    regenerated.expect(200);

    let start = act(&app, &t, &id, "start").await;
    start.expect_error(409, "campaign_not_ready");
    assert!(
        start.body["error"]["message"].as_str().unwrap().contains("audience"),
        "{}",
        start.text
    );
    assert!(
        start.body["error"]["message"].as_str().unwrap().contains("consent"),
        "{}",
        start.text
    );
    // Attesting consent takes a signed-in user, whose id is recorded.
    let res = app
        .request(http::Method::PUT, &format!("/v1/campaigns/{id}/compliance"))
        .bearer(&t.key)
        .json(json!({"consent_statement": "Everyone opted in."}))
        .send()
        .await;
    res.expect_error(403, "session_required");
    app.attest(&t, &id).await;
    assert_eq!(
        campaign(&app, &t, &id).await["compliance"]["attested_by"],
        t.user_id.as_str()
    );
    let listed = app.get("/v1/campaigns?status=draft").bearer(&t.key).send().await;
    assert_eq!(listed.body["data"][0]["id"], id.as_str());
    assert_eq!(
        app.get("/v1/campaigns?status=active").bearer(&t.key).send().await.body["data"],
        json!([])
    );
    app.delete(&format!("/v1/campaigns/{id}"))
        .bearer(&t.key)
        .send()
        .await
        .expect(200);
}

#[tokio::test]
async fn campaign_settings_are_checked() {
    let app = app_at(noon()).await;
    let t = app.tenant().await;
    let (agent, number, _) = app.phone_line(&t).await;
    let valid = json!({"name": "x", "agent_id": agent, "phone_number_id": number, "timezone": "Europe/Paris",
                       "call_window": {"start": "09:00", "end": "17:00"}});
    let before = app.snapshot(&t.workspace_id).await;
    for (change, status, code, param) in [
        (
            json!({"agent_id": "agt_01JD3QZ9R6X4Y7T2W8V5N1M0KA"}),
            404,
            "agent_not_found",
            "agent_id",
        ),
        (
            json!({"phone_number_id": "num_01JD3QZ9R6X4Y7T2W8V5N1M0KA"}),
            404,
            "phone_number_not_found",
            "phone_number_id",
        ),
        (json!({"timezone": "Mars/Olympus"}), 400, "invalid_value", "timezone"),
        (
            json!({"call_window": {"start": "18:00", "end": "09:00"}}),
            422,
            "validation_failed",
            "call_window",
        ),
        (
            json!({"call_window": {"start": "05:00", "end": "07:59"}}),
            422,
            "validation_failed",
            "call_window",
        ),
        (
            json!({"max_concurrent_calls": 0}),
            422,
            "validation_failed",
            "max_concurrent_calls",
        ),
        (
            json!({"retry_policy": {"max_attempts": 3, "retry_on": ["completed"], "retry_delay_seconds": 600}}),
            422,
            "validation_failed",
            "retry_policy.retry_on",
        ),
        (
            json!({"retry_policy": {"max_attempts": 3, "retry_on": ["busy"], "retry_delay_seconds": 5}}),
            422,
            "validation_failed",
            "retry_policy.retry_delay_seconds",
        ),
        (json!({"nl_prompt": "short"}), 422, "validation_failed", "nl_prompt"),
        (
            json!({"scheduled_start": "2020-01-01T00:00:00Z"}),
            422,
            "validation_failed",
            "scheduled_start",
        ),
    ] {
        let mut body = valid.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let res = app.post("/v1/campaigns").bearer(&t.key).json(body).send().await;
        assert_eq!(
            (res.status, res.code(), res.param()),
            (status, code, param),
            "{change}: {}",
            res.text
        );
    }
    assert_eq!(app.snapshot(&t.workspace_id).await, before, "nothing written");
}

#[tokio::test]
async fn an_audience_is_normalised_and_filtered() {
    let app = app_at(noon()).await;
    let t = app.tenant().await;
    let id = draft_campaign(&app, &t, json!({})).await;
    let (dnc, registry, cooled, fine) = (unique_phone(), unique_phone(), unique_phone(), unique_phone());
    app.post("/v1/dnc")
        .bearer(&t.key)
        .json(json!({"phone_e164": dnc}))
        .send()
        .await
        .expect(201);
    app.post("/v1/dnc")
        .bearer(&t.key)
        .json(json!({"phone_e164": registry, "list": "registry"}))
        .send()
        .await
        .expect(201);
    app.store
        .start_cooldown(
            &t.workspace_id,
            &cooled,
            "cmp_01JD3QZ9R6X4Y7T2W8V5N1M0KA",
            app.clock.now(),
        )
        .await
        .unwrap();
    let national = format!("({}) {}-{}", &fine[2..5], &fine[5..8], &fine[8..]);
    let rows = json!({"rows": [
        {"phone": national, "name": "Ada", "timezone": "America/Chicago", "attributes": {"plan": "gold"}},
        {"phone": fine}, {"phone": dnc}, {"phone": registry}, {"phone": cooled},
        {"phone": "12"}, {"phone": "+33612345678", "timezone": "Nowhere/City"}, {"phone": "0612345678", "country": "FR"}
    ]});
    let res = app
        .post(&format!("/v1/campaigns/{id}/audience"))
        .bearer(&t.key)
        .json(rows)
        .send()
        .await;
    res.expect(201);
    let counts: Vec<u64> = [
        "accepted",
        "rejected_dnc",
        "rejected_cooldown",
        "rejected_invalid",
        "rejected_duplicate",
        "total_targets",
    ]
    .iter()
    .map(|k| res.body[k].as_u64().unwrap())
    .collect();
    assert_eq!(counts, [2, 2, 1, 2, 1, 2], "{}", res.text);
    assert_eq!(
        (res.body["object"].as_str(), res.body["status"].as_str()),
        (Some("audience_import"), Some("completed"))
    );
    let listed = targets(&app, &t, &id).await;
    let ada = listed.iter().find(|x| x.phone == fine).unwrap();
    assert_eq!(
        (ada.name.as_deref(), ada.timezone.as_deref()),
        (Some("Ada"), Some("America/Chicago"))
    );
    assert_eq!(ada.attributes.get("plan").map(String::as_str), Some("gold"));
    assert!(listed.iter().any(|x| x.phone == "+33612345678"));

    // A CSV, again with a number the campaign has: a duplicate.
    let csv = format!("phone,name,segment\n{fine},Ada,vip\n{},Bob,new\n", unique_phone());
    let res = app
        .post(&format!("/v1/campaigns/{id}/audience"))
        .bearer(&t.key)
        .raw("text/csv", csv)
        .send()
        .await;
    res.expect(201);
    assert_eq!(
        (
            res.body["accepted"].as_u64(),
            res.body["rejected_duplicate"].as_u64(),
            res.body["total_targets"].as_u64()
        ),
        (Some(1), Some(1), Some(3))
    );
    let bob = targets(&app, &t, &id)
        .await
        .into_iter()
        .find(|x| x.name.as_deref() == Some("Bob"))
        .unwrap();
    assert_eq!(bob.attributes.get("segment").map(String::as_str), Some("new"));
    assert_eq!(campaign(&app, &t, &id).await["stats"]["pending"], 3);
}

#[tokio::test]
async fn a_large_audience_is_imported_in_the_background() {
    let app = app_at(noon()).await;
    let t = app.tenant().await;
    let id = draft_campaign(&app, &t, json!({})).await;
    let mut csv = String::from("phone\n");
    for n in 0..6_000 {
        csv.push_str(&format!("+1628{:07}\n", 2_000_000 + n));
    }
    csv.push_str("+16282000000\nnope\n");
    let res = app
        .post(&format!("/v1/campaigns/{id}/audience"))
        .bearer(&t.key)
        .raw("text/csv", csv)
        .send()
        .await;
    res.expect(202);
    assert_eq!(
        (res.body["status"].as_str(), res.body["rows"].as_u64()),
        (Some("processing"), Some(6_002))
    );
    let import = res.body["id"].as_str().unwrap().to_owned();
    app.attest(&t, &id).await;
    let early = act(&app, &t, &id, "start").await;
    early.expect_error(409, "campaign_not_ready");
    assert!(early.text.contains("audience import"), "{}", early.text);
    // A worker wrote ten targets of the first chunk, then stopped: the chunk is done again.
    let now = app.clock.now();
    let written: Vec<Target> = (0..10)
        .map(|n| pending_target(&id, &format!("+1628{:07}", 2_000_000 + n), now))
        .collect();
    app.store.add_targets(&t.workspace_id, &import, &written).await.unwrap();
    app.run_dialing().await;
    let done = app
        .get(&format!("/v1/campaigns/{id}/imports/{import}"))
        .bearer(&t.key)
        .send()
        .await;
    done.expect(200);
    assert_eq!(
        (
            done.body["status"].as_str(),
            done.body["accepted"].as_u64(),
            done.body["rejected_duplicate"].as_u64(),
            done.body["rejected_invalid"].as_u64(),
            done.body["total_targets"].as_u64()
        ),
        (Some("completed"), Some(6_000), Some(1), Some(1), Some(6_000)),
        "the targets written before the stop count once"
    );
    let stats = &campaign(&app, &t, &id).await["stats"];
    assert_eq!(
        (stats["targets_total"].as_u64(), stats["pending"].as_u64()),
        (Some(6_000), Some(6_000))
    );
    act(&app, &t, &id, "start").await.expect(200);
    app.get(&format!("/v1/campaigns/{id}/imports/imp_01JD3QZ9R6X4Y7T2W8V5N1M0KA"))
        .bearer(&t.key)
        .send()
        .await
        .expect_error(404, "import_not_found");
}

#[tokio::test]
async fn a_campaign_calls_its_audience_within_its_slots_and_completes() {
    let app = app_at(noon()).await;
    let t = app.tenant().await;
    let mut phones = Vec::new();
    for ending in [
        "0100", "0001", "0002", "0100", "0004", "0001", "0100", "0100", "0003", "0100", "0002", "0100",
    ] {
        let fresh = std::iter::repeat_with(|| phone_ending(ending)).find(|p| !phones.contains(p));
        phones.push(fresh.unwrap());
    }
    let dnc = phones[3].clone();
    let settings = json!({"max_concurrent_calls": 3,
                          "retry_policy": {"max_attempts": 2, "retry_on": ["busy", "no-answer"], "retry_delay_seconds": 600}});
    let id = started(&app, &t, settings, &phones).await;
    // Added to the list after the upload: never dialled.
    app.post("/v1/dnc")
        .bearer(&t.key)
        .json(json!({"phone_e164": dnc}))
        .send()
        .await
        .expect(201);
    let mut most = 0;
    let ws = t.workspace_id.clone();
    let cmp = id.clone();
    app.run_dialing_watched(async |app| {
        let stats = app
            .store
            .stats(&ws, std::slice::from_ref(&cmp))
            .await
            .unwrap()
            .remove(&cmp)
            .unwrap();
        most = most.max(stats.in_flight);
    })
    .await;
    assert_eq!(most, 3, "every slot used, none more");
    let waiting = campaign(&app, &t, &id).await;
    assert_eq!(waiting["status"], "active", "retries wait ten minutes");
    app.advance(chrono::Duration::minutes(11)).await;
    let done = campaign(&app, &t, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let stats = &done["stats"];
    let n = |k: &str| stats[k].as_u64().unwrap();
    assert_eq!((n("targets_total"), n("pending"), n("in_flight")), (12, 0, 0));
    assert_eq!(n("calls_completed") + n("calls_failed") + n("skipped"), 12, "{stats}");
    assert_eq!((n("calls_completed"), n("skipped")), (5, 1));
    // 11 dialled once; the 2 busy and 2 unanswered twice.
    assert_eq!(n("calls_total"), 15);
    let calls = runs(&app, &t, &id).await;
    assert_eq!(calls.len(), 15);
    assert!(
        calls.iter().all(|c| c["to"] != dnc.as_str()),
        "the number put on the list was never dialled"
    );
    let skipped = targets(&app, &t, &id)
        .await
        .into_iter()
        .find(|x| x.phone == dnc)
        .unwrap();
    assert_eq!(
        (skipped.status, skipped.skip_reason.as_deref()),
        (TargetStatus::Skipped, Some("dnc"))
    );
    let events = app.event_types(&t.workspace_id).await;
    assert_eq!(events.iter().filter(|e| *e == "campaign.started").count(), 1);
    assert_eq!(events.iter().filter(|e| *e == "campaign.completed").count(), 1);
    // Called numbers cool down: another campaign cannot take them for a week.
    let other = draft_campaign(&app, &t, json!({})).await;
    let res = upload(&app, &t, &other, &phones[..1]).await;
    assert_eq!(res.body["rejected_cooldown"], 1);
}

/// What the dialer costs per call, counted on the table's operation log: the budget is
/// 8 DynamoDB requests and 2 call-queue messages; a busy call takes one message (its step) and
/// settles, refills its slot and ticks where it ends.
#[tokio::test]
async fn a_campaign_call_costs_at_most_eight_table_requests_three_transactions_and_one_queue_message() {
    let app = app_at(noon()).await;
    let t = app.tenant().await;
    let calls = 30;
    let id = started(
        &app,
        &t,
        json!({"max_concurrent_calls": 10}),
        &phones_ending("0001", calls),
    )
    .await;
    app.ops.take();
    let mut messages = 0;
    loop {
        app.run_dialer_jobs().await;
        let ran = app.run_call_jobs().await;
        if ran == 0 {
            break;
        }
        messages += ran;
    }
    let operations = app.ops.take();
    let requests = operations.len();
    let transactions = operations.iter().filter(|op| *op == "TransactWriteItems").count();
    let done = campaign(&app, &t, &id).await;
    assert_eq!(
        (done["status"].as_str(), done["stats"]["calls_total"].as_u64()),
        (Some("completed"), Some(calls as u64))
    );
    assert_eq!(messages, calls, "one call-queue message per call");
    assert!(
        requests <= 8 * calls,
        "{requests} DynamoDB requests for {calls} calls: {:.1} per call",
        requests as f64 / calls as f64
    );
    // Placed, ended, and settled in the transaction that claims the next target: three a call
    // (the first tick's claim and the campaign's completion aside).
    assert!(
        transactions <= 3 * calls + 2,
        "{transactions} transactions for {calls} calls"
    );
}

/// A call's end settles its target from the campaign as this instance last saw it, checked
/// against the campaign's version in the same transaction: a campaign paused meanwhile is read
/// again, and its freed slot is not refilled.
#[tokio::test]
async fn a_campaign_paused_while_its_calls_ring_places_no_call_when_they_end() {
    let app = app_at(noon()).await;
    let t = app.tenant().await;
    let id = started(&app, &t, json!({"max_concurrent_calls": 2}), &phones_ending("0001", 6)).await;
    app.run_dialer_jobs().await;
    let ringing = app.queued_call_jobs().await;
    assert_eq!(ringing.len(), 2);
    // The first end: the campaign is active (and now known to this worker); its slot is refilled.
    call_worker::run(&app.call_worker, ringing[0].clone()).await.unwrap();
    assert_eq!(counters(&app, &t, &id).await.calls_total, 3);
    act(&app, &t, &id, "pause").await.expect(200);
    call_worker::run(&app.call_worker, ringing[1].clone()).await.unwrap();
    app.run_call_jobs().await;
    let paused = campaign(&app, &t, &id).await;
    assert_eq!(
        (
            paused["status"].as_str(),
            paused["stats"]["calls_total"].as_u64(),
            paused["stats"]["in_flight"].as_u64(),
            paused["stats"]["pending"].as_u64()
        ),
        (Some("paused"), Some(3), Some(0), Some(3)),
        "no call placed after the pause"
    );
}

#[tokio::test]
async fn two_ticks_racing_never_dial_one_target_twice() {
    let app = app_at(noon()).await;
    let t = app.tenant().await;
    let phones = phones_ending("0100", 20);
    let id = started(&app, &t, json!({"max_concurrent_calls": 8}), &phones).await;
    // The start queued a tick; race three more against it.
    let tick = switchboard_core::ports::DialerJob::Tick {
        workspace_id: t.workspace_id.clone(),
        campaign_id: id.clone(),
        not_before: 0,
    };
    let (a, b, c) = futures::join!(app.dialer.run(&tick), app.dialer.run(&tick), app.dialer.run(&tick));
    a.unwrap();
    b.unwrap();
    c.unwrap();
    let stats = counters(&app, &t, &id).await;
    assert_eq!(stats.in_flight, 8, "every slot taken, none twice");
    let dialing: Vec<Target> = targets(&app, &t, &id)
        .await
        .into_iter()
        .filter(|x| x.status == TargetStatus::Dialing)
        .collect();
    assert_eq!(dialing.len(), 8);
    assert!(dialing.iter().all(|x| x.attempts == 1));
    app.run_dialing().await;
    let done = campaign(&app, &t, &id).await;
    assert_eq!(
        (done["status"].as_str(), done["stats"]["calls_total"].as_u64()),
        (Some("completed"), Some(20))
    );
    let calls = runs(&app, &t, &id).await;
    let numbers: std::collections::HashSet<&str> = calls.iter().map(|c| c["to"].as_str().unwrap()).collect();
    assert_eq!((calls.len(), numbers.len()), (20, 20), "each number once");
}

#[tokio::test]
async fn a_worker_stopping_between_claim_and_dial_loses_no_target_and_no_slot() {
    let app = app_at(noon()).await;
    let t = app.tenant().await;
    let phones = phones_ending("0100", 3);
    let id = draft_campaign(&app, &t, json!({"max_concurrent_calls": 2})).await;
    upload(&app, &t, &id, &phones).await.expect(201);
    app.attest(&t, &id).await;
    // What a worker does before it stops: claims a slot for a target, but never dials.
    let target = app
        .store
        .target(&t.workspace_id, &id, &phones[0])
        .await
        .unwrap()
        .unwrap();
    let now = app.clock.now();
    let claimed = Target {
        status: TargetStatus::Dialing,
        attempts: 1,
        lease_until: Some(now + chrono::Duration::seconds(600) + switchboard_domain::campaigns::LEASE_GRACE),
        last_call_id: Some(switchboard_core::ids::new_id_at("call", now)),
        ..target.clone()
    };
    let claim = [(target, claimed)];
    assert_eq!(
        app.store.claim(&t.workspace_id, &claim, 2).await.unwrap(),
        Claim::Claimed
    );
    assert_eq!(
        app.store.claim(&t.workspace_id, &claim, 2).await.unwrap(),
        Claim::Taken(vec![0]),
        "claimed once"
    );
    act(&app, &t, &id, "start").await.expect(200);
    app.run_dialing().await;
    let middle = campaign(&app, &t, &id).await;
    assert_eq!(
        middle["stats"]["in_flight"], 1,
        "the stopped worker's slot is held until its lease ends"
    );
    assert_eq!(middle["status"], "active");
    app.advance(
        chrono::Duration::seconds(600) + switchboard_domain::campaigns::LEASE_GRACE + chrono::Duration::seconds(1),
    )
    .await;
    let done = campaign(&app, &t, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        (
            done["stats"]["in_flight"].as_u64(),
            done["stats"]["calls_total"].as_u64(),
            done["stats"]["calls_completed"].as_u64()
        ),
        (Some(0), Some(3), Some(3))
    );
    let calls = runs(&app, &t, &id).await;
    assert_eq!(
        calls.iter().filter(|c| c["to"] == phones[0].as_str()).count(),
        1,
        "dialled once, after the lease"
    );
}

/// Each of the campaign's targets of `phones` as read, and as claimed for its first call
/// (`call_<i>`).
async fn dialing_claims(app: &TestApp, t: &Tenant, id: &str, phones: &[String]) -> Vec<(Target, Target)> {
    let now = app.clock.now();
    let mut claims = Vec::new();
    for (i, phone) in phones.iter().enumerate() {
        let target = app.store.target(&t.workspace_id, id, phone).await.unwrap().unwrap();
        let claimed = Target {
            status: TargetStatus::Dialing,
            attempts: 1,
            lease_until: Some(now + chrono::Duration::seconds(60)),
            last_call_id: Some(format!("call_{i}")),
            ..target.clone()
        };
        claims.push((target, claimed));
    }
    claims
}

#[tokio::test]
async fn a_batch_claims_all_its_targets_or_none() {
    let app = app_at(noon()).await;
    let t = app.tenant().await;
    let phones = phones_ending("0100", 3);
    let id = draft_campaign(&app, &t, json!({})).await;
    upload(&app, &t, &id, &phones).await.expect(201);
    let claims = dialing_claims(&app, &t, &id, &phones).await;
    let stats = async || {
        let s = counters(&app, &t, &id).await;
        (s.pending, s.in_flight)
    };
    assert_eq!(
        app.store.claim(&t.workspace_id, &claims, 2).await.unwrap(),
        Claim::NoSlot
    );
    assert_eq!(
        stats().await,
        (3, 0),
        "three targets do not fit two slots: none claimed"
    );
    assert_eq!(
        app.store.claim(&t.workspace_id, &claims[1..], 2).await.unwrap(),
        Claim::Claimed
    );
    assert_eq!(stats().await, (1, 2));
    assert_eq!(
        app.store.claim(&t.workspace_id, &claims, 5).await.unwrap(),
        Claim::Taken(vec![1, 2]),
        "the targets claimed already are named"
    );
    assert_eq!(stats().await, (1, 2), "nothing claimed with them");
    let left: Vec<TargetStatus> = targets(&app, &t, &id).await.iter().map(|x| x.status).collect();
    assert_eq!(left.iter().filter(|s| **s == TargetStatus::Pending).count(), 1);
}

/// An ended call's slot goes to another target only while the campaign's cap has room: with
/// the cap lowered below the calls in flight, ends settle and nothing refills.
#[tokio::test]
async fn an_end_refills_its_slot_only_under_the_cap() {
    use switchboard_core::model::{CallStatus, Campaign};
    use switchboard_core::ports::{CallEnd, EndedCall, Repository, SettledAndClaimed};
    let app = app_at(noon()).await;
    let t = app.tenant().await;
    let phones = phones_ending("0100", 3);
    let id = draft_campaign(&app, &t, json!({})).await;
    upload(&app, &t, &id, &phones).await.expect(201);
    let now = app.clock.now();
    let claims = dialing_claims(&app, &t, &id, &phones).await;
    assert_eq!(
        app.store.claim(&t.workspace_id, &claims[..2], 2).await.unwrap(),
        Claim::Claimed
    );
    let version = Repository::<Campaign>::get(&app.store, &t.workspace_id, &id)
        .await
        .unwrap()
        .unwrap()
        .version;
    let ended = [EndedCall {
        phone: phones[0].clone(),
        call_id: "call_0".into(),
        end: CallEnd {
            outcome: CallStatus::Completed,
            status: TargetStatus::Completed,
            retry_at: None,
            at: now,
        },
    }];
    // The cap lowered to one, with two calls in flight.
    let settle = async |claims: &[(Target, Target)]| {
        app.store
            .settle_and_claim(&t.workspace_id, &id, version, &ended, claims, 1)
            .await
    };
    let stats = async || {
        let s = counters(&app, &t, &id).await;
        (s.pending, s.in_flight)
    };
    assert_eq!(settle(&claims[2..]).await.unwrap(), SettledAndClaimed::NoSlot);
    assert_eq!(stats().await, (1, 2), "nothing settled or claimed");
    assert_eq!(settle(&[]).await.unwrap(), SettledAndClaimed::Done);
    assert_eq!(stats().await, (1, 1), "the end settled alone");
}

#[tokio::test]
async fn a_call_that_overstays_its_lease_is_ended_and_its_slot_taken_back() {
    let app = app_at(noon()).await;
    let t = app.tenant().await;
    let phones = vec![phone_ending("0100")];
    let id = started(&app, &t, json!({"max_concurrent_calls": 1}), &phones).await;
    // Dial, but let the call hang: its simulator steps never run.
    app.run_dialer_jobs().await;
    let hung = app.queued_call_jobs().await;
    assert_eq!(hung.len(), 1, "the call was placed");
    let stats = counters(&app, &t, &id).await;
    assert_eq!(stats.in_flight, 1);
    app.advance(
        chrono::Duration::seconds(600) + switchboard_domain::campaigns::LEASE_GRACE + chrono::Duration::seconds(1),
    )
    .await;
    let done = campaign(&app, &t, &id).await;
    assert_eq!(
        (
            done["status"].as_str(),
            done["stats"]["in_flight"].as_u64(),
            done["stats"]["calls_failed"].as_u64()
        ),
        (Some("completed"), Some(0), Some(1))
    );
    let calls = runs(&app, &t, &id).await;
    assert_eq!(
        (calls[0]["status"].as_str(), calls[0]["ended_reason"].as_str()),
        (Some("failed"), Some("exceeded_max_duration"))
    );
}

#[tokio::test]
async fn a_paused_campaign_places_no_call_until_it_resumes() {
    let app = app_at(noon()).await;
    let t = app.tenant().await;
    let phones = phones_ending("0100", 10);
    let id = started(&app, &t, json!({"max_concurrent_calls": 4}), &phones).await;
    // One tick: four calls in flight.
    app.run_dialer_jobs().await;
    act(&app, &t, &id, "pause").await.expect(200);
    app.run_dialing().await;
    let paused = campaign(&app, &t, &id).await;
    assert_eq!(paused["status"], "paused");
    assert_eq!(
        (
            paused["stats"]["calls_total"].as_u64(),
            paused["stats"]["in_flight"].as_u64(),
            paused["stats"]["pending"].as_u64()
        ),
        (Some(4), Some(0), Some(6)),
        "calls in flight finished, no new one"
    );
    app.patch(&format!("/v1/campaigns/{id}"))
        .bearer(&t.key)
        .json(json!({"max_concurrent_calls": 2}))
        .send()
        .await
        .expect(200);
    let res = app
        .patch(&format!("/v1/campaigns/{id}"))
        .bearer(&t.key)
        .json(json!({"status": "active"}))
        .send()
        .await;
    res.expect(200);
    let res = app
        .patch(&format!("/v1/campaigns/{id}"))
        .bearer(&t.key)
        .json(json!({"name": "renamed"}))
        .send()
        .await;
    res.expect_error(409, "campaign_state_conflict");
    app.run_dialing().await;
    let done = campaign(&app, &t, &id).await;
    assert_eq!(
        (done["status"].as_str(), done["stats"]["calls_total"].as_u64()),
        (Some("completed"), Some(10))
    );
    act(&app, &t, &id, "resume")
        .await
        .expect_error(409, "campaign_state_conflict");
}

#[tokio::test]
async fn calls_wait_for_the_window_in_the_callees_time_across_dst() {
    // Monday 9 March 2026, 08:30 in New York: the day after clocks went forward (EDT, UTC-4).
    let app = app_at("2026-03-09T12:30:00Z".parse().unwrap()).await;
    let t = app.tenant().await;
    let phones = vec![phone_ending("0100"), "+442071838750".to_owned()];
    app.patch("/v1/billing/spending-controls")
        .bearer(&t.key)
        .json(json!({"allowed_countries": ["US", "GB"]}))
        .send()
        .await
        .expect(200);
    let id = started(
        &app,
        &t,
        json!({"call_window": {"start": "09:00", "end": "17:00"}}),
        &phones,
    )
    .await;
    app.run_dialing().await;
    let listed = targets(&app, &t, &id).await;
    let us = listed.iter().find(|x| x.phone == phones[0]).unwrap();
    let uk = listed.iter().find(|x| x.phone == phones[1]).unwrap();
    assert_eq!(
        us.status,
        TargetStatus::Pending,
        "08:30 in New York is before the window"
    );
    assert_eq!(
        us.next_attempt_at,
        "2026-03-09T13:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap(),
        "09:00 EDT, not 09:00 EST"
    );
    // London is on GMT: 12:30 there is inside the window.
    assert!(
        matches!(uk.status, TargetStatus::Dialing | TargetStatus::Completed),
        "a UK number is called in UK time: {:?}",
        uk.status
    );
    app.advance(chrono::Duration::minutes(29)).await;
    assert_eq!(
        targets(&app, &t, &id)
            .await
            .iter()
            .find(|x| x.phone == phones[0])
            .unwrap()
            .status,
        TargetStatus::Pending
    );
    app.advance(chrono::Duration::minutes(1)).await;
    let done = campaign(&app, &t, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
}

#[tokio::test]
async fn a_cancelled_campaign_is_over() {
    let app = app_at(noon()).await;
    let t = app.tenant().await;
    let phones = phones_ending("0100", 3);
    let id = started(&app, &t, json!({}), &phones).await;
    act(&app, &t, &id, "cancel").await.expect(200);
    app.run_dialing().await;
    let over = campaign(&app, &t, &id).await;
    assert_eq!(
        (over["status"].as_str(), over["stats"]["calls_total"].as_u64()),
        (Some("cancelled"), Some(0))
    );
    for action in ["start", "resume", "pause"] {
        act(&app, &t, &id, action)
            .await
            .expect_error(409, "campaign_state_conflict");
    }
    let res = upload(&app, &t, &id, &[unique_phone()]).await;
    res.expect_error(409, "campaign_state_conflict");
}

#[tokio::test]
async fn starts_are_limited_to_five_a_minute() {
    let app = TestApp::with(Options {
        start: noon(),
        ..Options::default()
    })
    .await;
    let t = app.tenant().await;
    let id = draft_campaign(&app, &t, json!({})).await;
    for _ in 0..5 {
        act(&app, &t, &id, "start")
            .await
            .expect_error(409, "campaign_not_ready");
    }
    let limited = act(&app, &t, &id, "start").await;
    limited.expect_error(429, "rate_limited");
    assert_eq!(limited.header("x-ratelimit-limit"), Some("5"));
}

#[tokio::test]
async fn a_model_that_writes_a_bad_rule_book_is_refused_with_what_is_wrong() {
    let fake = switchboard_tests::fake::FakeServer::start(|_, _| {
        let book = json!({"system_prompt": "too short", "opening": "", "objection_handlers": [], "closing": "Bye", "never": []});
        (200, "application/json", json!({"id": "msg_1", "type": "message", "role": "assistant", "stop_reason": "tool_use",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "record_rule_book", "input": book}]}).to_string())
    })
    .await;
    let llm = switchboard_llm::anthropic::Anthropic::new(&fake.url, "sk-ant-test", "claude-test");
    let err = switchboard_domain::campaigns::rule_book(&llm, "Call our customers about renewals.", noon())
        .await
        .unwrap_err();
    assert_eq!(
        (err.code().as_str(), err.param()),
        ("rule_book_invalid", Some("nl_prompt"))
    );
    assert!(
        err.message().contains("system_prompt must have 20 to 8000 characters"),
        "{}",
        err.message()
    );
    assert!(
        err.message().contains("opening must have 1 to 500 characters"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn a_number_on_the_list_mid_campaign_is_skipped_not_dialled() {
    let app = app_at(noon()).await;
    let t = app.tenant().await;
    let phones = phones_ending("0100", 4);
    let id = started(&app, &t, json!({"max_concurrent_calls": 1}), &phones).await;
    app.store
        .add_dnc(
            &t.workspace_id,
            &switchboard_core::model::DncEntry {
                object: switchboard_core::model::DncEntryObject,
                phone_e164: phones[2].clone(),
                list: switchboard_core::model::DncList::Registry,
                reason: None,
                source: switchboard_core::model::DncSource::Import,
                added_at: app.clock.now(),
            },
        )
        .await
        .unwrap();
    app.run_dialing().await;
    let done = campaign(&app, &t, &id).await;
    assert_eq!(
        (
            done["status"].as_str(),
            done["stats"]["skipped"].as_u64(),
            done["stats"]["calls_total"].as_u64()
        ),
        (Some("completed"), Some(1), Some(3))
    );
    assert!(runs(&app, &t, &id).await.iter().all(|c| c["to"] != phones[2].as_str()));
}

/// An import larger than one read looks in the cool-downs and the contacts' numbers only when
/// the workspace has any: when it has, a number cooling down is refused and a contact's number
/// is linked to its contact, as in a small import.
#[tokio::test]
async fn a_large_import_screens_cool_downs_and_links_contacts() {
    let app = app_at(noon()).await;
    let t = app.tenant().await;
    let phones = phones_ending("0200", 150);
    let id = draft_campaign(&app, &t, json!({})).await;
    let counted = |res: &Res| {
        (
            res.status,
            res.body["accepted"].as_u64(),
            res.body["rejected_cooldown"].as_u64(),
        )
    };
    // Neither yet: nothing to refuse or link, and only the campaign's own targets are read.
    app.ops.take();
    let fresh = upload(&app, &t, &id, &phones[..120]).await;
    assert_eq!(counted(&fresh), (201, Some(120), Some(0)), "{}", fresh.text);
    let bulk_reads = app.ops.take().iter().filter(|op| *op == "BatchGetItem").count();
    // The 120 targets' keys in two, the answer's one; 7 when cool-downs and contacts were read.
    assert_eq!(bulk_reads, 3);
    let contact = app
        .post("/v1/contacts")
        .bearer(&t.key)
        .json(json!({"phone": phones[140], "name": "Ada"}))
        .send()
        .await;
    contact.expect(201);
    app.store
        .start_cooldown(
            &t.workspace_id,
            &phones[130],
            "cmp_01JD3QZ9R6X4Y7T2W8V5N1M0KA",
            app.clock.now(),
        )
        .await
        .unwrap();
    let other = draft_campaign(&app, &t, json!({})).await;
    let res = upload(&app, &t, &other, &phones[..150]).await;
    assert_eq!(counted(&res), (201, Some(149), Some(1)), "{}", res.text);
    let linked = targets(&app, &t, &other)
        .await
        .into_iter()
        .find(|x| x.phone == phones[140])
        .unwrap();
    assert_eq!(linked.contact_id.as_deref(), contact.body["id"].as_str());
}
