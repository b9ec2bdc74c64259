//! Phone numbers: imported once across all workspaces, answered by an agent, released.

use serde_json::json;
use switchboard_core::ports::Directory;
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
