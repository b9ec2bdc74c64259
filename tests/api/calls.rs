//! Calls through the telephony simulator: placing them, their statuses, the conversation on
//! the line, transcripts and analysis, do-not-call, inbound calls, and the call list.

use serde_json::{Value, json};
use switchboard_core::model::CallStatus;
use switchboard_core::ports::{CallJob, SimStep};
use switchboard_core::ports::{DncStore, Repository};
use switchboard_domain::calls::{self, StatusReport};
use switchboard_tests::{Res, Tenant, TestApp, phone_ending};

async fn place(app: &TestApp, t: &Tenant, agent: &str, number: &str, to: &str) -> Res {
    app.post("/v1/calls")
        .bearer(&t.key)
        .json(json!({"agent_id": agent, "phone_number_id": number, "to": to}))
        .send()
        .await
}

async fn fetch(app: &TestApp, t: &Tenant, id: &str) -> Value {
    let res = app.get(&format!("/v1/calls/{id}")).bearer(&t.key).send().await;
    res.expect(200);
    res.body.clone()
}

/// The events recorded about one call, oldest first.
async fn call_events(app: &TestApp, t: &Tenant, id: &str) -> Vec<String> {
    app.events(&t.workspace_id)
        .await
        .into_iter()
        .filter(|e| e["data"]["id"] == id)
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_answered_call_ends_with_transcript_summary_and_sentiment() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number_id, number) = app.phone_line(&t).await;
    let to = phone_ending("0100");
    let res = place(&app, &t, &agent, &number_id, &to).await;
    res.expect(201);
    let id = res.id().to_owned();
    assert!(id.starts_with("call_"));
    assert_eq!(
        (
            res.body["object"].as_str(),
            res.body["status"].as_str(),
            res.body["direction"].as_str()
        ),
        (Some("call"), Some("queued"), Some("outbound"))
    );
    assert_eq!(
        (res.body["from"].as_str(), res.body["to"].as_str()),
        (Some(number.as_str()), Some(to.as_str()))
    );
    assert_eq!(res.body["provider_call_id"], format!("SIM-{id}"));

    assert!(app.run_call_jobs().await >= 5, "dial, outcome, turns, post-call");
    let done = fetch(&app, &t, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["ended_reason"], "finished");
    let transcript: Vec<(&str, &str)> = done["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
        .collect();
    assert_eq!(transcript[0], ("agent", "Hi, this is Sarah from Acme Dental."));
    assert_eq!(transcript[1], ("user", "Hello?"));
    assert!(
        transcript
            .iter()
            .any(|(role, text)| *role == "action" && text.starts_with("book_appointment: ok")),
        "{transcript:?}"
    );
    assert_eq!(
        transcript.last().unwrap().0,
        "action",
        "the agent hung up: {transcript:?}"
    );
    assert_eq!(done["outcome"], "appointment_booked");
    assert_eq!(done["sentiment"], "positive");
    assert!(done["summary"].as_str().is_some_and(|s| !s.is_empty()));
    let seconds = done["duration_seconds"].as_u64().unwrap();
    assert!((10..120).contains(&seconds), "a short simulated call: {seconds} s");
    assert_eq!(done["cost"]["billed_minutes"], seconds.div_ceil(60));
    assert_eq!(
        done["cost"]["amount_minor"].as_u64(),
        Some(seconds.div_ceil(60) * done["cost"]["per_minute_minor"].as_u64().unwrap())
    );
    assert!(done["conversation_id"].as_str().unwrap().starts_with("cnv_"));
    assert_eq!(
        call_events(&app, &t, &id).await,
        ["call.started", "call.ended", "transcript.ready", "analysis.complete"]
    );
    // The booking the agent made is the contact's, who now exists for the number.
    let contact = done["contact_id"].as_str();
    assert!(contact.is_none(), "the call was placed to a number without a contact");
    let appointments = app.get("/v1/appointments").bearer(&t.key).send().await;
    assert_eq!(appointments.body["data"][0]["call_id"], id.as_str());
}

#[tokio::test]
async fn numbers_ending_0001_to_0004_end_as_the_spec_says() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number_id, _) = app.phone_line(&t).await;
    let mut ids = Vec::new();
    for ending in ["0001", "0002", "0003", "0004"] {
        let res = place(&app, &t, &agent, &number_id, &phone_ending(ending)).await;
        res.expect(201);
        ids.push(res.id().to_owned());
    }
    app.run_call_jobs().await;
    for (id, (status, event)) in ids.iter().zip([
        ("busy", "call.ended"),
        ("no-answer", "call.ended"),
        ("failed", "call.failed"),
        ("voicemail", "call.ended"),
    ]) {
        let call = fetch(&app, &t, id).await;
        assert_eq!(call["status"], status, "{call}");
        assert_eq!(call["transcript"], json!([]));
        assert_eq!(call["duration_seconds"], Value::Null, "never answered");
        assert_eq!(call["cost"]["amount_minor"], 0);
        assert!(call["ended_at"].is_string());
        assert_eq!(call_events(&app, &t, id).await, [event], "{status}");
    }
}

#[tokio::test]
async fn a_callee_who_asks_to_stop_is_on_the_dnc_list_and_not_called_again() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number_id, _) = app.phone_line(&t).await;
    let to = phone_ending("0005");
    let id = place(&app, &t, &agent, &number_id, &to).await.id().to_owned();
    app.run_call_jobs().await;
    let call = fetch(&app, &t, &id).await;
    assert_eq!(
        (call["status"].as_str(), call["ended_reason"].as_str()),
        (Some("completed"), Some("do_not_call"))
    );
    assert_eq!(call["outcome"], "do_not_call");
    assert_eq!(call["sentiment"], "negative");
    assert!(
        app.store
            .dnc_entry(&t.workspace_id, switchboard_core::model::DncList::Dnc, &to)
            .await
            .unwrap()
            .is_some()
    );

    let before = app.snapshot(&t.workspace_id).await;
    let again = place(&app, &t, &agent, &number_id, &to).await;
    assert_eq!(
        (again.status, again.code(), again.param()),
        (403, "number_on_dnc", "to")
    );
    assert_eq!(app.snapshot(&t.workspace_id).await, before, "nothing written");
    assert!(app.queued_call_jobs().await.is_empty(), "nothing dialled");
}

#[tokio::test]
async fn a_callee_asking_for_a_waiver_holds_until_a_human_decides() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number_id, _) = app.phone_line(&t).await;
    let id = place(&app, &t, &agent, &number_id, &phone_ending("0006"))
        .await
        .id()
        .to_owned();
    // Runs until the callee holds: the hold's next look is a second away even in tests.
    app.run_call_jobs().await;
    let holding = fetch(&app, &t, &id).await;
    assert_eq!(holding["status"], "in-progress");
    let approvals = app.get("/v1/approvals?status=pending").bearer(&t.key).send().await;
    let approval = &approvals.body["data"][0];
    assert_eq!(
        (approval["call_id"].as_str(), approval["proposed_action"].as_str()),
        (Some(id.as_str()), Some("refund_waiver"))
    );

    app.post(&format!("/v1/approvals/{}/decide", approval["id"].as_str().unwrap()))
        .bearer(&t.key)
        .json(json!({"decision": "approve", "note": "Loyal customer."}))
        .send()
        .await
        .expect(200);
    app.run_call_jobs_until_final(&t, &id).await;
    app.run_call_jobs().await;
    let done = fetch(&app, &t, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let said: Vec<&str> = done["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    let decided = said
        .iter()
        .position(|s| s.starts_with("approval approved"))
        .expect("the decision is in the transcript");
    assert!(said[decided + 1].starts_with("Good news"), "{said:?}");
    assert_eq!(
        said.iter().filter(|s| **s == "Okay, thanks. Goodbye.").count(),
        1,
        "{said:?}"
    );
}

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_places_one_call() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number_id, _) = app.phone_line(&t).await;
    let body = json!({"agent_id": agent, "phone_number_id": number_id, "to": phone_ending("0100")});
    let send = || {
        app.post("/v1/calls")
            .bearer(&t.key)
            .header("idempotency-key", "dial-once")
            .json(body.clone())
            .send()
    };
    let (one, two) = futures::join!(send(), send());
    let retry = send().await;
    let (first, racing) = if one.status == 201 { (one, two) } else { (two, one) };
    first.expect(201);
    assert!(
        racing.status == 201 && racing.id() == first.id() || racing.code() == "idempotency_in_progress",
        "{}",
        racing.text
    );
    retry.expect(201);
    assert_eq!(retry.id(), first.id());
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    let dials: Vec<CallJob> = app
        .queued_call_jobs()
        .await
        .into_iter()
        .filter(|j| {
            matches!(
                j,
                CallJob::Simulate {
                    step: SimStep::Dial,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(dials.len(), 1, "one call was placed: {dials:?}");
    let list = app.get("/v1/calls").bearer(&t.key).send().await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn status_reports_only_move_a_call_forward() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number_id, _) = app.phone_line(&t).await;
    let id = place(&app, &t, &agent, &number_id, &phone_ending("0002"))
        .await
        .id()
        .to_owned();
    let ws = t.workspace_id.as_str();
    let network = &app.call_worker.network;
    let book = calls::CallBook {
        calls: network.calls.as_ref(),
        wallets: network.wallets.as_ref(),
        jobs: network.jobs.as_ref(),
        campaign_ends: None,
    };
    let report = |status| StatusReport {
        status,
        at: app.clock.now(),
        duration_seconds: None,
        reason: None,
    };
    calls::report(book, ws, &id, report(CallStatus::Ringing)).await.unwrap();
    let ended = calls::report(book, ws, &id, report(CallStatus::NoAnswer))
        .await
        .unwrap();
    // Late, repeated and out-of-order reports change nothing.
    for late in [
        CallStatus::Ringing,
        CallStatus::InProgress,
        CallStatus::NoAnswer,
        CallStatus::Completed,
    ] {
        let after = calls::report(book, ws, &id, report(late)).await.unwrap();
        assert_eq!(
            (after.version, after.value.status),
            (ended.version, CallStatus::NoAnswer)
        );
    }
    assert_eq!(call_events(&app, &t, &id).await, ["call.ended"]);
    assert_eq!(
        Repository::<switchboard_core::model::Call>::get(&app.store, ws, &id)
            .await
            .unwrap()
            .unwrap()
            .value
            .ended_reason
            .as_deref(),
        Some("no_answer")
    );
}

#[tokio::test]
async fn a_call_ends_at_its_agents_maximum_duration() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number_id, _) = app.phone_line(&t).await;
    // A greeting of about 25 s, and 30 s at most: the callee's first answer runs over.
    let greeting = "Hello and welcome to Acme Dental, this is Sarah. ".repeat(6);
    app.patch(&format!("/v1/agents/{agent}"))
        .bearer(&t.key)
        .json(json!({"max_call_duration": 30, "first_message": greeting.trim()}))
        .send()
        .await
        .expect(200);
    let id = place(&app, &t, &agent, &number_id, &phone_ending("0100"))
        .await
        .id()
        .to_owned();
    app.run_call_jobs().await;
    let call = fetch(&app, &t, &id).await;
    assert_eq!(
        (
            call["status"].as_str(),
            call["ended_reason"].as_str(),
            call["duration_seconds"].as_u64()
        ),
        (Some("completed"), Some("max_duration"), Some(30))
    );
    assert!(call["summary"].is_string(), "cut-off calls are analysed too");
}

#[tokio::test]
async fn placing_a_call_checks_its_agent_number_and_callee() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number_id, _) = app.phone_line(&t).await;
    let before = app.snapshot(&t.workspace_id).await;
    let to = phone_ending("0100");
    let cases = [
        (
            json!({"agent_id": "agt_01JD3QZ9R6X4Y7T2W8V5N1M0KA", "phone_number_id": number_id, "to": to}),
            404,
            "agent_not_found",
            "agent_id",
        ),
        (
            json!({"agent_id": "nope", "phone_number_id": number_id, "to": to}),
            404,
            "agent_not_found",
            "agent_id",
        ),
        (
            json!({"agent_id": agent, "phone_number_id": "num_01JD3QZ9R6X4Y7T2W8V5N1M0KA", "to": to}),
            404,
            "phone_number_not_found",
            "phone_number_id",
        ),
        (
            json!({"agent_id": agent, "phone_number_id": number_id, "to": "12"}),
            400,
            "invalid_phone_number",
            "to",
        ),
        (
            json!({"agent_id": agent, "phone_number_id": number_id}),
            400,
            "missing_field",
            "to",
        ),
        (
            json!({"agent_id": agent, "phone_number_id": number_id, "to": to, "contact_id": "con_01JD3QZ9R6X4Y7T2W8V5N1M0KA"}),
            404,
            "contact_not_found",
            "contact_id",
        ),
        (
            json!({"phone_number_id": number_id, "to": to}),
            400,
            "missing_field",
            "agent_id",
        ),
        (
            json!({"agent_id": agent, "phone_number_id": number_id, "to": to, "metadata": {"k": "v".repeat(501)}}),
            422,
            "validation_failed",
            "metadata.k",
        ),
    ];
    for (body, status, code, param) in cases {
        let res = app.post("/v1/calls").bearer(&t.key).json(body.clone()).send().await;
        assert_eq!(
            (res.status, res.code(), res.param()),
            (status, code, param),
            "{body}: {}",
            res.text
        );
    }
    app.patch(&format!("/v1/agents/{agent}"))
        .bearer(&t.key)
        .json(json!({"is_active": false}))
        .send()
        .await
        .expect(200);
    let res = place(&app, &t, &agent, &number_id, &to).await;
    res.expect_error(409, "agent_inactive");
    app.patch(&format!("/v1/agents/{agent}"))
        .bearer(&t.key)
        .json(json!({"is_active": true}))
        .send()
        .await
        .expect(200);
    app.post(&format!("/v1/numbers/{number_id}/release"))
        .bearer(&t.key)
        .send()
        .await
        .expect(200);
    let res = place(&app, &t, &agent, &number_id, &to).await;
    res.expect_error(409, "phone_number_released");
    let after = app.snapshot(&t.workspace_id).await;
    assert!(
        after.keys().all(|k| !k.contains("#CALL|")) && before.keys().all(|k| !k.contains("#CALL|")),
        "no call was recorded"
    );
    assert!(app.queued_call_jobs().await.is_empty());
}

#[tokio::test]
async fn a_read_key_cannot_place_calls() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number_id, _) = app.phone_line(&t).await;
    let read = app.key(&t, "read").await;
    let res = app
        .post("/v1/calls")
        .bearer(&read)
        .json(json!({"agent_id": agent, "phone_number_id": number_id, "to": phone_ending("0100")}))
        .send()
        .await;
    res.expect_error(403, "insufficient_scope");
    app.get("/v1/calls").bearer(&read).send().await.expect(200);
}

#[tokio::test]
async fn a_call_to_a_contacts_number_is_on_the_contacts_record() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number_id, _) = app.phone_line(&t).await;
    let phone = phone_ending("0100");
    let contact = app
        .create(&t, "/v1/contacts", json!({"phone": phone, "name": "Ada"}))
        .await;
    let by_phone = place(&app, &t, &agent, &number_id, &phone).await;
    assert_eq!(by_phone.body["contact_id"], contact.as_str());
    let by_id = app
        .post("/v1/calls")
        .bearer(&t.key)
        .json(json!({"agent_id": agent, "phone_number_id": number_id, "contact_id": contact}))
        .send()
        .await;
    by_id.expect(201);
    assert_eq!(by_id.body["to"], phone.as_str());
}

#[tokio::test]
async fn an_inbound_call_is_answered_by_the_numbers_agent() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number_id, number) = app.phone_line(&t).await;
    let caller = phone_ending("0100");
    let res = app
        .post("/v1/telephony/simulator/inbound-calls")
        .bearer(&t.key)
        .json(json!({"from": caller, "to": number}))
        .send()
        .await;
    res.expect(201);
    assert_eq!(
        (
            res.body["direction"].as_str(),
            res.body["status"].as_str(),
            res.body["agent_id"].as_str(),
            res.body["phone_number_id"].as_str()
        ),
        (
            Some("inbound"),
            Some("ringing"),
            Some(agent.as_str()),
            Some(number_id.as_str())
        )
    );
    let id = res.id().to_owned();
    app.run_call_jobs().await;
    let call = fetch(&app, &t, &id).await;
    assert_eq!(call["status"], "completed");
    assert_eq!(call["from"], caller.as_str());
    assert_eq!(call["transcript"][1]["content"], "Hello?");
    let inbound = app.get("/v1/calls?direction=inbound").bearer(&t.key).send().await;
    assert_eq!(inbound.body["data"][0]["id"], id.as_str());
    assert_eq!(inbound.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_inbound_call_needs_a_number_of_the_workspace_with_an_agent() {
    let app = TestApp::spawn().await;
    let (t, other) = (app.tenant().await, app.tenant().await);
    let (_, _, theirs) = app.phone_line(&other).await;
    let caller = phone_ending("0100");
    let before = app.snapshot(&other.workspace_id).await;
    let res = app
        .post("/v1/telephony/simulator/inbound-calls")
        .bearer(&t.key)
        .json(json!({"from": caller, "to": theirs}))
        .send()
        .await;
    assert_eq!(
        (res.status, res.code(), res.param()),
        (404, "phone_number_not_found", "to")
    );
    assert_eq!(
        app.snapshot(&other.workspace_id).await,
        before,
        "the other workspace saw nothing"
    );
    let unattached = switchboard_tests::unique_phone();
    app.create_at(&t, "/v1/numbers/import", json!({"phone_number": unattached}))
        .await;
    let res = app
        .post("/v1/telephony/simulator/inbound-calls")
        .bearer(&t.key)
        .json(json!({"from": caller, "to": unattached}))
        .send()
        .await;
    assert_eq!((res.status, res.code(), res.param()), (422, "validation_failed", "to"));
}

#[tokio::test]
async fn calls_are_listed_newest_first_with_every_filter() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number_id, _) = app.phone_line(&t).await;
    let (other_agent, other_number, _) = app.phone_line(&t).await;
    let mut ids = Vec::new();
    for (agent, number, ending) in [
        (&agent, &number_id, "0001"),
        (&agent, &number_id, "0100"),
        (&other_agent, &other_number, "0001"),
    ] {
        ids.push(
            place(&app, &t, agent, number, &phone_ending(ending))
                .await
                .id()
                .to_owned(),
        );
        app.clock.advance(chrono::Duration::minutes(10));
    }
    app.run_call_jobs().await;
    let list = |query: String| {
        let app = &app;
        let key = t.key.clone();
        async move {
            let res = app.get(&format!("/v1/calls{query}")).bearer(&key).send().await;
            res.expect(200);
            res.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(String::new()).await,
        [ids[2].clone(), ids[1].clone(), ids[0].clone()]
    );
    assert_eq!(
        list(format!("?agent_id={agent}")).await,
        [ids[1].clone(), ids[0].clone()]
    );
    assert_eq!(list("?status=busy".into()).await, [ids[2].clone(), ids[0].clone()]);
    assert_eq!(
        list(format!("?status=busy&agent_id={other_agent}")).await,
        [ids[2].clone()]
    );
    assert_eq!(
        list("?direction=outbound&status=completed".into()).await,
        [ids[1].clone()]
    );
    assert!(list("?direction=inbound".into()).await.is_empty());
    assert!(
        list("?campaign_id=cmp_01JD3QZ9R6X4Y7T2W8V5N1M0KA".into())
            .await
            .is_empty()
    );
    let second = app.get(&format!("/v1/calls/{}", ids[1])).bearer(&t.key).send().await;
    let at = second.body["created_at"].as_str().unwrap();
    assert_eq!(list(format!("?from={at}&to={at}")).await, [ids[1].clone()]);
    assert_eq!(list(format!("?to={at}")).await, [ids[1].clone(), ids[0].clone()]);

    let page = app.get("/v1/calls?limit=2&status=busy").bearer(&t.key).send().await;
    assert_eq!(page.body["has_more"], false);
    let page = app.get("/v1/calls?limit=1").bearer(&t.key).send().await;
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let next = app
        .get(&format!("/v1/calls?limit=1&cursor={cursor}"))
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(next.body["data"][0]["id"], ids[1].as_str());
    app.get(&format!("/v1/calls?limit=1&status=busy&cursor={cursor}"))
        .bearer(&t.key)
        .send()
        .await
        .expect_error(400, "invalid_cursor");
    for bad in ["?status=ended", "?direction=sideways", "?from=yesterday"] {
        let res = app.get(&format!("/v1/calls{bad}")).bearer(&t.key).send().await;
        res.expect_error(400, "invalid_parameter");
    }
}
