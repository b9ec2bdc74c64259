//! Triggers: an event of the workspace, filtered on its data, starts a run of a live workflow
//! (once, however often its stream batch is routed); a schedule starts one at each minute it
//! falls on in its zone (once, however many ticks race); a signed POST to an inbound trigger's
//! URL starts one with its body.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use switchboard_tests::fake::FakeServer;
use switchboard_tests::{Options, Tenant, TestApp, phone_ending};

/// A live workflow posting the call's number to a local receiver, then noting the contact.
async fn booked_calls_workflow(app: &TestApp, t: &Tenant, receiver: &FakeServer) -> String {
    let connection = app
        .create(
            t,
            "/v1/connections",
            json!({"connector_id": "http", "name": "crm", "base_url": receiver.url}),
        )
        .await;
    app.create(
        t,
        "/v1/workflows",
        json!({"name": "Answered calls", "status": "live", "steps": [
            {"id": "crm", "type": "http", "connection_id": connection, "action": "post",
             "input": {"path": "/calls", "body": {"to": "{{trigger.data.to}}", "call": "{{trigger.data.id}}"}}},
            {"id": "contact", "type": "upsert_contact", "phone": "{{trigger.data.to}}", "attributes": {"last_call": "{{trigger.data.id}}"}}]}),
    )
    .await
}

async fn call(app: &TestApp, t: &Tenant, line: &(String, String, String), to: &str) -> String {
    let id = app
        .create(
            t,
            "/v1/calls",
            json!({"agent_id": line.0, "phone_number_id": line.1, "to": to}),
        )
        .await;
    app.run_call_jobs_until_final(t, &id).await;
    id
}

#[tokio::test]
async fn a_call_ended_event_matching_the_filter_runs_the_workflow_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let receiver = FakeServer::start(|_, _| (200, "application/json", "{}".into())).await;
    let workflow = booked_calls_workflow(&app, &t, &receiver).await;
    let trigger = app
        .post("/v1/triggers")
        .bearer(&t.key)
        .json(
            json!({"workflow_id": workflow, "type": "event", "event": "call.ended", "filter": {"status": "completed"}}),
        )
        .send()
        .await;
    trigger.expect(201);
    assert!(trigger.body.get("secret").is_none());
    let line = app.phone_line(&t).await;
    let answered = phone_ending("0100");
    let call_id = call(&app, &t, &line, &answered).await;
    call(&app, &t, &line, &phone_ending("0001")).await; // busy: filtered out
    app.route_events(&t.workspace_id).await;
    app.run_workflows().await;

    let runs = app.get("/v1/executions").bearer(&t.key).send().await;
    let runs = runs.body["data"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(
        (&runs[0]["status"], &runs[0]["trigger"]),
        (&json!("succeeded"), &json!("event"))
    );
    assert_eq!(runs[0]["input"]["event"], "call.ended");
    let sent = receiver.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].json(), json!({"to": answered, "call": call_id}));
    let contacts = app.get("/v1/contacts").bearer(&t.key).send().await;
    let noted: Vec<&Value> = contacts.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["phone"] == answered.as_str())
        .collect();
    assert_eq!(noted[0]["attributes"]["last_call"], call_id.as_str());

    // The stream hands a batch out again: the same run is found, none is added.
    let events = app.events(&t.workspace_id).await;
    let ended: switchboard_core::model::Event = serde_json::from_value(
        events
            .into_iter()
            .find(|e| e["event"] == "call.ended" && e["data"]["id"] == call_id.as_str())
            .unwrap(),
    )
    .unwrap();
    app.event_router
        .route(&t.workspace_id, &ended, app.clock.now())
        .await
        .unwrap();
    app.run_workflows().await;
    let again = app.get("/v1/executions").bearer(&t.key).send().await;
    assert_eq!(again.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(receiver.requests().len(), 1);

    // Turned off, it starts nothing.
    app.patch(&format!("/v1/triggers/{}", trigger.id()))
        .bearer(&t.key)
        .json(json!({"enabled": false}))
        .send()
        .await
        .expect(200);
    call(&app, &t, &line, &phone_ending("0100")).await;
    app.route_events(&t.workspace_id).await;
    app.run_workflows().await;
    assert_eq!(
        app.get("/v1/executions").bearer(&t.key).send().await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

fn signed(secret: &str, body: &str, t: i64) -> String {
    let (header, _) = switchboard_domain::webhooks::signature::headers(&[secret.to_owned()], body.as_bytes(), t);
    header
}

#[tokio::test]
async fn a_signed_post_to_an_inbound_trigger_starts_a_run_with_its_body() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let receiver = FakeServer::start(|_, _| (200, "application/json", "{}".into())).await;
    let workflow = booked_calls_workflow(&app, &t, &receiver).await;
    let created = app
        .post("/v1/triggers")
        .bearer(&t.key)
        .json(json!({"workflow_id": workflow, "type": "inbound"}))
        .send()
        .await;
    created.expect(201);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    let path = created.body["inbound_path"].as_str().unwrap().to_owned();
    let fetched = app
        .get(&format!("/v1/triggers/{}", created.id()))
        .bearer(&t.key)
        .send()
        .await;
    assert!(fetched.body.get("secret").is_none() && !fetched.text.contains(&secret));
    for item in app.whole_table().await {
        assert!(!item.contains(&secret), "{item}");
    }

    let body = json!({"to": "+14155550111", "id": "order-7"}).to_string();
    let now = app.clock.now().timestamp();
    let fired = app
        .post(&path)
        .header("switchboard-signature", &signed(&secret, &body, now))
        .raw("application/json", body.clone())
        .send()
        .await;
    fired.expect(202);
    app.run_workflows().await;
    let run = app
        .get(&format!(
            "/v1/executions/{}",
            fired.body["execution_id"].as_str().unwrap()
        ))
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(
        (&run.body["status"], &run.body["trigger"]),
        (&json!("succeeded"), &json!("inbound")),
        "{}",
        run.text
    );
    assert_eq!(
        receiver.requests()[0].json(),
        json!({"to": "+14155550111", "call": "order-7"})
    );

    for header in [
        signed("whsec_wrong", &body, now),
        signed(&secret, &body, now - 3600),
        String::new(),
    ] {
        app.post(&path)
            .header("switchboard-signature", &header)
            .raw("application/json", body.clone())
            .send()
            .await
            .expect_error(403, "invalid_signature");
    }
    app.post("/v1/triggers/trg_01JD3QZ9R6X4Y7T2W8V5N1M0KA/inbound")
        .header("switchboard-signature", &signed(&secret, &body, now))
        .raw("application/json", body.clone())
        .send()
        .await
        .expect_error(404, "trigger_not_found");
    // The same sending again (a retry, or a captured request replayed within the tolerance)
    // answers the run it started, and starts no other.
    let again = app
        .post(&path)
        .header("switchboard-signature", &signed(&secret, &body, now))
        .raw("application/json", body.clone())
        .send()
        .await;
    again.expect(202);
    assert_eq!(again.body["execution_id"], fired.body["execution_id"]);
    app.run_workflows().await;
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test]
async fn triggers_refuse_bad_input_and_write_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let workflow = app
        .create(
            &t,
            "/v1/workflows",
            json!({"name": "w", "steps": [{"id": "w", "type": "wait", "minutes": 1}]}),
        )
        .await;
    let before = app.snapshot(&t.workspace_id).await;
    for (body, status, code, param) in [
        (
            json!({"workflow_id": workflow, "type": "event"}),
            400,
            "missing_field",
            "event",
        ),
        (
            json!({"workflow_id": workflow, "type": "event", "event": "workflow.execution.finished"}),
            422,
            "validation_failed",
            "event",
        ),
        (
            json!({"workflow_id": workflow, "type": "event", "event": "call.exploded"}),
            400,
            "invalid_type",
            "event",
        ),
        (
            json!({"workflow_id": workflow, "type": "event", "event": "call.ended", "filter": {"bad path!": 1}}),
            422,
            "validation_failed",
            "filter.bad path!",
        ),
        (
            json!({"workflow_id": workflow, "type": "inbound", "filter": {"status": "x"}}),
            422,
            "validation_failed",
            "event",
        ),
        (
            json!({"workflow_id": workflow, "type": "schedule"}),
            400,
            "missing_field",
            "cron",
        ),
        (
            json!({"workflow_id": workflow, "type": "schedule", "cron": "*/5 * * * * *"}),
            422,
            "validation_failed",
            "cron",
        ),
        (
            json!({"workflow_id": workflow, "type": "schedule", "cron": "0 25 * * *"}),
            422,
            "validation_failed",
            "cron",
        ),
        (
            json!({"workflow_id": workflow, "type": "schedule", "cron": "0 9 * * *", "timezone": "Europe/Atlantis"}),
            422,
            "validation_failed",
            "timezone",
        ),
        (
            json!({"workflow_id": workflow, "type": "schedule", "cron": "0 9 * * *", "event": "call.ended"}),
            422,
            "validation_failed",
            "event",
        ),
        (
            json!({"workflow_id": workflow, "type": "event", "event": "call.ended", "cron": "0 9 * * *"}),
            422,
            "validation_failed",
            "cron",
        ),
        (
            json!({"workflow_id": workflow, "type": "manual"}),
            422,
            "validation_failed",
            "type",
        ),
        (
            json!({"workflow_id": "wf_01JD3QZ9R6X4Y7T2W8V5N1M0KA", "type": "inbound"}),
            404,
            "workflow_not_found",
            "workflow_id",
        ),
        (
            json!({"workflow_id": workflow, "type": "inbound", "colour": "red"}),
            400,
            "unknown_field",
            "colour",
        ),
    ] {
        let res = app.post("/v1/triggers").bearer(&t.key).json(body).send().await;
        res.expect_error(status, code);
        assert_eq!(res.param(), param, "{}", res.text);
    }
    assert_eq!(app.snapshot(&t.workspace_id).await, before);
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// An app at 08:58:30 in New York (13:58:30Z). The scheduler reads the table's global lists and
/// keeps one cursor: a table of the test's own keeps other tests' clocks out of them.
async fn scheduling_app() -> TestApp {
    TestApp::with(Options {
        start: at("2026-12-03T13:58:30Z"),
        own_table: true,
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn a_schedule_starts_one_run_at_each_minute_it_falls_on_in_its_zone() {
    // 08:58:30 in New York: UTC-5 in December.
    let app = scheduling_app().await;
    let t = app.tenant().await;
    let receiver = FakeServer::start(|_, _| (200, "application/json", "{}".into())).await;
    let connection = app
        .create(
            &t,
            "/v1/connections",
            json!({"connector_id": "http", "name": "team", "base_url": receiver.url}),
        )
        .await;
    let workflow = app
        .create(
            &t,
            "/v1/workflows",
            json!({"name": "Morning digest", "status": "live", "steps": [
                {"id": "post", "type": "http", "connection_id": connection, "action": "post",
                 "input": {"path": "/digest", "body": {"for": "{{trigger.data.scheduled_for}}"}}}]}),
        )
        .await;
    let created = app
        .post("/v1/triggers")
        .bearer(&t.key)
        .json(json!({"workflow_id": workflow, "type": "schedule", "cron": "0 9 * * *", "timezone": "America/New_York"}))
        .send()
        .await;
    created.expect(201);
    assert_eq!(created.body["next_run_at"], "2026-12-03T14:00:00Z", "{}", created.text);
    let trigger = format!("/v1/triggers/{}", created.id());
    let next_run = async || app.get(&trigger).bearer(&t.key).send().await.body["next_run_at"].clone();
    let runs = async || {
        app.get(&format!("/v1/executions?workflow_id={workflow}"))
            .bearer(&t.key)
            .send()
            .await
            .body["data"]
            .as_array()
            .unwrap()
            .clone()
    };

    // Not due yet.
    assert_eq!(app.tick_schedules().await.started, 0);
    assert!(runs().await.is_empty());

    // 09:00:20 New York: two ticks at once (EventBridge delivers at least once) start one run.
    app.clock.advance(Duration::seconds(110));
    let (a, b) = tokio::join!(app.tick_schedules(), app.tick_schedules());
    assert!(a.started + b.started >= 1, "{a:?} {b:?}");
    assert_eq!(runs().await.len(), 1);
    assert_eq!(next_run().await, "2026-12-04T14:00:00Z");
    app.run_workflows().await;
    let run = &runs().await[0];
    assert_eq!(
        (&run["status"], &run["trigger"]),
        (&json!("succeeded"), &json!("schedule"))
    );
    assert_eq!(receiver.requests().len(), 1);
    assert_eq!(receiver.requests()[0].json(), json!({"for": "2026-12-03T14:00:00Z"}));
    // A tick later in the minute finds nothing more to do.
    assert_eq!(app.tick_schedules().await.started, 0);

    // Hourly at :15 (every minute the scheduler reads costs a query: the rest of the test
    // moves by hours, not days).
    let hourly = app
        .patch(&trigger)
        .bearer(&t.key)
        .json(json!({"cron": "15 * * * *"}))
        .send()
        .await;
    hourly.expect(200);
    assert_eq!(hourly.body["next_run_at"], "2026-12-03T14:15:00Z");

    // Paused, its minute passes without a run, and it moves on to the next.
    let set_status = async |status: &str| {
        let path = format!("/v1/workflows/{workflow}");
        let mut body = app.get(&path).bearer(&t.key).send().await.body;
        body["status"] = json!(status);
        let body = json!({"name": body["name"], "status": body["status"], "steps": body["steps"]});
        app.put(&path).bearer(&t.key).json(body).send().await.expect(200);
    };
    set_status("paused").await;
    app.clock.advance(Duration::minutes(15));
    assert_eq!(app.tick_schedules().await.skipped, 1);
    assert_eq!(runs().await.len(), 1);
    assert_eq!(next_run().await, "2026-12-03T15:15:00Z");

    // Turned off, it is due nowhere; turned on again, it counts from now.
    set_status("live").await;
    let off = app
        .patch(&trigger)
        .bearer(&t.key)
        .json(json!({"enabled": false}))
        .send()
        .await;
    off.expect(200);
    assert_eq!(off.body["next_run_at"], Value::Null);
    app.clock.advance(Duration::hours(1));
    assert_eq!(app.tick_schedules().await.started, 0);
    app.patch(&trigger)
        .bearer(&t.key)
        .json(json!({"enabled": true, "cron": "0 * * * *", "timezone": "Asia/Kolkata"}))
        .send()
        .await
        .expect(200);
    // Now 15:15:20 UTC; the hour begins at :30 UTC in Kolkata (UTC+5:30).
    assert_eq!(next_run().await, "2026-12-03T15:30:00Z");

    // Three hours with no tick at all (the scheduler down): one run, not three, then on from now.
    app.clock.advance(Duration::hours(3));
    let ticked = app.tick_schedules().await;
    assert_eq!(ticked.started, 1, "{ticked:?}");
    assert_eq!(runs().await.len(), 2);
    assert_eq!(next_run().await, "2026-12-03T18:30:00Z");

    // Deleted, it leaves nothing due behind.
    app.delete(&trigger).bearer(&t.key).send().await.expect(200);
    app.clock.advance(Duration::hours(1));
    let ticked = app.tick_schedules().await;
    assert_eq!((ticked.started, ticked.skipped), (0, 0));
    assert!(
        !app.whole_table().await.iter().any(|item| item.contains("SCHEDULE#")),
        "a deleted trigger's minute entry is gone"
    );
}

#[tokio::test]
async fn a_suspended_workspace_s_triggers_start_no_runs() {
    use switchboard_core::ports::Team;
    // A deleted customer's workspace is suspended, its data kept: its schedules and inbound URL
    // must not go on starting runs (which could place calls on its wallet).
    let app = scheduling_app().await;
    let t = app.tenant().await;
    let workflow = app
        .create(
            &t,
            "/v1/workflows",
            json!({"name": "w", "status": "live", "steps": [{"id": "w", "type": "wait", "minutes": 1}]}),
        )
        .await;
    let schedule = app
        .post("/v1/triggers")
        .bearer(&t.key)
        .json(json!({"workflow_id": workflow, "type": "schedule", "cron": "0 * * * *"}))
        .send()
        .await;
    schedule.expect(201);
    let inbound = app
        .post("/v1/triggers")
        .bearer(&t.key)
        .json(json!({"workflow_id": workflow, "type": "inbound"}))
        .send()
        .await;
    inbound.expect(201);
    app.store
        .set_suspended(&t.workspace_id, true, app.clock.now())
        .await
        .unwrap();

    app.clock.advance(Duration::minutes(2));
    let ticked = app.tick_schedules().await;
    assert_eq!((ticked.started, ticked.skipped), (0, 1), "{ticked:?}");
    let body = "{}".to_owned();
    let secret = inbound.body["secret"].as_str().unwrap();
    app.post(inbound.body["inbound_path"].as_str().unwrap())
        .header(
            "switchboard-signature",
            &signed(secret, &body, app.clock.now().timestamp()),
        )
        .raw("application/json", body)
        .send()
        .await
        .expect_error(404, "trigger_not_found");
    let snapshot = app.snapshot(&t.workspace_id).await;
    assert!(
        !snapshot.keys().any(|key| key.contains("#EXECUTION|")),
        "no run was started"
    );
}

/// A workflow that calls back every ended call's number starts runs only so many generations
/// deep: the calls runs place carry their run and their place in the chain, and the end of a
/// call at the chain's end starts no run.
#[tokio::test]
async fn a_workflow_calling_on_call_ended_stops_after_a_few_generations() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let line = app.phone_line(&t).await;
    let (agent, number, _) = &line;
    let workflow = app
        .create(
            &t,
            "/v1/workflows",
            json!({"name": "Call back", "status": "live", "steps": [
                {"id": "again", "type": "start_call", "agent_id": agent, "phone_number_id": number,
                 "to": "{{trigger.data.to}}"}]}),
        )
        .await;
    app.create(
        &t,
        "/v1/triggers",
        json!({"workflow_id": workflow, "type": "event", "event": "call.ended"}),
    )
    .await;
    call(&app, &t, &line, &phone_ending("0100")).await;
    for _ in 0..10 {
        app.route_events(&t.workspace_id).await;
        app.run_workflows().await;
        if app.run_call_jobs().await == 0 {
            break;
        }
    }
    let runs = app.get("/v1/executions").bearer(&t.key).send().await;
    assert_eq!(
        runs.body["data"].as_array().unwrap().len(),
        switchboard_domain::automation::executions::MAX_CHAIN as usize
    );
    let calls = app.get("/v1/calls").bearer(&t.key).send().await.body["data"].clone();
    let mut chain: Vec<&str> = calls
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["metadata"]["workflow_chain"].as_str().unwrap_or("placed by hand"))
        .collect();
    chain.sort();
    assert_eq!(chain, ["1", "2", "3", "placed by hand"]);
    let placed_by_runs = calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["metadata"]["workflow_chain"].is_string());
    for placed in placed_by_runs {
        assert!(
            placed["metadata"]["workflow_execution_id"]
                .as_str()
                .unwrap()
                .starts_with("exe_")
        );
    }
}
