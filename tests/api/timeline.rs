//! A contact's timeline: calls, chats, appointments and approvals, newest first, in one Query.

use serde_json::{Value, json};
use switchboard_tests::{Res, Tenant, TestApp, phone_ending};

fn objects(res: &Res) -> Vec<String> {
    res.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", res.text))
        .iter()
        .map(|item| item["object"].as_str().unwrap().to_owned())
        .collect()
}

async fn timeline(app: &TestApp, t: &Tenant, query: &str) -> Res {
    app.get(&format!("/v1/timeline?{query}")).bearer(&t.key).send().await
}

/// A contact who chatted (booking an appointment, asking for a refund) and was then called.
async fn busy_contact(app: &TestApp, t: &Tenant) -> (String, String) {
    let (agent, number_id, _) = app.phone_line(t).await;
    let phone = phone_ending("0100");
    let contact = app
        .create(t, "/v1/contacts", json!({"phone": phone, "email": "ada@example.com"}))
        .await;
    let chat = |body: Value| {
        app.post(&format!("/v1/agents/{agent}/messages"))
            .bearer(&t.key)
            .json(body)
            .send()
    };
    let first = chat(json!({"contact_id": contact, "content": "Hi there"})).await;
    first.expect(201);
    let conversation = first.body["conversation_id"].as_str().unwrap().to_owned();
    for content in [
        "Can I book an appointment for tomorrow?",
        "And I'd like a refund of $20, please.",
    ] {
        app.clock.advance(chrono::Duration::minutes(1));
        chat(json!({"conversation_id": conversation, "content": content}))
            .await
            .expect(200);
    }
    app.clock.advance(chrono::Duration::minutes(1));
    app.post("/v1/calls")
        .bearer(&t.key)
        .json(json!({"agent_id": agent, "phone_number_id": number_id, "contact_id": contact}))
        .send()
        .await
        .expect(201);
    (contact, phone)
}

#[tokio::test]
async fn a_timeline_shows_calls_chats_appointments_and_approvals_newest_first() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (contact, phone) = busy_contact(&app, &t).await;
    let everything = ["call", "approval", "appointment", "conversation"];
    for query in [
        format!("contact_id={contact}"),
        format!("phone={}", &phone[2..]),
        "email=ADA@example.com".to_owned(),
    ] {
        let res = timeline(&app, &t, &query).await;
        res.expect(200);
        assert_eq!(objects(&res), everything, "{query}");
    }
    let res = timeline(&app, &t, &format!("contact_id={contact}")).await;
    let chat = &res.body["data"][3];
    assert_eq!(chat["messages"][1]["content"], "Hi there");
    assert!(chat.get("model_history").is_none(), "what the model saw stays inside");
    assert_eq!(res.body["data"][1]["contact_id"], contact.as_str());

    let approval_at = res.body["data"][1]["created_at"].as_str().unwrap().to_owned();
    let earlier = timeline(&app, &t, &format!("contact_id={contact}&before={approval_at}")).await;
    assert_eq!(objects(&earlier), ["appointment", "conversation"]);

    let first = timeline(&app, &t, &format!("contact_id={contact}&n=2")).await;
    assert_eq!(
        (objects(&first), first.body["has_more"].as_bool()),
        (vec!["call".into(), "approval".into()], Some(true))
    );
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = timeline(&app, &t, &format!("contact_id={contact}&n=2&cursor={cursor}")).await;
    assert_eq!(objects(&second), ["appointment", "conversation"]);
    assert_eq!(second.body["has_more"], false);
    // The cursor goes on from where the same query stopped, however the contact is named...
    let by_phone = timeline(&app, &t, &format!("phone={phone}&n=2&cursor={cursor}")).await;
    assert_eq!(objects(&by_phone), ["appointment", "conversation"]);
    // ...and is refused by another query.
    timeline(
        &app,
        &t,
        &format!("contact_id={contact}&before={approval_at}&n=2&cursor={cursor}"),
    )
    .await
    .expect_error(400, "invalid_cursor");
}

#[tokio::test]
async fn a_timeline_needs_exactly_one_known_contact() {
    let app = TestApp::spawn().await;
    let (t, other) = (app.tenant().await, app.tenant().await);
    let (contact, phone) = busy_contact(&app, &t).await;
    for (query, status, code) in [
        (String::new(), 400, "invalid_parameter"),
        (format!("contact_id={contact}&phone={phone}"), 400, "invalid_parameter"),
        ("phone=12".into(), 400, "invalid_parameter"),
        ("email=nope".into(), 400, "invalid_parameter"),
        (format!("contact_id={contact}&n=0"), 400, "invalid_parameter"),
        (format!("contact_id={contact}&before=soon"), 400, "invalid_parameter"),
        (
            "contact_id=con_01JD3QZ9R6X4Y7T2W8V5N1M0KA".into(),
            404,
            "contact_not_found",
        ),
        (format!("phone={}", phone_ending("0100")), 404, "contact_not_found"),
    ] {
        timeline(&app, &t, &query).await.expect_error(status, code);
    }
    // Another workspace can name the contact every way, and learns nothing.
    for query in [
        format!("contact_id={contact}"),
        format!("phone={phone}"),
        "email=ada@example.com".into(),
    ] {
        timeline(&app, &other, &query)
            .await
            .expect_error(404, "contact_not_found");
    }
}
