//! The automation assistant: drafts from a sentence, checked and never saved by themselves (a
//! drafted workflow runs once a person creates it live), and answers about the workspace's own
//! setup from read-only tools.

use serde_json::{Value, json};
use switchboard_tests::fake::FakeServer;
use switchboard_tests::{TestApp, phone_ending};

#[tokio::test]
async fn an_ai_built_workflow_is_checked_saves_nothing_and_runs_once_made_live() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let chat = FakeServer::start(|_, _| (200, "application/json", "{}".into())).await;
    app.create(
        &t,
        "/v1/connections",
        json!({"connector_id": "chat_webhook", "name": "Team chat", "credentials": {"url": chat.url}}),
    )
    .await;
    let line = app.phone_line(&t).await;

    let before = app.snapshot(&t.workspace_id).await;
    let built = app
        .post("/v1/ai/build")
        .bearer(&t.key)
        .json(json!({"kind": "workflow",
                     "prompt": "When a call ends unanswered, post to the team chat and update the contact."}))
        .send()
        .await;
    built.expect(200);
    assert_eq!(app.snapshot(&t.workspace_id).await, before, "a draft is not saved");
    let draft = &built.body;
    assert_eq!(draft["object"], "ai_draft");
    let kinds: Vec<&str> = draft["workflow"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["http", "upsert_contact"], "{}", built.text);
    assert_eq!(draft["workflow"]["status"], "draft");
    assert_eq!(
        draft["trigger"],
        json!({"type": "event", "event": "call.ended", "filter": {"status": "no-answer"}})
    );

    // A person makes it live, with its trigger; then an unanswered call runs it.
    let mut workflow = draft["workflow"].clone();
    workflow["status"] = json!("live");
    let workflow_id = app.create(&t, "/v1/workflows", workflow).await;
    let mut trigger = draft["trigger"].clone();
    trigger["workflow_id"] = json!(workflow_id);
    app.create(&t, "/v1/triggers", trigger).await;
    let unanswered = phone_ending("0002");
    let call_id = app
        .create(
            &t,
            "/v1/calls",
            json!({"agent_id": line.0, "phone_number_id": line.1, "to": unanswered}),
        )
        .await;
    app.run_call_jobs_until_final(&t, &call_id).await;
    app.route_events(&t.workspace_id).await;
    app.run_workflows().await;
    let runs = app.get("/v1/executions").bearer(&t.key).send().await.body["data"].clone();
    assert_eq!(runs[0]["status"], "succeeded", "{runs}");
    assert_eq!(
        chat.requests()[0].json(),
        json!({"text": format!("Call to {unanswered} ended: no-answer.")})
    );
    let contacts = app.get("/v1/contacts").bearer(&t.key).send().await.body["data"].clone();
    let noted = contacts
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["phone"] == unanswered.as_str())
        .cloned();
    assert_eq!(noted.unwrap()["attributes"]["last_call"], call_id.as_str());
}

#[tokio::test]
async fn an_ai_built_connector_names_its_actions_and_can_be_created() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let api = FakeServer::start(|_, _| (200, "application/json", "[]".into())).await;
    let built = app
        .post("/v1/ai/build")
        .bearer(&t.key)
        .json(json!({"kind": "connector", "prompt": format!(
            "A connector for the Acme CRM at {} with a bearer token: create a lead (POST /leads with name and phone), \
             get a lead (GET /leads/{{id}}), list leads (GET /leads).", api.url)}))
        .send()
        .await;
    built.expect(200);
    let connector = &built.body["connector"];
    assert_eq!(connector["auth"], json!({"type": "bearer"}));
    assert_eq!(connector["test_action"], "list_leads");
    let actions: Vec<(&str, &str, &str)> = connector["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap(),
                a["method"].as_str().unwrap(),
                a["path"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("create_lead", "POST", "/leads"),
            ("get_lead", "GET", "/leads/{{input.id}}"),
            ("list_leads", "GET", "/leads")
        ],
        "{}",
        built.text
    );
    assert_eq!(
        connector["actions"][0]["body"],
        json!({"name": "{{input.name}}", "phone": "{{input.phone}}"})
    );
    app.create(&t, "/v1/connectors", connector.clone()).await;
}

#[tokio::test]
async fn the_assistant_refuses_bad_input_and_drafts_it_cannot_check() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let before = app.snapshot(&t.workspace_id).await;
    for (path, body, status, code, param) in [
        (
            "/v1/ai/build",
            json!({"kind": "spaceship", "prompt": "x"}),
            400,
            "invalid_type",
            "kind",
        ),
        (
            "/v1/ai/build",
            json!({"kind": "workflow", "prompt": ""}),
            422,
            "validation_failed",
            "prompt",
        ),
        (
            "/v1/ai/build",
            json!({"kind": "workflow", "prompt": "x", "live": true}),
            400,
            "unknown_field",
            "live",
        ),
        // Nothing the model could build from: the draft fails the checks a saved one would.
        (
            "/v1/ai/build",
            json!({"kind": "workflow", "prompt": "Make everything better."}),
            422,
            "ai_draft_invalid",
            "steps",
        ),
        (
            "/v1/ai/build",
            json!({"kind": "connector", "prompt": "A connector for our CRM."}),
            422,
            "ai_draft_invalid",
            "base_url",
        ),
        (
            "/v1/ai/chat",
            json!({"messages": []}),
            422,
            "validation_failed",
            "messages",
        ),
        (
            "/v1/ai/chat",
            json!({"messages": [{"role": "assistant", "content": "Hi"}]}),
            422,
            "validation_failed",
            "messages",
        ),
        (
            "/v1/ai/chat",
            json!({"messages": [{"role": "user", "content": ""}]}),
            422,
            "validation_failed",
            "messages[0].content",
        ),
    ] {
        let res = app.post(path).bearer(&t.key).json(body.clone()).send().await;
        res.expect_error(status, code);
        assert_eq!(res.param(), param, "{body}: {}", res.text);
    }
    assert_eq!(app.snapshot(&t.workspace_id).await, before);
}

#[tokio::test]
async fn the_assistant_answers_from_the_workspace_s_own_setup_only() {
    let app = TestApp::spawn().await;
    let (t, other) = (app.tenant().await, app.tenant().await);
    let line = app.phone_line(&t).await;
    let step = |agent: &str| json!([{"id": "hi", "type": "send_agent_message", "agent_id": agent, "content": "Hi"}]);
    app.create(
        &t,
        "/v1/workflows",
        json!({"name": "Morning briefing", "status": "live", "steps": step(&line.0)}),
    )
    .await;
    let theirs = app.phone_line(&other).await;
    app.create(
        &other,
        "/v1/workflows",
        json!({"name": "Their secret plan", "steps": step(&theirs.0)}),
    )
    .await;
    let asked = app
        .post("/v1/ai/chat")
        .bearer(&t.key)
        .json(json!({"messages": [{"role": "user", "content": "Which agents, numbers and workflows do I have?"}]}))
        .send()
        .await;
    asked.expect(200);
    assert_eq!(
        asked.body["tools_used"],
        json!(["list_agents", "list_phone_numbers", "list_workflows"])
    );
    let reply = asked.body["reply"].as_str().unwrap();
    assert!(
        reply.contains("Morning briefing") && reply.contains("live") && reply.contains("Sarah"),
        "{reply}"
    );
    assert!(
        reply.contains(&format!("{}, active, answered by {}", line.1, line.0)),
        "{reply}"
    );
    assert!(!reply.contains("Their secret plan"), "{reply}");
    // A read-only key may ask.
    let reader = app.key(&t, "read").await;
    let res = app
        .post("/v1/ai/chat")
        .bearer(&reader)
        .json(json!({"messages": [{"role": "user", "content": "Hello"}]}))
        .send()
        .await;
    res.expect(200);
    assert!(res.body["tools_used"].as_array().unwrap().is_empty());
    let _: &Value = &res.body["reply"];
}

#[tokio::test]
async fn a_model_told_why_its_draft_was_refused_gets_one_more_try() {
    use switchboard_domain::automation::assistant::{DraftKind, Drafting, draft_request};
    use switchboard_domain::automation::workflows::checked_steps;
    let model = FakeServer::start(|_, n| {
        let steps = match n {
            0 => json!([{"id": "x", "type": "teleport"}]),
            _ => json!([{"id": "pause", "type": "wait", "minutes": 5}]),
        };
        let content = json!([{"type": "tool_use", "id": format!("toolu_{n}"), "name": "record_workflow",
                              "input": {"name": "Pause", "steps": steps}}]);
        let answer = json!({"id": "msg_1", "type": "message", "role": "assistant", "stop_reason": "tool_use", "content": content});
        (200, "application/json", answer.to_string())
    })
    .await;
    let llm = switchboard_llm::anthropic::Anthropic::new(&model.url, "sk-ant-test", "claude-test");
    let request = draft_request(DraftKind::Workflow, "Wait five minutes.", &[], chrono::Utc::now());
    let mut drafting = Drafting::new(request);
    let steps = |used: &switchboard_core::ports::ToolUse| used.input["steps"].as_array().unwrap().clone();

    let first = drafting.next(&llm).await.unwrap().unwrap();
    let refused = checked_steps(&steps(&first)).unwrap_err();
    assert!(drafting.refused(&first, &refused.message()));
    let second = drafting.next(&llm).await.unwrap().unwrap();
    assert!(checked_steps(&steps(&second)).is_ok());
    let told = model.requests()[1].json().to_string();
    assert!(told.contains("Refused: ") && told.contains("teleport"), "{told}");
    assert!(!drafting.refused(&second, "again"), "one more try, no more");
}
