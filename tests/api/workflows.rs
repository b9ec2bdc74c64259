//! Workflows: saved whole and checked (every refusal names the step and field), revised as
//! their steps change, listed by status.

use serde_json::{Value, json};
use switchboard_tests::{Tenant, TestApp};

/// A chat-webhook connection of the tenant.
async fn chat_connection(app: &TestApp, t: &Tenant) -> String {
    app.create(
        t,
        "/v1/connections",
        json!({"connector_id": "chat_webhook", "name": "Team chat",
               "credentials": {"url": "https://hooks.example.com/services/T0/B0/x"}}),
    )
    .await
}

fn every_kind_of_step(connection: &str, agent: &str, number: &str) -> Value {
    json!([
        {"id": "booked", "type": "condition", "value": "{{trigger.data.outcome}}", "comparison": "equals",
         "with": "booked", "otherwise": "later"},
        {"id": "tell", "type": "http", "connection_id": connection, "action": "post_message",
         "input": {"text": "Booked {{trigger.data.to}}"}, "max_attempts": 3},
        {"id": "contact", "type": "upsert_contact", "phone": "{{trigger.data.to}}", "name": "{{trigger.data.name}}",
         "attributes": {"last_outcome": "booked"}},
        {"id": "pause", "type": "wait", "minutes": 60},
        {"id": "later", "type": "send_agent_message", "agent_id": agent, "content": "Follow up with {{trigger.data.to}}"},
        {"id": "call", "type": "start_call", "agent_id": agent, "phone_number_id": number, "to": "{{trigger.data.to}}"},
        {"id": "stop", "type": "add_to_dnc", "phone": "+14155550123", "reason": "asked"}
    ])
}

#[tokio::test]
async fn a_workflow_is_saved_whole_and_its_revision_grows_with_its_steps() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let connection = chat_connection(&app, &t).await;
    let (agent, number, _) = app.phone_line(&t).await;
    let steps = every_kind_of_step(&connection, &agent, &number);
    let created = app
        .post("/v1/workflows")
        .bearer(&t.key)
        .json(json!({"name": "Booked calls", "steps": steps}))
        .send()
        .await;
    created.expect(201);
    assert_eq!(
        (&created.body["status"], &created.body["revision"]),
        (&json!("draft"), &json!(1))
    );
    assert_eq!(created.body["steps"], steps);
    let path = format!("/v1/workflows/{}", created.id());

    // The same steps keep the version; changed steps move it.
    let same = app
        .put(&path)
        .bearer(&t.key)
        .json(json!({"name": "Booked calls", "status": "live", "steps": steps}))
        .send()
        .await;
    same.expect(200);
    assert_eq!(
        (&same.body["status"], &same.body["revision"]),
        (&json!("live"), &json!(1))
    );
    let mut fewer = steps.as_array().unwrap().clone();
    fewer.pop();
    let changed = app
        .put(&path)
        .bearer(&t.key)
        .header("if-match", same.header("etag").unwrap())
        .json(json!({"name": "Booked calls", "steps": fewer}))
        .send()
        .await;
    changed.expect(200);
    assert_eq!(
        (&changed.body["status"], &changed.body["revision"]),
        (&json!("live"), &json!(2))
    );
    app.put(&path)
        .bearer(&t.key)
        .header("if-match", same.header("etag").unwrap())
        .json(json!({"name": "Stale", "steps": fewer}))
        .send()
        .await
        .expect_error(412, "precondition_failed");

    let live = app.get("/v1/workflows?status=live").bearer(&t.key).send().await;
    assert_eq!(live.body["data"].as_array().unwrap().len(), 1);
    let drafts = app.get("/v1/workflows?status=draft").bearer(&t.key).send().await;
    assert_eq!(drafts.body["data"], json!([]));
    app.get("/v1/workflows?status=asleep")
        .bearer(&t.key)
        .send()
        .await
        .expect_error(400, "invalid_parameter");

    app.put(&path)
        .bearer(&t.key)
        .json(json!({"name": "Booked calls", "status": "retired", "steps": fewer}))
        .send()
        .await
        .expect(200);
    app.put(&path)
        .bearer(&t.key)
        .json(json!({"name": "Again", "status": "live", "steps": fewer}))
        .send()
        .await
        .expect_error(409, "workflow_retired");
}

#[tokio::test]
async fn an_invalid_workflow_is_refused_naming_the_step_and_field_and_nothing_is_written() {
    let app = TestApp::unlimited().await;
    let t = app.tenant().await;
    let connection = chat_connection(&app, &t).await;
    let wait = json!({"id": "w", "type": "wait", "minutes": 5});
    let http =
        |action: &str| json!({"id": "h", "type": "http", "connection_id": connection, "action": action, "input": {}});
    let before = app.snapshot(&t.workspace_id).await;
    for (steps, param) in [
        (json!([]), "steps"),
        (json!([{"id": "x", "type": "teleport"}]), "steps[0].type"),
        (
            json!([wait, {"id": "y", "type": "wait", "minutes": 5, "colour": "red"}]),
            "steps[1].colour",
        ),
        (
            json!([{"id": "c", "type": "start_call", "agent_id": "agt_x", "phone_number_id": "num_x"}]),
            "steps[0].to",
        ),
        (json!([wait, wait]), "steps[1].id"),
        (json!([{"id": "bad id", "type": "wait", "minutes": 5}]), "steps[0].id"),
        (json!([{"id": "w", "type": "wait", "minutes": 0}]), "steps[0].minutes"),
        (
            json!([{"id": "w", "type": "wait", "minutes": 43_201}]),
            "steps[0].minutes",
        ),
        (
            json!([{"id": "a", "type": "add_to_dnc", "phone": "{{steps.b.output.phone}}"}, {"id": "b", "type": "wait", "minutes": 1}]),
            "steps[0].phone",
        ),
        (
            json!([{"id": "a", "type": "add_to_dnc", "phone": "{{secrets.CRM}}"}]),
            "steps[0].phone",
        ),
        (
            json!([{"id": "a", "type": "add_to_dnc", "phone": "{{trigger.data.to"}]),
            "steps[0].phone",
        ),
        (
            json!([{"id": "a", "type": "add_to_dnc", "phone": "not a number"}]),
            "steps[0].phone",
        ),
        (
            json!([wait, {"id": "loop", "type": "condition", "value": "x", "comparison": "equals", "with": "y", "otherwise": "w"}]),
            "steps[1].otherwise",
        ),
        (
            json!([{"id": "c", "type": "condition", "value": "x", "comparison": "equals", "otherwise": null}]),
            "steps[0].with",
        ),
        (json!([http("nope")]), "steps[0].action"),
        (
            json!([{"id": "h", "type": "http", "connection_id": "cxn_01JD3QZ9R6X4Y7T2W8V5N1M0KA", "action": "post_message"}]),
            "steps[0].connection_id",
        ),
        (
            json!([{"id": "m", "type": "send_agent_message", "agent_id": "agt_01JD3QZ9R6X4Y7T2W8V5N1M0KA", "content": "hi"}]),
            "steps[0].agent_id",
        ),
        (
            json!([{"id": "h", "type": "http", "connection_id": connection, "action": "post_message", "max_attempts": 11}]),
            "steps[0].max_attempts",
        ),
    ] {
        let res = app
            .post("/v1/workflows")
            .bearer(&t.key)
            .json(json!({"name": "Bad", "steps": steps}))
            .send()
            .await;
        assert_eq!(
            res.status,
            if param.ends_with("phone") && steps.to_string().contains("not a number") {
                400
            } else {
                422
            },
            "{param}: {}",
            res.text
        );
        assert_eq!(res.param(), param, "{}", res.text);
    }
    for body in [
        json!({"name": "x"}),
        json!({"name": "x", "steps": [wait], "trigger": "x"}),
        json!({"name": "", "steps": [wait]}),
    ] {
        let res = app.post("/v1/workflows").bearer(&t.key).json(body).send().await;
        assert!(res.status == 400 || res.status == 422, "{}", res.text);
    }
    app.post("/v1/workflows")
        .bearer(&t.key)
        .json(json!({"name": "x", "status": "retired", "steps": [wait]}))
        .send()
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(app.snapshot(&t.workspace_id).await, before);
}
