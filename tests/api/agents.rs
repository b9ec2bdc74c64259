//! Agents: create (with templates and defaults), read, update, delete, plan limits.

use serde_json::json;
use switchboard_tests::TestApp;

#[tokio::test]
async fn agents_are_created_with_defaults_and_read_back() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let res = app
        .post("/v1/agents")
        .bearer(&t.key)
        .json(json!({"name": "  Support  ", "system_prompt": "Be kind."}))
        .send()
        .await;
    res.expect(201);
    let agent = &res.body;
    assert!(agent["id"].as_str().unwrap().starts_with("agt_"));
    assert_eq!(agent["object"], "agent");
    assert_eq!(agent["name"], "Support");
    assert_eq!(
        (
            agent["voice"].as_str(),
            agent["language"].as_str(),
            agent["max_call_duration"].as_u64()
        ),
        (Some("amelia"), Some("en-US"), Some(600))
    );
    assert_eq!(
        (agent["is_active"].as_bool(), agent["first_message"].as_str()),
        (Some(true), Some(""))
    );
    assert_eq!(agent["created_at"], agent["updated_at"]);
    let got = app
        .get(&format!("/v1/agents/{}", agent["id"].as_str().unwrap()))
        .bearer(&t.key)
        .send()
        .await;
    got.expect(200);
    assert_eq!(&got.body, agent);
}

#[tokio::test]
async fn templates_fill_what_is_left_out() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let res = app
        .post("/v1/agents")
        .bearer(&t.key)
        .json(json!({"name": "Setter", "template": "appointment-setter", "first_message": "Hello!"}))
        .send()
        .await;
    res.expect(201);
    assert!(res.body["system_prompt"].as_str().unwrap().contains("book"));
    assert_eq!(
        (res.body["first_message"].as_str(), res.body["template"].as_str()),
        (Some("Hello!"), Some("appointment-setter"))
    );
    let res = app
        .post("/v1/agents")
        .bearer(&t.key)
        .json(json!({"name": "x", "template": "astrologer"}))
        .send()
        .await;
    res.expect_error(400, "invalid_value");
    assert_eq!(res.param(), "template");
    let res = app
        .post("/v1/agents")
        .bearer(&t.key)
        .json(json!({"name": "x"}))
        .send()
        .await;
    res.expect_error(422, "validation_failed");
    assert_eq!(res.param(), "system_prompt");
}

#[tokio::test]
async fn agent_fields_are_validated() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let cases = [
        (
            json!({"name": "", "system_prompt": "p"}),
            422,
            "validation_failed",
            "name",
        ),
        (
            json!({"name": "x".repeat(121), "system_prompt": "p"}),
            422,
            "validation_failed",
            "name",
        ),
        (
            json!({"name": "a", "system_prompt": "p", "voice": "darth"}),
            400,
            "invalid_value",
            "voice",
        ),
        (
            json!({"name": "a", "system_prompt": "p", "language": "english!"}),
            400,
            "invalid_value",
            "language",
        ),
        (
            json!({"name": "a", "system_prompt": "p", "max_call_duration": 10}),
            422,
            "validation_failed",
            "max_call_duration",
        ),
        (
            json!({"name": "a", "system_prompt": "p", "max_call_duration": 7201}),
            422,
            "validation_failed",
            "max_call_duration",
        ),
        (
            json!({"name": "a", "system_prompt": "p", "max_call_duration": -5}),
            400,
            "invalid_type",
            "max_call_duration",
        ),
        (
            json!({"name": "a", "system_prompt": "p".repeat(32_001)}),
            422,
            "validation_failed",
            "system_prompt",
        ),
    ];
    for (body, status, code, param) in cases {
        let res = app.post("/v1/agents").bearer(&t.key).json(body).send().await;
        res.expect_error(status, code);
        assert_eq!(res.param(), param);
    }
    let list = app.get("/v1/agents").bearer(&t.key).send().await;
    assert_eq!(list.body["data"], json!([]));
}

#[tokio::test]
async fn updates_change_only_what_is_sent() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let created = app
        .post("/v1/agents")
        .bearer(&t.key)
        .json(json!({"name": "a", "system_prompt": "p", "voice": "kai"}))
        .send()
        .await;
    let path = format!("/v1/agents/{}", created.id());
    app.clock.advance(chrono::Duration::seconds(5));
    let res = app
        .patch(&path)
        .bearer(&t.key)
        .json(json!({"is_active": false, "language": "hi-IN"}))
        .send()
        .await;
    res.expect(200);
    assert_eq!(
        (
            res.body["is_active"].as_bool(),
            res.body["language"].as_str(),
            res.body["voice"].as_str()
        ),
        (Some(false), Some("hi-IN"), Some("kai"))
    );
    assert_eq!(res.body["created_at"], created.body["created_at"]);
    assert_ne!(res.body["updated_at"], created.body["updated_at"]);
    let res = app.patch(&path).bearer(&t.key).json(json!({"name": null})).send().await;
    res.expect_error(400, "invalid_type");
    assert_eq!(res.param(), "name");
    app.patch(&path)
        .bearer(&t.key)
        .json(json!({"voice": "nobody"}))
        .send()
        .await
        .expect_error(400, "invalid_value");
    let now = app.get(&path).bearer(&t.key).send().await;
    assert_eq!(
        (now.body["name"].as_str(), now.body["voice"].as_str()),
        (Some("a"), Some("kai")),
        "refused updates change nothing"
    );
}

#[tokio::test]
async fn deleted_agents_are_gone() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let id = app
        .create(&t, "/v1/agents", json!({"name": "a", "system_prompt": "p"}))
        .await;
    let res = app.delete(&format!("/v1/agents/{id}")).bearer(&t.key).send().await;
    res.expect(200);
    assert_eq!(res.body, json!({"id": id, "object": "agent", "deleted": true}));
    app.get(&format!("/v1/agents/{id}"))
        .bearer(&t.key)
        .send()
        .await
        .expect_error(404, "agent_not_found");
    app.delete(&format!("/v1/agents/{id}"))
        .bearer(&t.key)
        .send()
        .await
        .expect_error(404, "agent_not_found");
    app.get("/v1/agents/agt_bogus")
        .bearer(&t.key)
        .send()
        .await
        .expect_error(404, "agent_not_found");
}

#[tokio::test]
async fn the_plan_caps_agents_and_deleting_frees_a_place() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(
            app.create(&t, "/v1/agents", json!({"name": format!("a{i}"), "system_prompt": "p"}))
                .await,
        );
    }
    app.clock.advance(chrono::Duration::seconds(61));
    let res = app
        .post("/v1/agents")
        .bearer(&t.key)
        .json(json!({"name": "eleven", "system_prompt": "p"}))
        .send()
        .await;
    res.expect_error(422, "limit_reached");
    assert!(res.body["error"]["message"].as_str().unwrap().contains("10 agents"));
    app.delete(&format!("/v1/agents/{}", ids[0]))
        .bearer(&t.key)
        .send()
        .await
        .expect(200);
    app.post("/v1/agents")
        .bearer(&t.key)
        .json(json!({"name": "eleven", "system_prompt": "p"}))
        .send()
        .await
        .expect(201);
}

#[tokio::test]
async fn agents_racing_for_the_last_place_leave_one_out() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    for i in 0..8 {
        app.create(&t, "/v1/agents", json!({"name": format!("a{i}"), "system_prompt": "p"}))
            .await;
    }
    let results = futures::future::join_all((0..4).map(|i| {
        app.post("/v1/agents")
            .bearer(&t.key)
            .json(json!({"name": format!("r{i}"), "system_prompt": "p"}))
            .send()
    }))
    .await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 201, 422, 422]);
}

#[tokio::test]
async fn concurrent_deletes_release_the_plan_place_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(
            app.create(&t, "/v1/agents", json!({"name": format!("a{i}"), "system_prompt": "p"}))
                .await,
        );
    }
    app.clock.advance(chrono::Duration::seconds(61));
    let path = format!("/v1/agents/{}", ids[0]);
    let results = futures::future::join_all((0..4).map(|_| app.delete(&path).bearer(&t.key).send())).await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 404, 404, 404]);
    app.post("/v1/agents")
        .bearer(&t.key)
        .json(json!({"name": "fits", "system_prompt": "p"}))
        .send()
        .await
        .expect(201);
    app.post("/v1/agents")
        .bearer(&t.key)
        .json(json!({"name": "over", "system_prompt": "p"}))
        .send()
        .await
        .expect_error(422, "limit_reached");
}
