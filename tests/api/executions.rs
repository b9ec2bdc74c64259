//! Workflow runs: steps through connections to a local receiver, contacts updated, conditions,
//! retries with their log, waits longer than a queue's delay, and exactly one finish when a
//! worker dies mid-step.

use serde_json::{Value, json};
use switchboard_core::ports::WorkflowJob;
use switchboard_tests::fake::{Answer, FakeServer, Recorded};
use switchboard_tests::{Tenant, TestApp, unique_phone};
use workflow_runner::{Due, Ran};

/// A receiver answering each request with `answer`, and a connection to it (bearer `secret`).
async fn receiver(
    app: &TestApp,
    t: &Tenant,
    answer: impl Fn(&Recorded, usize) -> Answer + Send + Sync + 'static,
) -> (FakeServer, String) {
    let server = FakeServer::start(answer).await;
    let connector = app
        .create(
            t,
            "/v1/connectors",
            json!({"name": "Team chat", "base_url": server.url, "auth": {"type": "bearer"},
                   "actions": [{"name": "notify", "method": "POST", "path": "/notify",
                                "body": {"text": "{{input.text}}", "to": "{{input.to}}"}, "outputs": {"id": "/id"}}]}),
        )
        .await;
    let connection = app
        .create(
            t,
            "/v1/connections",
            json!({"connector_id": connector, "name": "chat", "credentials": {"token": "secret-token"}}),
        )
        .await;
    (server, connection)
}

fn ok(id: &str) -> Answer {
    (200, "application/json", format!(r#"{{"id": "{id}"}}"#))
}

async fn workflow(app: &TestApp, t: &Tenant, steps: Value) -> String {
    app.create(
        t,
        "/v1/workflows",
        json!({"name": "Test", "status": "live", "steps": steps}),
    )
    .await
}

async fn run(app: &TestApp, t: &Tenant, workflow: &str, data: Value) -> String {
    let started = app
        .post(&format!("/v1/workflows/{workflow}/run"))
        .bearer(&t.key)
        .json(json!({"data": data}))
        .send()
        .await;
    started.expect(201);
    assert_eq!(started.body["status"], "running");
    started.id().to_owned()
}

async fn execution(app: &TestApp, t: &Tenant, id: &str) -> Value {
    let res = app.get(&format!("/v1/executions/{id}")).bearer(&t.key).send().await;
    res.expect(200);
    res.body
}

fn finished_events(app_events: &[String]) -> usize {
    app_events
        .iter()
        .filter(|e| *e == "workflow.execution.finished")
        .count()
}

#[tokio::test]
async fn a_run_posts_through_its_connection_updates_the_contact_and_finishes_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (server, connection) = receiver(&app, &t, |_, _| ok("msg_1")).await;
    let flow = workflow(
        &app,
        &t,
        json!([
            {"id": "booked", "type": "condition", "value": "{{trigger.data.outcome}}", "comparison": "equals", "with": "booked", "otherwise": null},
            {"id": "tell", "type": "http", "connection_id": connection, "action": "notify",
             "input": {"text": "Booked: {{trigger.data.name}}", "to": "{{trigger.data.to}}"}},
            {"id": "contact", "type": "upsert_contact", "phone": "{{trigger.data.to}}", "name": "{{trigger.data.name}}",
             "attributes": {"chat_message": "{{steps.tell.output.id}}"}}
        ]),
    )
    .await;
    let phone = unique_phone();
    let id = run(
        &app,
        &t,
        &flow,
        json!({"outcome": "booked", "to": phone, "name": "Ada"}),
    )
    .await;
    let ran = app.run_workflows().await;
    assert_eq!(
        ran.last(),
        Some(&Ran::Finished(switchboard_core::model::ExecutionStatus::Succeeded)),
        "{ran:?}"
    );

    let done = execution(&app, &t, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["cursor"], 3);
    let statuses: Vec<&Value> = done["steps"].as_array().unwrap().iter().map(|s| &s["status"]).collect();
    assert_eq!(statuses, [&json!("succeeded"); 3]);
    assert_eq!(done["steps"][1]["output"], json!({"id": "msg_1"}));
    assert_eq!(done["steps"][1]["input"]["input"]["text"], "Booked: Ada");
    assert_eq!(done["steps"][1]["attempts"][0]["number"], 1);

    let sent = server.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].json(), json!({"text": "Booked: Ada", "to": phone}));
    assert_eq!(sent[0].header("authorization"), Some("Bearer secret-token"));
    assert_eq!(sent[0].header("idempotency-key"), Some(format!("{id}:tell").as_str()));

    let contacts = app.get("/v1/contacts").bearer(&t.key).send().await;
    let contact = &contacts.body["data"][0];
    assert_eq!((&contact["phone"], &contact["name"]), (&json!(phone), &json!("Ada")));
    assert_eq!(contact["attributes"]["chat_message"], "msg_1");
    assert_eq!(finished_events(&app.event_types(&t.workspace_id).await), 1);
    let listed = app
        .get(&format!("/v1/executions?workflow_id={flow}&status=succeeded"))
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(listed.body["data"][0]["id"], id.as_str());

    // A condition that does not hold ends the run, its later steps skipped.
    let skipped = run(&app, &t, &flow, json!({"outcome": "no-answer", "to": phone})).await;
    app.run_workflows().await;
    let done = execution(&app, &t, &skipped).await;
    assert_eq!(done["status"], "succeeded");
    let statuses: Vec<&Value> = done["steps"].as_array().unwrap().iter().map(|s| &s["status"]).collect();
    assert_eq!(statuses, [&json!("succeeded"), &json!("skipped"), &json!("skipped")]);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_step_against_a_failing_receiver_is_retried_then_fails_the_run_with_each_attempt_logged() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (server, connection) = receiver(&app, &t, |_, _| {
        (500, "application/json", r#"{"error": "down"}"#.into())
    })
    .await;
    let flow = workflow(
        &app,
        &t,
        json!([{"id": "tell", "type": "http", "connection_id": connection, "action": "notify",
                "input": {"text": "hi", "to": "x"}, "max_attempts": 3},
               {"id": "never", "type": "add_to_dnc", "phone": "+14155550123"}]),
    )
    .await;
    let id = run(&app, &t, &flow, json!({})).await;
    assert!(app.run_workflows().await.contains(&Ran::Retrying));
    assert_eq!(server.requests().len(), 1);
    // Not due yet: nothing more happens.
    app.run_workflows().await;
    assert_eq!(server.requests().len(), 1);
    assert_eq!(execution(&app, &t, &id).await["steps"][0]["status"], "retrying");

    app.clock.advance(chrono::Duration::seconds(31));
    app.run_workflows().await;
    assert_eq!(server.requests().len(), 2);
    app.clock.advance(chrono::Duration::seconds(121));
    let ran = app.run_workflows().await;
    assert!(
        ran.contains(&Ran::Finished(switchboard_core::model::ExecutionStatus::Failed)),
        "{ran:?}"
    );

    let done = execution(&app, &t, &id).await;
    assert_eq!(done["status"], "failed");
    assert!(done["error"].as_str().unwrap().contains("`tell`"), "{done}");
    let attempts = done["steps"][0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3);
    for (i, attempt) in attempts.iter().enumerate() {
        assert_eq!(
            (&attempt["number"], &attempt["status_code"]),
            (&json!(i + 1), &json!(500))
        );
        assert!(attempt["error"].as_str().unwrap().contains("500"));
    }
    assert_eq!(done["steps"][1]["status"], "pending");
    // The same key on every attempt of the step.
    let keys: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_owned())
        .collect();
    assert_eq!(keys, vec![format!("{id}:tell"); 3]);
    assert_eq!(finished_events(&app.event_types(&t.workspace_id).await), 1);
}

#[tokio::test]
async fn a_wait_longer_than_a_queue_delay_resumes_when_due() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let phone = unique_phone();
    let flow = workflow(
        &app,
        &t,
        json!([{"id": "pause", "type": "wait", "minutes": 90},
               {"id": "block", "type": "add_to_dnc", "phone": "{{trigger.data.to}}", "reason": "after the wait"}]),
    )
    .await;
    let id = run(&app, &t, &flow, json!({"to": phone})).await;
    assert!(app.run_workflows().await.contains(&Ran::Waiting));
    let waiting = execution(&app, &t, &id).await;
    assert_eq!(waiting["steps"][0]["status"], "waiting");
    app.clock.advance(chrono::Duration::minutes(60));
    app.run_workflows().await;
    assert_eq!(execution(&app, &t, &id).await["status"], "running");
    app.clock.advance(chrono::Duration::minutes(31));
    app.run_workflows().await;
    let done = execution(&app, &t, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let check = app
        .get(&format!("/v1/dnc/check?phone_e164={}", phone.replace('+', "%2B")))
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(check.body["on_dnc"], true, "{}", check.text);
}

#[tokio::test]
async fn a_wait_due_within_a_second_is_not_dropped_by_its_own_job() {
    // Half a second into a second: a wait's due time then falls within a second too, and its
    // job (which names whole seconds) must not come back before it and be taken for a stale copy.
    let start = chrono::DateTime::parse_from_rfc3339("2026-12-03T10:00:00.500Z")
        .unwrap()
        .to_utc();
    let app = TestApp::with(switchboard_tests::Options {
        start,
        ..Default::default()
    })
    .await;
    let t = app.tenant().await;
    let flow = workflow(&app, &t, json!([{"id": "pause", "type": "wait", "minutes": 1}])).await;
    let id = run(&app, &t, &flow, json!({})).await;
    assert!(app.run_workflows().await.contains(&Ran::Waiting));
    app.clock.advance(chrono::Duration::milliseconds(59_700));
    app.run_workflows().await;
    app.clock.advance(chrono::Duration::minutes(1));
    app.run_workflows().await;
    let done = execution(&app, &t, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
}

#[tokio::test]
async fn a_worker_killed_mid_step_is_resumed_and_the_run_finishes_exactly_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (server, connection) = receiver(&app, &t, |request, _| {
        ok(request.header("idempotency-key").unwrap_or_default())
    })
    .await;
    let flow = workflow(
        &app,
        &t,
        json!([{"id": "tell", "type": "http", "connection_id": connection, "action": "notify", "input": {"text": "once", "to": "x"}}]),
    )
    .await;
    let id = run(&app, &t, &flow, json!({})).await;
    let job = WorkflowJob {
        workspace_id: t.workspace_id.clone(),
        execution_id: id.clone(),
        step: 0,
        not_before: 0,
    };
    // A worker makes the request and dies before recording it; SQS hands the job out again.
    let Due::Attempted(_lost) = app.workflow_runner.attempt(&job).await.unwrap() else {
        panic!("the step was due");
    };
    assert_eq!(execution(&app, &t, &id).await["steps"][0]["status"], "pending");
    let ran = app.run_workflows().await;
    assert_eq!(
        ran,
        [Ran::Finished(switchboard_core::model::ExecutionStatus::Succeeded)]
    );
    // Two requests, one key: a receiver that honours it acts once.
    let keys: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_owned())
        .collect();
    assert_eq!(keys, vec![format!("{id}:tell"); 2]);
    // Copies of the job coming late change nothing.
    assert_eq!(app.workflow_runner.run(&job).await.unwrap(), Ran::Stale);
    let done = execution(&app, &t, &id).await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["steps"][0]["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(finished_events(&app.event_types(&t.workspace_id).await), 1);

    // Two workers recording the same step at once: one wins, the other is stale.
    let again = run(&app, &t, &flow, json!({})).await;
    let job = WorkflowJob {
        execution_id: again.clone(),
        ..job
    };
    let (Due::Attempted(first), Due::Attempted(second)) = (
        app.workflow_runner.attempt(&job).await.unwrap(),
        app.workflow_runner.attempt(&job).await.unwrap(),
    ) else {
        panic!("the step was due");
    };
    let (a, b) = tokio::join!(
        app.workflow_runner.record(&job, *first),
        app.workflow_runner.record(&job, *second)
    );
    let mut outcomes = vec![a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|r| format!("{r:?}"));
    assert_eq!(
        outcomes,
        [
            Ran::Finished(switchboard_core::model::ExecutionStatus::Succeeded),
            Ran::Stale
        ]
    );
    assert_eq!(finished_events(&app.event_types(&t.workspace_id).await), 2);
}

#[tokio::test]
async fn runs_refuse_bad_input_and_paused_workflows() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let flow = workflow(&app, &t, json!([{"id": "w", "type": "wait", "minutes": 1}])).await;
    let path = format!("/v1/workflows/{flow}/run");
    app.post(&path)
        .bearer(&t.key)
        .json(json!({"data": [1]}))
        .send()
        .await
        .expect_error(400, "invalid_type");
    app.post(&path)
        .bearer(&t.key)
        .json(json!({"input": {}}))
        .send()
        .await
        .expect_error(400, "unknown_field");
    app.put(&format!("/v1/workflows/{flow}"))
        .bearer(&t.key)
        .json(json!({"name": "Test", "status": "paused", "steps": [{"id": "w", "type": "wait", "minutes": 1}]}))
        .send()
        .await
        .expect(200);
    app.post(&path)
        .bearer(&t.key)
        .send()
        .await
        .expect_error(409, "workflow_retired");
    app.get("/v1/executions?status=asleep")
        .bearer(&t.key)
        .send()
        .await
        .expect_error(400, "invalid_parameter");
    let listed = app.get("/v1/executions").bearer(&t.key).send().await;
    assert_eq!(listed.body["data"], json!([]));
    app.get("/v1/executions/exe_01JD3QZ9R6X4Y7T2W8V5N1M0KA")
        .bearer(&t.key)
        .send()
        .await
        .expect_error(404, "execution_not_found");
}

#[tokio::test]
async fn a_path_from_the_data_cannot_move_a_request_off_its_connections_host() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let server = FakeServer::start(|_, _| ok("x")).await;
    let connection = app
        .create(
            &t,
            "/v1/connections",
            json!({"connector_id": "http", "name": "crm", "base_url": server.url}),
        )
        .await;
    let flow = workflow(
        &app,
        &t,
        json!([{"id": "get", "type": "http", "connection_id": connection, "action": "get",
                "input": {"path": "{{trigger.data.path}}"}}]),
    )
    .await;
    for path in [".evil.example.net/x", "//evil.example.net/x", "@evil.example.net/x"] {
        let id = run(&app, &t, &flow, json!({"path": path})).await;
        app.run_workflows().await;
        let done = execution(&app, &t, &id).await;
        assert_eq!(done["status"], "failed", "{path}: {done}");
        assert!(done["error"].as_str().unwrap().contains("is not a path"), "{done}");
    }
    assert!(server.requests().is_empty());
    let id = run(&app, &t, &flow, json!({"path": "/fine?x=1"})).await;
    app.run_workflows().await;
    assert_eq!(execution(&app, &t, &id).await["status"], "succeeded");
    assert_eq!(server.requests()[0].path, "/fine?x=1");
}

#[tokio::test]
async fn a_run_places_one_call_and_sends_one_agent_message_however_often_its_steps_run() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number, _) = app.phone_line(&t).await;
    let to = switchboard_tests::phone_ending("0100");
    let flow = workflow(
        &app,
        &t,
        json!([
            {"id": "call", "type": "start_call", "agent_id": agent, "phone_number_id": number,
             "to": "{{trigger.data.to}}", "metadata": {"lead": "{{trigger.data.lead}}"}},
            {"id": "ask", "type": "send_agent_message", "agent_id": agent,
             "content": "We just called {{steps.call.output.to}}. Can I book an appointment for tomorrow?"}]),
    )
    .await;
    let id = run(&app, &t, &flow, json!({"to": to, "lead": "L-7"})).await;
    let job = |step| WorkflowJob {
        workspace_id: t.workspace_id.clone(),
        execution_id: id.clone(),
        step,
        not_before: 0,
    };
    // Each step is made, then its worker dies before recording it; the job comes again.
    for step in [0, 1] {
        let Due::Attempted(_lost) = app.workflow_runner.attempt(&job(step)).await.unwrap() else {
            panic!("step {step} was due");
        };
        app.run_workflow_batch().await;
    }
    app.run_workflows().await;
    let done = execution(&app, &t, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");

    let calls = app.get("/v1/calls").bearer(&t.key).send().await.body["data"].clone();
    let calls = calls.as_array().unwrap();
    assert_eq!(calls.len(), 1, "one call, however often the step ran: {calls:?}");
    assert_eq!(done["steps"][0]["output"]["call_id"], calls[0]["id"]);
    assert_eq!(
        (&calls[0]["to"], &calls[0]["metadata"]["lead"]),
        (&json!(to), &json!("L-7"))
    );
    let balance = app.get("/v1/billing/balance").bearer(&t.key).send().await.body;
    assert!(
        balance["held_minor"].as_i64().unwrap() > 0,
        "the wallet holds the call: {balance}"
    );

    let said = &done["steps"][1]["output"];
    let conversation = said["conversation_id"].as_str().unwrap();
    assert!(!said["reply"].as_str().unwrap_or_default().is_empty(), "{said}");
    let messages = app
        .get(&format!("/v1/agents/{agent}/messages?conversation_id={conversation}"))
        .bearer(&t.key)
        .send()
        .await;
    let asked: Vec<&Value> = messages.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .collect();
    assert_eq!(asked.len(), 1, "said once: {}", messages.text);
    assert_eq!(
        asked[0]["content"],
        format!("We just called {to}. Can I book an appointment for tomorrow?")
    );
}

#[tokio::test]
async fn a_call_step_to_a_listed_number_fails_at_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number, _) = app.phone_line(&t).await;
    let to = unique_phone();
    app.post("/v1/dnc")
        .bearer(&t.key)
        .json(json!({"phone_e164": to}))
        .send()
        .await
        .expect(201);
    let flow = workflow(
        &app,
        &t,
        json!([{"id": "call", "type": "start_call", "agent_id": agent, "phone_number_id": number, "to": "{{trigger.data.to}}"}]),
    )
    .await;
    let id = run(&app, &t, &flow, json!({"to": to})).await;
    app.run_workflows().await;
    let done = execution(&app, &t, &id).await;
    assert_eq!(done["status"], "failed", "{done}");
    let attempts = done["steps"][0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "a refusal is not retried: {done}");
    assert!(
        attempts[0]["error"].as_str().unwrap().starts_with("number_on_dnc"),
        "{done}"
    );
    assert!(
        app.get("/v1/calls").bearer(&t.key).send().await.body["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}
