//! Twilio as the telephony provider, against a local fake of its REST API: placing calls,
//! numbers, status callbacks and the voice webhook, each signed as Twilio signs them.

use base64::Engine as _;
use serde_json::json;
use switchboard_telephony::twilio;
use switchboard_tests::fake::{Answer, FakeServer, Recorded};
use switchboard_tests::{
    Options, PUBLIC_BASE_URL, RELAY_URL, Res, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, Tenant, TestApp, phone_ending,
    unique_phone,
};

/// A fake Twilio that knows every number, and answers call creation with `create` (a new
/// call's `sid` filled in).
pub(crate) async fn fake_twilio(create: (u16, serde_json::Value)) -> FakeServer {
    FakeServer::start(move |request, _| twilio_answer(request, &create)).await
}

/// What the fake Twilio answers `request`.
pub(crate) fn twilio_answer(request: &Recorded, create: &(u16, serde_json::Value)) -> Answer {
    {
        let (status, body) = if request.path.contains("/AvailablePhoneNumbers/") {
            (
                200,
                json!({"available_phone_numbers": [
                    {"phone_number": "+14155550123", "locality": "San Francisco", "region": "CA", "iso_country": "US"},
                    {"phone_number": "+14155550124", "locality": "San Francisco", "region": "CA", "iso_country": "US"}
                ]}),
            )
        } else if request.path.contains("/IncomingPhoneNumbers.json") && request.method == "POST" {
            (201, json!({"sid": format!("PN{:032x}", rand::random::<u128>())}))
        } else if request.path.contains("/IncomingPhoneNumbers/") && request.method == "DELETE" {
            (204, json!(null))
        } else if request.path.contains("/IncomingPhoneNumbers.json") {
            (200, json!({"incoming_phone_numbers": [{"sid": "PN0001"}]}))
        } else if request.path.starts_with("/@connections/") {
            // API Gateway's management API, posting to a relay connection.
            (200, json!({}))
        } else if request.path.contains("/IncomingPhoneNumbers/") {
            (200, json!({"sid": "PN0001"}))
        } else if request.path.ends_with("/Recordings.json") && request.method == "GET" {
            (
                200,
                json!({"recordings": [{"sid": "RE0001", "status": "completed", "duration": "2"}]}),
            )
        } else if request.path.ends_with("/Recordings/RE0001.mp3") {
            return (200, "audio/mpeg", RECORDING_MP3.into());
        } else if request.path.ends_with("/Recordings/RE0001.json") && request.method == "DELETE" {
            (204, json!(null))
        } else if request.path.ends_with("/Calls.json") {
            let (status, mut body) = create.clone();
            if body["sid"].is_string() {
                body["sid"] = json!(format!("CA{:032x}", rand::random::<u128>()));
            }
            (status, body)
        } else {
            (404, json!({"code": 20404, "message": "not found"}))
        };
        (status, "application/json", body.to_string())
    }
}

/// The recording Twilio holds of every call (MP3, as far as anyone here looks).
const RECORDING_MP3: &str = "ID3 two seconds of a recorded call";

async fn app_with(fake: &FakeServer) -> TestApp {
    TestApp::with(Options {
        twilio_api: Some(fake.url.clone()),
        ..Options::default()
    })
    .await
}

pub(crate) fn created_call() -> (u16, serde_json::Value) {
    (201, json!({"sid": "", "status": "queued"}))
}

/// A webhook request to `path_and_query`, signed as Twilio signs it (or with `signature`).
pub(crate) async fn webhook(
    app: &TestApp,
    path_and_query: &str,
    form: &[(&str, &str)],
    signature: Option<&str>,
) -> Res {
    let params: Vec<(String, String)> = form.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let signed = twilio::signature(
        TWILIO_AUTH_TOKEN,
        &format!("{PUBLIC_BASE_URL}{path_and_query}"),
        &params,
    );
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    app.post(path_and_query)
        .header("x-twilio-signature", signature.unwrap_or(&signed))
        .raw("application/x-www-form-urlencoded", body)
        .send()
        .await
}

async fn place(app: &TestApp, t: &Tenant) -> Res {
    let (agent, number_id, _) = app.phone_line(t).await;
    app.post("/v1/calls")
        .bearer(&t.key)
        .json(json!({"agent_id": agent, "phone_number_id": number_id, "to": phone_ending("0100")}))
        .send()
        .await
}

/// The values of a form field, in order.
pub(crate) fn form_values(request: &Recorded, name: &str) -> Vec<String> {
    request
        .form()
        .into_iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v)
        .collect()
}

#[tokio::test]
async fn calls_are_placed_through_twilios_rest_api() {
    let fake = fake_twilio(created_call()).await;
    let app = app_with(&fake).await;
    let t = app.tenant().await;
    let res = place(&app, &t).await;
    res.expect(201);
    assert_eq!(
        (
            res.body["provider"].as_str(),
            res.body["provider_call_id"].as_str(),
            res.body["status"].as_str()
        ),
        (
            Some("twilio"),
            Some(res.body["provider_call_id"].as_str().unwrap_or_default()).filter(|sid| sid.starts_with("CA")),
            Some("queued")
        )
    );
    let requests = fake.requests();
    let create = requests
        .iter()
        .find(|r| r.path.ends_with("/Calls.json"))
        .expect("a call was created");
    assert_eq!(create.method, "POST");
    assert_eq!(
        create.path,
        format!("/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Calls.json")
    );
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{TWILIO_ACCOUNT_SID}:{TWILIO_AUTH_TOKEN}"));
    assert_eq!(
        create.header("authorization"),
        Some(format!("Basic {credentials}").as_str())
    );
    let ours = format!("workspace_id={}&call_id={}", t.workspace_id, res.id());
    assert_eq!(form_values(create, "To"), [res.body["to"].as_str().unwrap()]);
    assert_eq!(form_values(create, "From"), [res.body["from"].as_str().unwrap()]);
    assert_eq!(
        form_values(create, "Url"),
        [format!("{PUBLIC_BASE_URL}/v1/telephony/twilio/voice?{ours}")]
    );
    assert_eq!(
        form_values(create, "StatusCallback"),
        [format!("{PUBLIC_BASE_URL}/v1/telephony/twilio/status?{ours}")]
    );
    assert_eq!(
        form_values(create, "StatusCallbackEvent"),
        ["initiated", "ringing", "answered", "completed"]
    );
    assert_eq!(form_values(create, "TimeLimit"), ["600"]);
    assert_eq!(form_values(create, "MachineDetection"), ["Enable"]);
}

#[tokio::test]
async fn a_refused_call_is_failed_and_an_unreachable_twilio_answers_503() {
    let refusing = fake_twilio((
        400,
        json!({"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}),
    ))
    .await;
    let app = app_with(&refusing).await;
    let t = app.tenant().await;
    let res = place(&app, &t).await;
    res.expect(201);
    assert_eq!(res.body["status"], "failed");
    assert!(
        res.body["ended_reason"]
            .as_str()
            .unwrap()
            .contains("Invalid 'To' Phone Number (Twilio error 21211)"),
        "{}",
        res.text
    );
    let events = app.event_types(&t.workspace_id).await;
    assert_eq!(events.iter().filter(|e| *e == "call.failed").count(), 1);

    let down = fake_twilio((500, json!({"message": "internal"}))).await;
    let app = app_with(&down).await;
    let t = app.tenant().await;
    place(&app, &t).await.expect_error(503, "service_unavailable");
    let list = app.get("/v1/calls").bearer(&t.key).send().await;
    assert_eq!(list.body["data"][0]["status"], "failed", "the attempt is on record");
}

#[tokio::test]
async fn status_callbacks_move_the_call_when_twilio_signed_them() {
    let fake = fake_twilio(created_call()).await;
    let app = app_with(&fake).await;
    let t = app.tenant().await;
    let placed = place(&app, &t).await;
    let id = placed.id().to_owned();
    let path = format!(
        "/v1/telephony/twilio/status?workspace_id={}&call_id={id}",
        t.workspace_id
    );
    let sid = placed.body["provider_call_id"].as_str().unwrap();

    let before = app.snapshot(&t.workspace_id).await;
    for forged in [Some("bm90IGEgc2lnbmF0dXJl"), Some("")] {
        let res = webhook(&app, &path, &[("CallSid", sid), ("CallStatus", "completed")], forged).await;
        res.expect_error(403, "invalid_signature");
    }
    let unsigned = app
        .post(&path)
        .raw(
            "application/x-www-form-urlencoded",
            format!("CallSid={sid}&CallStatus=completed"),
        )
        .send()
        .await;
    unsigned.expect_error(403, "invalid_signature");
    assert_eq!(app.snapshot(&t.workspace_id).await, before, "nothing written");

    for (status, extra) in [
        ("ringing", None),
        ("in-progress", None),
        ("completed", Some(("CallDuration", "42"))),
    ] {
        let mut form = vec![("CallSid", sid), ("CallStatus", status)];
        form.extend(extra);
        webhook(&app, &path, &form, None).await.expect(204);
    }
    let call = app.get(&format!("/v1/calls/{id}")).bearer(&t.key).send().await;
    assert_eq!(
        (
            call.body["status"].as_str(),
            call.body["duration_seconds"].as_u64(),
            call.body["cost"]["billed_minutes"].as_u64()
        ),
        (Some("completed"), Some(42), Some(1))
    );
    let events: Vec<String> = app.event_types(&t.workspace_id).await;
    assert_eq!(
        events.iter().filter(|e| e.starts_with("call.")).collect::<Vec<_>>(),
        ["call.started", "call.ended"]
    );
}

#[tokio::test]
async fn an_answered_call_is_connected_to_its_agent_over_conversation_relay() {
    let fake = fake_twilio(created_call()).await;
    let app = app_with(&fake).await;
    let t = app.tenant().await;
    let placed = place(&app, &t).await;
    let id = placed.id().to_owned();
    let path = format!(
        "/v1/telephony/twilio/voice?workspace_id={}&call_id={id}",
        t.workspace_id
    );
    let res = webhook(
        &app,
        &path,
        &[
            ("CallSid", placed.body["provider_call_id"].as_str().unwrap()),
            ("CallStatus", "in-progress"),
            ("AnsweredBy", "human"),
        ],
        None,
    )
    .await;
    res.expect(200);
    assert_eq!(res.header("content-type"), Some("text/xml"));
    assert!(res.text.contains(&format!(r#"<ConversationRelay url="{RELAY_URL}" language="en-US" ttsProvider="Amazon" voice="Amy-Neural" welcomeGreeting="Hi, this is Sarah from Acme Dental.">"#)), "{}", res.text);
    assert!(
        res.text
            .contains(&format!(r#"<Parameter name="call_id" value="{id}"/>"#)),
        "{}",
        res.text
    );
    assert!(res.text.contains(&format!(
        r#"<Parameter name="workspace_id" value="{}"/>"#,
        t.workspace_id
    )));
    let call = app.get(&format!("/v1/calls/{id}")).bearer(&t.key).send().await;
    assert_eq!(call.body["status"], "in-progress");

    // An answering machine: the call ends as voicemail instead.
    let machine = place(&app, &t).await;
    let path = format!(
        "/v1/telephony/twilio/voice?workspace_id={}&call_id={}",
        t.workspace_id,
        machine.id()
    );
    let res = webhook(
        &app,
        &path,
        &[
            ("CallSid", machine.body["provider_call_id"].as_str().unwrap()),
            ("AnsweredBy", "machine_start"),
        ],
        None,
    )
    .await;
    assert!(res.text.contains("<Hangup/>"), "{}", res.text);
    let call = app
        .get(&format!("/v1/calls/{}", machine.id()))
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(call.body["status"], "voicemail");
}

#[tokio::test]
async fn an_inbound_call_is_recorded_connected_and_followed_by_its_call_sid() {
    let fake = fake_twilio(created_call()).await;
    let app = app_with(&fake).await;
    let t = app.tenant().await;
    let (agent, _, number) = app.phone_line(&t).await;
    let update = fake
        .requests()
        .into_iter()
        .find(|r| r.path.contains("/IncomingPhoneNumbers/PN0001.json"))
        .expect("the number was pointed at us");
    assert_eq!(
        form_values(&update, "VoiceUrl"),
        [format!("{PUBLIC_BASE_URL}/v1/telephony/twilio/voice")]
    );
    assert_eq!(
        form_values(&update, "StatusCallback"),
        [format!("{PUBLIC_BASE_URL}/v1/telephony/twilio/status")]
    );

    let caller = phone_ending("0100");
    let sid = format!("CA{:032x}", rand::random::<u128>());
    let sid = sid.as_str();
    let form = [
        ("CallSid", sid),
        ("From", caller.as_str()),
        ("To", number.as_str()),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
    ];
    let res = webhook(&app, "/v1/telephony/twilio/voice", &form, None).await;
    res.expect(200);
    assert!(res.text.contains("<ConversationRelay"), "{}", res.text);
    let calls = app.get("/v1/calls?direction=inbound").bearer(&t.key).send().await;
    let call = &calls.body["data"][0];
    assert_eq!(
        (
            call["status"].as_str(),
            call["agent_id"].as_str(),
            call["from"].as_str(),
            call["provider_call_id"].as_str()
        ),
        (
            Some("in-progress"),
            Some(agent.as_str()),
            Some(caller.as_str()),
            Some(sid)
        )
    );
    let status = [("CallSid", sid), ("CallStatus", "completed"), ("CallDuration", "75")];
    webhook(&app, "/v1/telephony/twilio/status", &status, None)
        .await
        .expect(204);
    let call = app
        .get(&format!("/v1/calls/{}", call["id"].as_str().unwrap()))
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(
        (call.body["status"].as_str(), call.body["duration_seconds"].as_u64()),
        (Some("completed"), Some(75))
    );

    // A number no workspace answers: Twilio is told to hang up, nothing is recorded.
    let form = [
        ("CallSid", "CA3"),
        ("From", caller.as_str()),
        ("To", "+14155550188"),
        ("CallStatus", "ringing"),
    ];
    let res = webhook(&app, "/v1/telephony/twilio/voice", &form, None).await;
    res.expect(200);
    assert!(res.text.contains("<Hangup/>"));
}

#[tokio::test]
async fn another_workspaces_number_is_409_before_twilio_is_asked() {
    let fake = fake_twilio(created_call()).await;
    let app = app_with(&fake).await;
    let owner = app.tenant().await;
    let number = unique_phone();
    app.create_at(&owner, "/v1/numbers/import", json!({"phone_number": number}))
        .await;
    let asked = fake.requests().len();
    let intruder = app.tenant().await;
    let before = app.snapshot(&intruder.workspace_id).await;
    let res = app
        .post("/v1/numbers/import")
        .bearer(&intruder.key)
        .json(json!({"phone_number": number}))
        .send()
        .await;
    assert_eq!(
        (res.status, res.code(), res.param()),
        (409, "number_in_use", "phone_number")
    );
    assert_eq!(
        fake.requests().len(),
        asked,
        "Twilio was not asked to repoint the number"
    );
    assert_eq!(app.snapshot(&intruder.workspace_id).await, before);
}

#[tokio::test]
async fn numbers_are_searched_bought_and_released_through_twilio() {
    let fake = fake_twilio(created_call()).await;
    let app = app_with(&fake).await;
    let t = app.tenant().await;
    let found = app
        .post("/v1/numbers/search")
        .bearer(&t.key)
        .json(json!({"area_code": "415", "contains": "555", "limit": 2}))
        .send()
        .await;
    found.expect(200);
    assert_eq!(
        (
            &found.body["data"][0]["phone_number"],
            &found.body["data"][0]["locality"]
        ),
        (&json!("+14155550123"), &json!("San Francisco"))
    );
    let search = fake
        .requests()
        .into_iter()
        .find(|r| r.path.contains("/AvailablePhoneNumbers/"))
        .unwrap();
    assert_eq!(
        (search.method.as_str(), search.path.as_str()),
        (
            "GET",
            format!("/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/AvailablePhoneNumbers/US/Local.json?AreaCode=415&Contains=555&PageSize=2")
                .as_str()
        )
    );

    // Bought with its calls and status reports pointed here.
    let phone = unique_phone();
    let bought = app
        .post("/v1/numbers/provision")
        .bearer(&t.key)
        .json(json!({"phone_number": phone}))
        .send()
        .await;
    bought.expect(201);
    let sid = bought.body["provider_id"].as_str().unwrap().to_owned();
    assert!(sid.starts_with("PN"), "{}", bought.text);
    let buy = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/IncomingPhoneNumbers.json"))
        .unwrap();
    assert_eq!(form_values(&buy, "PhoneNumber"), [phone.as_str()]);
    assert_eq!(
        form_values(&buy, "VoiceUrl"),
        [format!("{PUBLIC_BASE_URL}/v1/telephony/twilio/voice")]
    );
    assert_eq!(
        form_values(&buy, "StatusCallback"),
        [format!("{PUBLIC_BASE_URL}/v1/telephony/twilio/status")]
    );

    // Another workspace cannot buy it: 409, and Twilio is not asked.
    let asked = fake.requests().len();
    let intruder = app.tenant().await;
    app.post("/v1/numbers/provision")
        .bearer(&intruder.key)
        .json(json!({"phone_number": phone}))
        .send()
        .await
        .expect_error(409, "number_in_use");
    assert_eq!(fake.requests().len(), asked, "Twilio was not asked to buy it");

    // Released: a bought number is given back to Twilio; an imported one is only unwired.
    app.post(&format!("/v1/numbers/{}/release", bought.id()))
        .bearer(&t.key)
        .send()
        .await
        .expect(200);
    let (_, imported, _) = app.phone_line(&t).await;
    app.post(&format!("/v1/numbers/{imported}/release"))
        .bearer(&t.key)
        .send()
        .await
        .expect(200);
    let requests = fake.requests();
    let deleted = requests.iter().find(|r| r.method == "DELETE").unwrap();
    assert_eq!(
        deleted.path,
        format!("/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/IncomingPhoneNumbers/{sid}.json")
    );
    let unwired = requests.last().unwrap();
    assert_eq!(
        (unwired.method.as_str(), unwired.path.as_str()),
        (
            "POST",
            format!("/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/IncomingPhoneNumbers/PN0001.json").as_str()
        )
    );
    assert_eq!(form_values(unwired, "VoiceUrl"), [""]);
}

#[tokio::test]
async fn a_workspace_whose_owner_has_not_verified_their_email_buys_no_numbers() {
    let fake = fake_twilio(created_call()).await;
    let app = app_with(&fake).await;
    let t = app.unverified_tenant().await;
    let before = app.snapshot(&t.workspace_id).await;
    app.post("/v1/numbers/provision")
        .bearer(&t.key)
        .json(json!({"phone_number": unique_phone()}))
        .send()
        .await
        .expect_error(403, "email_not_verified");
    assert_eq!(app.snapshot(&t.workspace_id).await, before);
    assert!(
        fake.requests().iter().all(|r| r.method != "POST"),
        "Twilio was not asked to buy"
    );
}

#[tokio::test]
async fn a_number_twilio_does_not_hold_for_the_account_cannot_be_imported_and_leaves_no_claim() {
    let fake = FakeServer::start(|_, _| {
        (
            200,
            "application/json",
            json!({"incoming_phone_numbers": []}).to_string(),
        )
    })
    .await;
    let app = app_with(&fake).await;
    let t = app.tenant().await;
    let number = unique_phone();
    let before = app.snapshot(&t.workspace_id).await;
    let res = app
        .post("/v1/numbers/import")
        .bearer(&t.key)
        .json(json!({"phone_number": number}))
        .send()
        .await;
    assert_eq!(
        (res.status, res.code(), res.param()),
        (422, "validation_failed", "phone_number")
    );
    assert_eq!(app.snapshot(&t.workspace_id).await, before);
    // Nobody holds it: another workspace may import it.
    let other = app.tenant().await;
    let res = app
        .post("/v1/numbers/import")
        .bearer(&other.key)
        .json(json!({"phone_number": number}))
        .send()
        .await;
    res.expect_error(422, "validation_failed");
}

#[tokio::test]
async fn twilios_webhooks_are_not_found_when_the_simulator_is_the_provider() {
    let app = TestApp::spawn().await;
    for path in ["/v1/telephony/twilio/voice", "/v1/telephony/twilio/status"] {
        webhook(&app, path, &[("CallSid", "CA1")], None)
            .await
            .expect_error(404, "route_not_found");
    }
}

/// An API Gateway WebSocket event of the relay.
fn relay_event(
    route: &str,
    connection: &str,
    body: Option<serde_json::Value>,
    signature: Option<&str>,
) -> aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest {
    let mut event = json!({
        "requestContext": {"routeKey": route, "connectionId": connection, "eventType": "MESSAGE", "connectedAt": 0, "requestTimeEpoch": 0},
        "headers": {},
        "isBase64Encoded": false
    });
    if let Some(signature) = signature {
        event["headers"]["X-Twilio-Signature"] = json!(signature);
    }
    if let Some(body) = body {
        event["body"] = json!(body.to_string());
    }
    serde_json::from_value(event).unwrap()
}

/// What was posted to a relay connection, in order.
fn said(fake: &FakeServer, connection: &str) -> Vec<serde_json::Value> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path == format!("/@connections/{connection}"))
        .map(|r| r.json())
        .collect()
}

#[tokio::test]
async fn the_relay_takes_only_connections_twilio_signed() {
    let fake = fake_twilio(created_call()).await;
    let app = app_with(&fake).await;
    let relay = app.relay.as_ref().unwrap();
    let signed = twilio::signature(TWILIO_AUTH_TOKEN, RELAY_URL, &[]);
    assert_eq!(
        relay
            .handle(relay_event("$connect", "c1", None, Some(&signed)))
            .await
            .status_code,
        200
    );
    for forged in [
        None,
        Some("bm9wZQ=="),
        Some(twilio::signature("another-token", RELAY_URL, &[]).as_str()),
    ] {
        assert_eq!(
            relay
                .handle(relay_event("$connect", "c2", None, forged))
                .await
                .status_code,
            403
        );
    }
}

/// A call placed through Twilio, answered, and in a relay session: `(call id, CallSid, connection)`.
async fn relayed_call(app: &TestApp, t: &Tenant) -> (String, String, String) {
    let placed = place(app, t).await;
    let id = placed.id().to_owned();
    let sid = placed.body["provider_call_id"].as_str().unwrap().to_owned();
    let voice = format!(
        "/v1/telephony/twilio/voice?workspace_id={}&call_id={id}",
        t.workspace_id
    );
    webhook(app, &voice, &[("CallSid", &sid)], None).await.expect(200);
    let connection = format!("conn-{}", switchboard_tests::random_suffix());
    let setup = json!({"type": "setup", "sessionId": "VX1", "callSid": sid, "direction": "outbound-api",
                       "customParameters": {"workspace_id": t.workspace_id, "call_id": id}});
    let relay = app.relay.as_ref().unwrap();
    assert_eq!(
        relay
            .handle(relay_event("$default", &connection, Some(setup), None))
            .await
            .status_code,
        200
    );
    (id, sid, connection)
}

/// The caller says `words` on the connection.
async fn prompt(app: &TestApp, connection: &str, words: &str, last: bool) {
    let body = json!({"type": "prompt", "voicePrompt": words, "lang": "en-US", "last": last});
    app.relay
        .as_ref()
        .unwrap()
        .handle(relay_event("$default", connection, Some(body), None))
        .await;
}

/// Twilio reports the call `completed` after `seconds`; its post-call work runs.
async fn completed(app: &TestApp, t: &Tenant, id: &str, sid: &str, seconds: &str) {
    let status = format!(
        "/v1/telephony/twilio/status?workspace_id={}&call_id={id}",
        t.workspace_id
    );
    let form = [("CallSid", sid), ("CallStatus", "completed"), ("CallDuration", seconds)];
    webhook(app, &status, &form, None).await.expect(204);
    app.run_call_jobs().await;
}

#[tokio::test]
async fn a_relayed_call_is_a_conversation_with_its_agent() {
    let fake = fake_twilio(created_call()).await;
    let app = app_with(&fake).await;
    let t = app.tenant().await;
    let (id, sid, connection) = relayed_call(&app, &t).await;
    prompt(&app, &connection, "Can I book an appoint", false).await;
    prompt(&app, &connection, "Can I book an appointment for tomorrow?", true).await;
    let replies = said(&fake, &connection);
    assert_eq!(replies.len(), 1, "partial prompts wait for the last: {replies:?}");
    assert_eq!(
        (replies[0]["type"].as_str(), replies[0]["last"].as_bool()),
        (Some("text"), Some(true))
    );
    assert!(
        replies[0]["token"].as_str().unwrap().starts_with("You're all set for"),
        "{replies:?}"
    );

    prompt(&app, &connection, "That's all, thank you. Goodbye.", true).await;
    let replies = said(&fake, &connection);
    assert_eq!(replies[1]["token"], "Thanks for your time. Goodbye!");
    assert_eq!(replies[2]["type"], "end", "the agent ended the session: {replies:?}");

    completed(&app, &t, &id, &sid, "31").await;
    let call = app.get(&format!("/v1/calls/{id}")).bearer(&t.key).send().await;
    assert_eq!(call.body["status"], "completed");
    assert_eq!(
        call.body["transcript"][0]["content"],
        "Hi, this is Sarah from Acme Dental."
    );
    assert_eq!(
        call.body["transcript"][1]["content"],
        "Can I book an appointment for tomorrow?"
    );
    assert_eq!(call.body["outcome"], "appointment_booked");
}

#[tokio::test]
async fn a_relay_setup_must_name_the_calls_own_call_sid() {
    let fake = fake_twilio(created_call()).await;
    let app = app_with(&fake).await;
    let t = app.tenant().await;
    let (id, _, _) = relayed_call(&app, &t).await;
    let connection = format!("conn-{}", switchboard_tests::random_suffix());
    let forged = json!({"type": "setup", "callSid": "CAforged", "customParameters": {"workspace_id": t.workspace_id, "call_id": id}});
    app.relay
        .as_ref()
        .unwrap()
        .handle(relay_event("$default", &connection, Some(forged), None))
        .await;
    prompt(&app, &connection, "Hello?", true).await;
    assert!(
        said(&fake, &connection).is_empty(),
        "the forged session is not answered"
    );
}

#[tokio::test]
async fn a_decision_is_said_on_the_call_that_waited_for_it() {
    let fake = fake_twilio(created_call()).await;
    let app = app_with(&fake).await;
    let t = app.tenant().await;
    let (_, _, connection) = relayed_call(&app, &t).await;
    prompt(&app, &connection, "Can you waive my late fee?", true).await;
    assert_eq!(
        said(&fake, &connection)[0]["token"],
        "Let me check that with my team. One moment, please."
    );

    let pending = app.get("/v1/approvals?status=pending").bearer(&t.key).send().await;
    let approval = pending.body["data"][0]["id"].as_str().unwrap().to_owned();
    app.post(&format!("/v1/approvals/{approval}/decide"))
        .bearer(&t.key)
        .json(json!({"decision": "approve"}))
        .send()
        .await
        .expect(200);
    let replies = said(&fake, &connection);
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert!(
        replies[1]["token"].as_str().unwrap().starts_with("Good news"),
        "{replies:?}"
    );
}

#[tokio::test]
async fn calls_are_fetched_and_hung_up_through_the_rest_api() {
    let fake = FakeServer::start(|request, _| {
        let body = if request.method == "GET" {
            json!({"sid": "CA9", "status": "completed", "duration": "61", "answered_by": null})
        } else {
            json!({"sid": "CA9", "status": "completed"})
        };
        (200, "application/json", body.to_string())
    })
    .await;
    let callbacks = twilio::Callbacks {
        public_base_url: PUBLIC_BASE_URL.into(),
        relay_url: RELAY_URL.into(),
        workspace_id: None,
    };
    let client = twilio::Twilio::new(&fake.url, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, callbacks);
    use switchboard_core::ports::{ProviderCall, Telephony};
    assert_eq!(
        client.fetch_call("CA9").await.unwrap(),
        Some(ProviderCall {
            status: switchboard_core::model::CallStatus::Completed,
            duration_seconds: Some(61)
        })
    );
    client.hang_up("CA9").await.unwrap();
    let requests = fake.requests();
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        (
            "GET",
            format!("/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Calls/CA9.json").as_str()
        )
    );
    assert_eq!(requests[1].method, "POST");
    assert_eq!(form_values(&requests[1], "Status"), ["completed"]);
}

#[tokio::test]
async fn a_workspace_whose_owner_has_not_verified_their_email_places_no_live_calls() {
    let fake = fake_twilio(created_call()).await;
    let app = app_with(&fake).await;
    let t = app.unverified_tenant().await;
    let (agent, number_id, _) = app.phone_line(&t).await;
    let controls = app.get("/v1/billing/spending-controls").bearer(&t.key).send().await;
    assert_eq!(controls.body["owner_verified"], false);
    let campaign = app
        .ready_campaign(&t, (&agent, &number_id), 1, &[phone_ending("0100")])
        .await;
    let before = app.snapshot(&t.workspace_id).await;
    let call = json!({"agent_id": agent, "phone_number_id": number_id, "to": phone_ending("0100")});
    app.post("/v1/calls")
        .bearer(&t.key)
        .json(call.clone())
        .send()
        .await
        .expect_error(403, "email_not_verified");
    app.post(&format!("/v1/campaigns/{campaign}/start"))
        .bearer(&t.key)
        .send()
        .await
        .expect_error(403, "email_not_verified");
    assert_eq!(app.snapshot(&t.workspace_id).await, before, "nothing written");
    assert!(
        !fake.requests().iter().any(|r| r.path.ends_with("/Calls.json")),
        "Twilio was never asked to call"
    );

    app.verify_email(&t.email).await;
    let controls = app.get("/v1/billing/spending-controls").bearer(&t.key).send().await;
    assert_eq!(controls.body["owner_verified"], true);
    app.post("/v1/calls").bearer(&t.key).json(call).send().await.expect(201);
}

#[tokio::test]
async fn a_recorded_call_starts_twilios_recording_and_its_copy_moves_to_the_bucket() {
    let fake = fake_twilio(created_call()).await;
    let app = app_with(&fake).await;
    let t = app.tenant().await;
    let (id, sid, connection) = relayed_call(&app, &t).await;
    let call = app.get(&format!("/v1/calls/{id}")).bearer(&t.key).send().await;
    let agent = call.body["agent_id"].as_str().unwrap().to_owned();
    app.set_agent(&t, &agent, json!({"record_calls": true})).await;
    // What Twilio is told once the agent records: start recording, then the notice.
    let voice = format!(
        "/v1/telephony/twilio/voice?workspace_id={}&call_id={id}",
        t.workspace_id
    );
    let twiml = webhook(&app, &voice, &[("CallSid", &sid)], None).await;
    assert!(
        twiml.text.contains("<Response><Start><Recording/></Start><Connect>"),
        "{}",
        twiml.text
    );
    assert!(
        twiml.text.contains(r#"welcomeGreeting="This call is recorded; if you&apos;d rather it wasn&apos;t, just say so. Hi, this is Sarah from Acme Dental.""#),
        "{}",
        twiml.text
    );

    prompt(&app, &connection, "That's all, thank you. Goodbye.", true).await;
    completed(&app, &t, &id, &sid, "2").await;

    let call = app.get(&format!("/v1/calls/{id}")).bearer(&t.key).send().await;
    assert_eq!(
        call.body["recording"]["duration_seconds"], 2,
        "Twilio's duration: {}",
        call.text
    );
    assert_eq!(call.body["recording"]["content_type"], "audio/mpeg");
    let url = call.body["recording_url"].as_str().unwrap();
    let kept = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    assert_eq!(kept.as_ref(), RECORDING_MP3.as_bytes(), "Twilio's audio, as it was");
    let asked: Vec<(String, String)> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("Recordings"))
        .map(|r| (r.method, r.path.rsplit('/').next().unwrap().to_owned()))
        .collect();
    let asked: Vec<(&str, &str)> = asked.iter().map(|(m, p)| (m.as_str(), p.as_str())).collect();
    assert_eq!(
        asked,
        [
            ("GET", "Recordings.json"),
            ("GET", "RE0001.mp3"),
            ("GET", "Recordings.json"),
            ("DELETE", "RE0001.json")
        ],
        "fetched, then Twilio's copy deleted"
    );
}

/// A call whose final status callback never came is ended, once overdue, as Twilio saw it end:
/// completed, for the seconds Twilio counted, and charged for them.
#[tokio::test]
async fn an_overdue_call_ends_as_twilio_saw_it_end() {
    let fake = FakeServer::start(|request, _| {
        if request.method == "GET" && request.path.contains("/Calls/CA") {
            let body = json!({"status": "completed", "duration": "61", "answered_by": null});
            return (200, "application/json", body.to_string());
        }
        twilio_answer(request, &created_call())
    })
    .await;
    let app = app_with(&fake).await;
    let t = app.tenant().await;
    let placed = place(&app, &t).await;
    placed.expect(201);
    app.clock
        .advance(chrono::Duration::seconds(600) + switchboard_domain::calls::OVERDUE_GRACE);
    let check = switchboard_core::ports::CallJob::Overdue {
        workspace_id: t.workspace_id.clone(),
        call_id: placed.id().to_owned(),
        due_at: app.clock.now().timestamp(),
    };
    call_worker::run(&app.call_worker, check).await.unwrap();
    let call = app
        .get(&format!("/v1/calls/{}", placed.id()))
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(
        (
            &call.body["status"],
            &call.body["duration_seconds"],
            &call.body["cost"]["billed_minutes"]
        ),
        (&json!("completed"), &json!(61), &json!(2)),
        "{}",
        call.text
    );
    let hung_up = fake
        .requests()
        .iter()
        .any(|r| r.method == "POST" && r.path.contains("/Calls/CA"));
    assert!(!hung_up, "a call Twilio saw end is not hung up");
}
