//! Approvals: requested, decided once, expiring.

use serde_json::json;
use switchboard_tests::{Tenant, TestApp};

async fn request(app: &TestApp, t: &Tenant, seconds: i64) -> String {
    app.create(
        t,
        "/v1/approvals",
        json!({"proposed_action": "concession", "proposed_value_minor": 1500, "currency": "usd", "rationale": "Loyal customer", "expires_in_seconds": seconds}),
    )
    .await
}

#[tokio::test]
async fn an_approval_is_requested_and_decided_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let id = request(&app, &t, 3600).await;
    let pending = app.get(&format!("/v1/approvals/{id}")).bearer(&t.key).send().await;
    assert_eq!(
        (
            pending.body["status"].as_str(),
            pending.body["currency"].as_str(),
            pending.body["object"].as_str()
        ),
        (Some("pending"), Some("USD"), Some("approval"))
    );
    let denied = app
        .post(&format!("/v1/approvals/{id}/decide"))
        .bearer(&t.key)
        .json(json!({"decision": "deny", "note": "Not this time"}))
        .send()
        .await;
    denied.expect(200);
    assert_eq!(
        (
            denied.body["status"].as_str(),
            denied.body["decided_by"].as_str(),
            denied.body["decision_note"].as_str()
        ),
        (Some("denied"), Some(t.key_id.as_str()), Some("Not this time"))
    );
    let again = app
        .post(&format!("/v1/approvals/{id}/decide"))
        .bearer(&t.key)
        .json(json!({"decision": "approve"}))
        .send()
        .await;
    again.expect_error(409, "approval_already_decided");
    let mut types = app.event_types(&t.workspace_id).await;
    types.sort();
    assert_eq!(types, ["approval.decided", "approval.requested"]);
}

#[tokio::test]
async fn two_decisions_racing_leave_one_standing() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let id = request(&app, &t, 3600).await;
    let results = futures::future::join_all(["approve", "deny", "approve", "deny"].map(|d| {
        app.post(&format!("/v1/approvals/{id}/decide"))
            .bearer(&t.key)
            .json(json!({"decision": d}))
            .send()
    }))
    .await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 409, 409, 409]);
    let winner = results.iter().find(|r| r.status == 200).unwrap();
    let stored = app.get(&format!("/v1/approvals/{id}")).bearer(&t.key).send().await;
    assert_eq!(stored.body["status"], winner.body["status"]);
}

#[tokio::test]
async fn approvals_expire_when_nobody_decides() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let soon = request(&app, &t, 60).await;
    let later = request(&app, &t, 3600).await;
    app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(
        app.get(&format!("/v1/approvals/{soon}"))
            .bearer(&t.key)
            .send()
            .await
            .body["status"],
        "expired"
    );
    app.post(&format!("/v1/approvals/{soon}/decide"))
        .bearer(&t.key)
        .json(json!({"decision": "approve"}))
        .send()
        .await
        .expect_error(409, "approval_expired");
    let ids = |path: &str| {
        let path = path.to_owned();
        let app = &app;
        let key = t.key.clone();
        async move {
            let res = app.get(&path).bearer(&key).send().await;
            res.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ids("/v1/approvals?status=expired").await, [soon.as_str()]);
    assert_eq!(ids("/v1/approvals?status=pending").await, [later.as_str()]);
    assert_eq!(ids("/v1/approvals").await, [later, soon]);
}

#[tokio::test]
async fn approval_input_is_checked() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let cases = [
        (
            json!({"proposed_action": "bribe", "rationale": "x"}),
            400,
            "invalid_type",
            "proposed_action",
        ),
        (
            json!({"proposed_action": "concession", "rationale": ""}),
            422,
            "validation_failed",
            "rationale",
        ),
        (
            json!({"proposed_action": "concession", "rationale": "x", "proposed_value_minor": 100}),
            422,
            "validation_failed",
            "currency",
        ),
        (
            json!({"proposed_action": "concession", "rationale": "x", "proposed_value_minor": -1, "currency": "USD"}),
            422,
            "validation_failed",
            "proposed_value_minor",
        ),
        (
            json!({"proposed_action": "concession", "rationale": "x", "proposed_value_minor": 1, "currency": "dollars"}),
            400,
            "invalid_value",
            "currency",
        ),
        (
            json!({"proposed_action": "callback", "rationale": "x", "expires_in_seconds": 30}),
            422,
            "validation_failed",
            "expires_in_seconds",
        ),
        // Past what a duration holds: refused like any wait too long, not a panic.
        (
            json!({"proposed_action": "callback", "rationale": "x", "expires_in_seconds": i64::MAX}),
            422,
            "validation_failed",
            "expires_in_seconds",
        ),
        (
            json!({"proposed_action": "callback", "rationale": "x", "expires_in_seconds": i64::MIN}),
            422,
            "validation_failed",
            "expires_in_seconds",
        ),
    ];
    for (body, status, code, param) in cases {
        let res = app.post("/v1/approvals").bearer(&t.key).json(body).send().await;
        res.expect_error(status, code);
        assert_eq!(res.param(), param);
    }
    let id = request(&app, &t, 3600).await;
    let res = app
        .post(&format!("/v1/approvals/{id}/decide"))
        .bearer(&t.key)
        .json(json!({"decision": "approve", "note": "x".repeat(501)}))
        .send()
        .await;
    res.expect_error(422, "validation_failed");
    app.post(&format!("/v1/approvals/{id}/decide"))
        .bearer(&t.key)
        .json(json!({"decision": "maybe"}))
        .send()
        .await
        .expect_error(400, "invalid_type");
    assert_eq!(
        app.get(&format!("/v1/approvals/{id}")).bearer(&t.key).send().await.body["status"],
        "pending"
    );
}
