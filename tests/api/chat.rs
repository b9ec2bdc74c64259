//! Text chat with an agent, through the conversation engine: history, tools, approvals, DNC.

use serde_json::{Value, json};
use switchboard_core::ports::DncStore;
use switchboard_tests::{Res, Tenant, TestApp};

async fn agent(app: &TestApp, t: &Tenant) -> String {
    app.create(
        t,
        "/v1/agents",
        json!({"name": "Sarah", "system_prompt": "You are Sarah, the receptionist of Acme Dental. Be brief.", "first_message": "Hi, this is Sarah from Acme Dental."}),
    )
    .await
}

async fn say(app: &TestApp, t: &Tenant, agent: &str, body: Value) -> Res {
    app.post(&format!("/v1/agents/{agent}/messages"))
        .bearer(&t.key)
        .json(body)
        .send()
        .await
}

fn roles_and_texts(res: &Res) -> Vec<(String, String)> {
    res.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_conversation_keeps_its_history() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let a = agent(&app, &t).await;
    let first = say(&app, &t, &a, json!({"content": "Who is this?"})).await;
    first.expect(201);
    assert_eq!(first.body["object"], "chat_turn");
    assert_eq!(
        roles_and_texts(&first),
        [
            ("agent".into(), "Hi, this is Sarah from Acme Dental.".into()),
            ("user".into(), "Who is this?".into()),
            (
                "agent".into(),
                "I'm Sarah, the receptionist of Acme Dental. What else can I help you with?".into()
            )
        ]
    );
    let conversation = first.body["conversation_id"].as_str().unwrap().to_owned();
    assert!(conversation.starts_with("cnv_"));
    let second = say(
        &app,
        &t,
        &a,
        json!({"conversation_id": conversation, "content": "Thanks, that's all."}),
    )
    .await;
    second.expect(200);
    let said = roles_and_texts(&second);
    assert_eq!(said[0], ("user".into(), "Thanks, that's all.".into()));
    assert_eq!(said.last().unwrap().0, "action", "the agent ended the conversation");
    assert_eq!(second.body["status"], "ended");
    say(
        &app,
        &t,
        &a,
        json!({"conversation_id": conversation, "content": "Wait!"}),
    )
    .await
    .expect_error(409, "conversation_ended");

    let all = app
        .get(&format!("/v1/agents/{a}/messages?conversation_id={conversation}"))
        .bearer(&t.key)
        .send()
        .await;
    let n = all.body["data"].as_array().unwrap().len();
    assert_eq!(n, 3 + said.len());
    let page = app
        .get(&format!(
            "/v1/agents/{a}/messages?conversation_id={conversation}&limit=2"
        ))
        .bearer(&t.key)
        .send()
        .await;
    let rest = app
        .get(&format!(
            "/v1/agents/{a}/messages?conversation_id={conversation}&limit=200&cursor={}",
            page.body["next_cursor"].as_str().unwrap()
        ))
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(rest.body["data"].as_array().unwrap().len(), n - 2);
    assert_eq!(rest.body["data"][0], all.body["data"][2]);
}

#[tokio::test]
async fn the_agent_books_an_appointment_for_the_contact() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let a = agent(&app, &t).await;
    let contact = app.create(&t, "/v1/contacts", json!({"phone": "+14155550142"})).await;
    let res = say(
        &app,
        &t,
        &a,
        json!({"contact_id": contact, "content": "Can I book an appointment for 2026-12-01T15:30:00Z?"}),
    )
    .await;
    res.expect(201);
    let said = roles_and_texts(&res);
    let action = said.iter().find(|(role, _)| role == "action").expect("the agent acted");
    assert!(action.1.starts_with("book_appointment: ok - booked apt_"), "{action:?}");
    assert_eq!(
        said.last().unwrap().1,
        "You're all set for 2026-12-01T15:30:00Z. Anything else?"
    );
    let booked = app
        .get(&format!("/v1/appointments?contact_id={contact}"))
        .bearer(&t.key)
        .send()
        .await;
    let appointment = &booked.body["data"][0];
    assert_eq!(
        (appointment["start_time"].as_str(), appointment["end_time"].as_str()),
        (Some("2026-12-01T15:30:00Z"), Some("2026-12-01T16:00:00Z"))
    );
    assert_eq!(
        (
            appointment["agent_id"].as_str(),
            appointment["conversation_id"].as_str()
        ),
        (Some(a.as_str()), res.body["conversation_id"].as_str())
    );
    assert!(
        app.event_types(&t.workspace_id)
            .await
            .contains(&"appointment.created".to_owned())
    );

    // The same time again is taken: the agent says so instead of double-booking.
    let again = say(
        &app,
        &t,
        &a,
        json!({"contact_id": contact, "content": "Book an appointment for 2026-12-01T15:30:00Z please"}),
    )
    .await;
    let said = roles_and_texts(&again);
    assert!(
        said.iter()
            .any(|(role, text)| role == "action" && text.starts_with("book_appointment: failed")),
        "{said:?}"
    );
    assert_eq!(
        said.last().unwrap().1,
        "I'm sorry, that time isn't available. Would another time work?"
    );
}

#[tokio::test]
async fn without_a_contact_the_agent_cannot_book() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let a = agent(&app, &t).await;
    let res = say(&app, &t, &a, json!({"content": "Book an appointment tomorrow"})).await;
    let said = roles_and_texts(&res);
    assert!(
        said.iter()
            .any(|(role, text)| role == "action" && text.contains("no contact")),
        "{said:?}"
    );
}

#[tokio::test]
async fn asking_to_stop_puts_the_contact_on_the_do_not_call_list() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let a = agent(&app, &t).await;
    let contact = app.create(&t, "/v1/contacts", json!({"phone": "+14155550143"})).await;
    let res = say(
        &app,
        &t,
        &a,
        json!({"contact_id": contact, "content": "Please stop calling me."}),
    )
    .await;
    assert_eq!(res.body["status"], "ended");
    let entry = app
        .store
        .dnc_entry(&t.workspace_id, switchboard_core::model::DncList::Dnc, "+14155550143")
        .await
        .unwrap()
        .expect("on the DNC list");
    assert_eq!(serde_json::to_value(entry.source).unwrap(), "conversation");
    assert_eq!(
        roles_and_texts(&res).last().unwrap().1,
        "Understood. We won't call you again. Goodbye!"
    );
}

#[tokio::test]
async fn an_approved_request_lets_the_conversation_go_on() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let a = agent(&app, &t).await;
    let contact = app.create(&t, "/v1/contacts", json!({"phone": "+14155550144"})).await;
    let res = say(
        &app,
        &t,
        &a,
        json!({"contact_id": contact, "content": "Can you waive the $25 late fee?"}),
    )
    .await;
    assert_eq!(res.body["status"], "awaiting_approval");
    let approval_id = res.body["pending_approval_id"].as_str().unwrap().to_owned();
    assert_eq!(
        roles_and_texts(&res).last().unwrap().1,
        "Let me check that with my team. One moment, please."
    );
    let conversation = res.body["conversation_id"].as_str().unwrap().to_owned();

    let approval = app
        .get(&format!("/v1/approvals/{approval_id}"))
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(
        (
            approval.body["status"].as_str(),
            approval.body["proposed_action"].as_str(),
            approval.body["proposed_value_minor"].as_i64(),
            approval.body["currency"].as_str()
        ),
        (Some("pending"), Some("refund_waiver"), Some(2500), Some("USD"))
    );
    assert_eq!(
        (
            approval.body["conversation_id"].as_str(),
            approval.body["agent_id"].as_str()
        ),
        (Some(conversation.as_str()), Some(a.as_str()))
    );
    assert!(approval.body["context"].as_str().unwrap().contains("late fee"));

    let decided = app
        .post(&format!("/v1/approvals/{approval_id}/decide"))
        .bearer(&t.token)
        .json(json!({"decision": "approve", "note": "Just this once"}))
        .send()
        .await;
    decided.expect(200);
    assert_eq!(
        (decided.body["status"].as_str(), decided.body["decided_by"].as_str()),
        (Some("approved"), Some(t.user_id.as_str()))
    );

    let transcript = app
        .get(&format!("/v1/agents/{a}/messages?conversation_id={conversation}"))
        .bearer(&t.key)
        .send()
        .await;
    let said: Vec<(String, String)> = transcript.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        said[said.len() - 2],
        ("action".into(), "approval approved: Just this once".into())
    );
    assert_eq!(
        said.last().unwrap().1,
        "Good news: my team approved that. Is there anything else I can do for you?"
    );
    let types = app.event_types(&t.workspace_id).await;
    assert!(types.contains(&"approval.requested".into()) && types.contains(&"approval.decided".into()));
    let next = say(
        &app,
        &t,
        &a,
        json!({"conversation_id": conversation, "content": "Great, thanks"}),
    )
    .await;
    assert_eq!(next.body["status"], "active");
}

#[tokio::test]
async fn conversations_belong_to_their_agent() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (a, b) = (agent(&app, &t).await, agent(&app, &t).await);
    let conversation = say(&app, &t, &a, json!({"content": "Hello"})).await.body["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    say(
        &app,
        &t,
        &b,
        json!({"conversation_id": conversation, "content": "Hello"}),
    )
    .await
    .expect_error(404, "conversation_not_found");
    app.get(&format!("/v1/agents/{b}/messages?conversation_id={conversation}"))
        .bearer(&t.key)
        .send()
        .await
        .expect_error(404, "conversation_not_found");
    let other = app.tenant().await;
    let c = agent(&app, &other).await;
    say(
        &app,
        &other,
        &c,
        json!({"conversation_id": conversation, "content": "Hello"}),
    )
    .await
    .expect_error(404, "conversation_not_found");
    app.get(&format!("/v1/agents/{a}/messages"))
        .bearer(&t.key)
        .send()
        .await
        .expect_error(400, "invalid_parameter");
    say(
        &app,
        &t,
        &a,
        json!({"content": "Hi", "contact_id": "con_01JD3QZ9R6X4Y7T2W8V5N1M0KA"}),
    )
    .await
    .expect_error(404, "contact_not_found");
    say(&app, &t, &a, json!({"content": ""}))
        .await
        .expect_error(422, "validation_failed");
}

#[tokio::test]
async fn inactive_agents_take_no_new_conversations() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let a = agent(&app, &t).await;
    app.patch(&format!("/v1/agents/{a}"))
        .bearer(&t.key)
        .json(json!({"is_active": false}))
        .send()
        .await
        .expect(200);
    say(&app, &t, &a, json!({"content": "Hello"}))
        .await
        .expect_error(409, "agent_inactive");
}

/// A model that asks to book whatever `input` says, then says goodbye.
struct Booking(Value);

#[async_trait::async_trait]
impl switchboard_core::ports::Llm for Booking {
    fn provider(&self) -> &'static str {
        "scripted"
    }

    async fn complete(
        &self,
        request: &switchboard_core::ports::LlmRequest,
    ) -> Result<switchboard_core::ports::LlmReply, switchboard_core::error::ProviderError> {
        use switchboard_core::ports::{LlmMessage, LlmReply, ToolUse};
        let answered = matches!(request.messages.last(), Some(LlmMessage::ToolResults { .. }));
        Ok(if answered {
            LlmReply {
                text: "Goodbye.".into(),
                tool_uses: Vec::new(),
            }
        } else {
            LlmReply {
                text: String::new(),
                tool_uses: vec![ToolUse {
                    id: "toolu_1".into(),
                    name: switchboard_domain::conversation::tools::BOOK_APPOINTMENT.into(),
                    input: self.0.clone(),
                }],
            }
        })
    }
}

#[tokio::test]
async fn a_model_asking_for_an_impossible_appointment_gets_a_failed_tool_not_a_panic() {
    use switchboard_core::model::{Agent, Channel};
    use switchboard_core::ports::Repository;
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let id = agent(&app, &t).await;
    let agent: Agent = Repository::<Agent>::get(&app.store, &t.workspace_id, &id)
        .await
        .unwrap()
        .unwrap()
        .value;
    let party = || switchboard_domain::conversation::Party {
        phone: Some("+14155550142".into()),
        contact_id: None,
    };
    for input in [
        json!({"start_time": "2026-12-03T10:00:00Z", "duration_minutes": i64::MAX, "title": "Forever"}),
        json!({"start_time": "2026-12-03T10:00:00Z", "duration_minutes": i64::MIN, "title": "Never"}),
        json!({"start_time": "+262142-12-31T23:00:00Z", "duration_minutes": 240, "title": "Late"}),
    ] {
        let engine = switchboard_runtime::engine(
            &app.store,
            std::sync::Arc::new(switchboard_tests::FixedProviders {
                telephony: None,
                llm: std::sync::Arc::new(Booking(input.clone())),
            }),
        );
        let now = app.clock.now();
        let started = engine
            .start(&t.workspace_id, &agent, Channel::Chat, None, party(), now)
            .await
            .unwrap();
        let said = engine
            .say(&t.workspace_id, &agent, &started, "Book me in", now)
            .await
            .unwrap();
        let lines: Vec<&str> = said.value.messages.iter().map(|m| m.content.as_str()).collect();
        assert!(
            lines.iter().any(|l| l.starts_with("book_appointment: failed")),
            "{input}: {lines:?}"
        );
    }
}
