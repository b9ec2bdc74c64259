//! Onboarding and bring-your-own providers: the mode, credentials checked live and sealed,
//! completion, and each workspace's calls, numbers and status callbacks going through the
//! account it chose.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde_json::{Value, json};
use switchboard_telephony::twilio;
use switchboard_tests::fake::{FakeServer, Recorded};
use switchboard_tests::{
    Options, PUBLIC_BASE_URL, Res, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, Tenant, TestApp, phone_ending,
};

use crate::twilio::{created_call, twilio_answer};

/// The workspace's own Twilio account, as the fake knows it.
const OWN_SID: &str = "AC0000000000000000000000000000beef";
const OWN_TOKEN: &str = "own-auth-token-5f1c9e27d3";
/// Its token after rotation.
const ROTATED_TOKEN: &str = "own-auth-token-rotated-88a0";

/// A fake Twilio holding two accounts, the platform's and a workspace's own: an account's
/// resource answers only to its own SID and token (20003 otherwise), as Twilio's do.
async fn fake_twilio() -> FakeServer {
    fake_twilio_revoking(Arc::default()).await
}

/// [`fake_twilio`], where the workspace's own account stops taking its tokens once `revoked`.
async fn fake_twilio_revoking(revoked: Arc<AtomicBool>) -> FakeServer {
    FakeServer::start(move |request, _| {
        let own_revoked = revoked.load(Ordering::SeqCst);
        let accounts = [
            (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN),
            (OWN_SID, OWN_TOKEN),
            (OWN_SID, ROTATED_TOKEN),
        ];
        let signed_in = accounts.iter().any(|(sid, token)| {
            !(own_revoked && *sid == OWN_SID)
                && request.path.starts_with(&format!("/2010-04-01/Accounts/{sid}"))
                && request.header("authorization") == Some(&basic(sid, token))
        });
        if !signed_in {
            let refusal = json!({"code": 20003, "message": "Authenticate", "status": 401});
            return (401, "application/json", refusal.to_string());
        }
        if request.path.starts_with("/2010-04-01/Accounts/") && request.path.matches('/').count() == 3 {
            return (200, "application/json", json!({"status": "active"}).to_string());
        }
        twilio_answer(request, &created_call())
    })
    .await
}

fn basic(sid: &str, token: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{sid}:{token}"))
    )
}

/// Every answer a test saw, to look through for credentials.
#[derive(Default, Clone)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn keep(&self, res: Res) -> Res {
        self.0.lock().unwrap().push(res.text.clone());
        res
    }
}

async fn put(app: &TestApp, t: &Tenant, path: &str, body: Value) -> Res {
    app.put(path).bearer(&t.key).json(body).send().await
}

async fn bring_twilio(app: &TestApp, t: &Tenant, sid: &str, token: &str) -> Res {
    put(
        app,
        t,
        "/v1/onboarding/credentials/twilio",
        json!({"account_sid": sid, "auth_token": token}),
    )
    .await
}

/// A Twilio webhook to `path_and_query`, signed with `token` as Twilio signs it.
async fn signed_webhook(app: &TestApp, path_and_query: &str, form: &[(&str, &str)], token: &str) -> Res {
    let params: Vec<(String, String)> = form.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let signature = twilio::signature(token, &format!("{PUBLIC_BASE_URL}{path_and_query}"), &params);
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    app.post(path_and_query)
        .header("x-twilio-signature", &signature)
        .raw("application/x-www-form-urlencoded", body)
        .send()
        .await
}

async fn place(app: &TestApp, t: &Tenant, agent: &str, number_id: &str) -> Res {
    app.post("/v1/calls")
        .bearer(&t.key)
        .json(json!({"agent_id": agent, "phone_number_id": number_id, "to": phone_ending("0100")}))
        .send()
        .await
}

/// The requests the fake received for an account.
fn of_account(fake: &FakeServer, sid: &str) -> Vec<Recorded> {
    let prefix = format!("/2010-04-01/Accounts/{sid}");
    fake.requests()
        .into_iter()
        .filter(|r| r.path.starts_with(&prefix))
        .collect()
}

/// A test app on the `fake` Twilio, and a workspace calling through its own account there.
async fn own_account_workspace(fake: &FakeServer) -> (TestApp, Tenant) {
    let app = TestApp::with(Options {
        twilio_api: Some(fake.url.clone()),
        ..Options::default()
    })
    .await;
    let t = app.tenant().await;
    put(&app, &t, "/v1/onboarding/mode", json!({"mode": "byok"}))
        .await
        .expect(200);
    bring_twilio(&app, &t, OWN_SID, OWN_TOKEN).await.expect(200);
    (app, t)
}

/// Log lines written while a test runs, as the functions write them.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

#[tokio::test]
async fn each_workspace_calls_numbers_and_callbacks_go_through_the_account_it_chose_and_no_credential_leaks() {
    let logs = Logs::default();
    let _logging = tracing::subscriber::set_default(switchboard_runtime::telemetry::json_subscriber(
        tracing_subscriber::EnvFilter::new("debug"),
        logs.clone(),
    ));
    let fake = fake_twilio().await;
    let app = TestApp::with(Options {
        twilio_api: Some(fake.url.clone()),
        ..Options::default()
    })
    .await;
    let seen = Seen::default();
    let own = app.tenant().await;
    let bundled = app.tenant().await;

    let status = seen.keep(put(&app, &own, "/v1/onboarding/mode", json!({"mode": "byok"})).await);
    status.expect(200);
    assert_eq!(status.body["missing"], json!(["twilio", "anthropic"]));
    let brought = seen.keep(bring_twilio(&app, &own, OWN_SID, OWN_TOKEN).await);
    brought.expect(200);
    let twilio_status = &brought.body["providers"][0];
    assert_eq!(
        (twilio_status["provider"].as_str(), twilio_status["state"].as_str()),
        (Some("twilio"), Some("valid"))
    );
    assert_eq!(
        twilio_status["fields"],
        json!({"account_sid": OWN_SID}),
        "the SID is shown, never the token"
    );
    let checked = of_account(&fake, OWN_SID);
    assert_eq!(checked.len(), 1, "checked live once: {checked:?}");
    assert_eq!(checked[0].path, format!("/2010-04-01/Accounts/{OWN_SID}.json"));

    // Each workspace imports a number, places a call, searches, buys and releases a number.
    let mut placed = Vec::new();
    for t in [&own, &bundled] {
        let (agent, number_id, _) = app.phone_line(t).await;
        let call = seen.keep(place(&app, t, &agent, &number_id).await);
        call.expect(201);
        placed.push(call);
        seen.keep(
            app.post("/v1/numbers/search")
                .bearer(&t.key)
                .json(json!({"country": "US"}))
                .send()
                .await,
        )
        .expect(200);
        let bought = seen.keep(
            app.post("/v1/numbers/provision")
                .bearer(&t.key)
                .json(json!({"phone_number": "+14155550123"}))
                .send()
                .await,
        );
        // The numbers' global guard lets one workspace hold the offer; the other buys the next.
        let bought = if bought.status == 409 {
            seen.keep(
                app.post("/v1/numbers/provision")
                    .bearer(&t.key)
                    .json(json!({"phone_number": "+14155550124"}))
                    .send()
                    .await,
            )
        } else {
            bought
        };
        bought.expect(201);
        seen.keep(
            app.post(&format!("/v1/numbers/{}/release", bought.id()))
                .bearer(&t.key)
                .send()
                .await,
        )
        .expect(200);
    }
    let operations = |sid: &str| -> Vec<String> {
        of_account(&fake, sid)
            .iter()
            .map(|r| {
                let resource = r
                    .path
                    .split('/')
                    .nth(4)
                    .unwrap_or_default()
                    .split(['.', '?'])
                    .next()
                    .unwrap();
                format!("{} {resource}", r.method)
            })
            .collect()
    };
    for sid in [OWN_SID, TWILIO_ACCOUNT_SID] {
        let done = operations(sid);
        for expected in [
            "GET IncomingPhoneNumbers",
            "POST IncomingPhoneNumbers",
            "POST Calls",
            "GET AvailablePhoneNumbers",
            "DELETE IncomingPhoneNumbers",
        ] {
            assert!(done.iter().any(|d| d == expected), "{sid} saw no {expected}: {done:?}");
        }
    }
    // Each call went through its workspace's account, signed in as that account.
    for (t, sid, token) in [
        (&own, OWN_SID, OWN_TOKEN),
        (&bundled, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN),
    ] {
        let requests = of_account(&fake, sid);
        assert!(
            requests
                .iter()
                .all(|r| r.header("authorization") == Some(&basic(sid, token)))
        );
        let calls: Vec<&Recorded> = requests.iter().filter(|r| r.path.ends_with("/Calls.json")).collect();
        assert_eq!(calls.len(), 1, "{sid}");
        let url = crate::twilio::form_values(calls[0], "Url").remove(0);
        assert!(url.contains(&format!("workspace_id={}", t.workspace_id)), "{url}");
    }
    // The workspace's own numbers call back naming it, so that its token checks them.
    let bought_own = of_account(&fake, OWN_SID)
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/IncomingPhoneNumbers.json"))
        .unwrap();
    assert_eq!(
        crate::twilio::form_values(&bought_own, "VoiceUrl"),
        [format!(
            "{PUBLIC_BASE_URL}/v1/telephony/twilio/voice?workspace_id={}",
            own.workspace_id
        )]
    );

    // Status callbacks: checked with the token of the account that placed the call.
    for (t, call, token, other_token) in [
        (&own, &placed[0], OWN_TOKEN, TWILIO_AUTH_TOKEN),
        (&bundled, &placed[1], TWILIO_AUTH_TOKEN, OWN_TOKEN),
    ] {
        let path = format!(
            "/v1/telephony/twilio/status?workspace_id={}&call_id={}",
            t.workspace_id,
            call.id()
        );
        let sid = call.body["provider_call_id"].as_str().unwrap();
        let form = [("CallSid", sid), ("CallStatus", "ringing")];
        let before = app.snapshot(&t.workspace_id).await;
        signed_webhook(&app, &path, &form, other_token)
            .await
            .expect_error(403, "invalid_signature");
        assert_eq!(app.snapshot(&t.workspace_id).await, before, "nothing written");
        signed_webhook(&app, &path, &form, token).await.expect(204);
        let read = seen.keep(app.get(&format!("/v1/calls/{}", call.id())).bearer(&t.key).send().await);
        assert_eq!(read.body["status"], "ringing");
    }

    // A byok workspace without a model key cannot start what needs one.
    let agent = app
        .create(
            &own,
            "/v1/agents",
            json!({"name": "Ada", "system_prompt": "You are Ada."}),
        )
        .await;
    seen.keep(
        app.post(&format!("/v1/agents/{agent}/messages"))
            .bearer(&own.key)
            .json(json!({"content": "Hello"}))
            .send()
            .await,
    )
    .expect_error(409, "provider_credential_missing");
    // With its own model key (the offline model takes test keys), it talks through it.
    let model_key = "test_model_key_0b7e41c9";
    seen.keep(
        put(
            &app,
            &own,
            "/v1/onboarding/credentials/anthropic",
            json!({"api_key": model_key}),
        )
        .await,
    )
    .expect(200);
    app.clock
        .advance(switchboard_domain::providers::CACHE_FOR + chrono::Duration::seconds(1));
    seen.keep(
        app.post(&format!("/v1/agents/{agent}/messages"))
            .bearer(&own.key)
            .json(json!({"content": "Hello"}))
            .send()
            .await,
    )
    .expect(201);

    let table = app.whole_table().await.join("\n");
    let answers = seen.0.lock().unwrap().join("\n");
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logged.contains("request"), "the functions logged: {}", logged.len());
    for (what, text) in [("the table", &table), ("an answer", &answers), ("a log line", &logged)] {
        for secret in [OWN_TOKEN, model_key] {
            assert!(!text.contains(secret), "{what} holds {secret}");
        }
    }
}

#[tokio::test]
async fn a_credential_the_provider_refuses_is_422_with_its_reason_and_nothing_is_kept() {
    let fake = fake_twilio().await;
    let app = TestApp::with(Options {
        twilio_api: Some(fake.url.clone()),
        ..Options::default()
    })
    .await;
    let t = app.tenant().await;
    let before = app.snapshot(&t.workspace_id).await;
    let refused = bring_twilio(&app, &t, OWN_SID, "a-wrong-token").await;
    refused.expect_error(422, "credential_rejected");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Authenticate (Twilio error 20003)")
    );
    assert!(!refused.text.contains("a-wrong-token"));
    assert_eq!(app.snapshot(&t.workspace_id).await, before, "nothing written");
    let status = app.get("/v1/onboarding/status").bearer(&t.key).send().await;
    assert_eq!(status.body["providers"][0]["state"], "missing");
}

#[tokio::test]
async fn offline_providers_take_test_credentials_only_and_complete_names_what_is_missing() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let status = app.get("/v1/onboarding/status").bearer(&t.key).send().await;
    status.expect(200);
    assert_eq!(
        (
            status.body["mode"].as_str(),
            status.body["ready"].as_bool(),
            &status.body["missing"]
        ),
        (Some("bundled"), Some(false), &json!([]))
    );
    put(&app, &t, "/v1/onboarding/mode", json!({"mode": "byok"}))
        .await
        .expect(200);
    let incomplete = app.post("/v1/onboarding/complete").bearer(&t.key).send().await;
    incomplete.expect_error(409, "onboarding_incomplete");
    let message = incomplete.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("`twilio`") && message.contains("`anthropic`") && !message.contains("elevenlabs"));

    // The simulator and the offline model refuse what is not a test credential.
    let before = app.snapshot(&t.workspace_id).await;
    bring_twilio(&app, &t, OWN_SID, "live-token")
        .await
        .expect_error(422, "credential_rejected");
    put(
        &app,
        &t,
        "/v1/onboarding/credentials/anthropic",
        json!({"api_key": "sk-ant-live"}),
    )
    .await
    .expect_error(422, "credential_rejected");
    assert_eq!(app.snapshot(&t.workspace_id).await, before, "nothing written");

    bring_twilio(&app, &t, OWN_SID, "test_twilio_token").await.expect(200);
    let incomplete = app.post("/v1/onboarding/complete").bearer(&t.key).send().await;
    incomplete.expect_error(409, "onboarding_incomplete");
    let message = incomplete.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`anthropic`") && !message.contains("`twilio`"),
        "{message}"
    );
    put(
        &app,
        &t,
        "/v1/onboarding/credentials/anthropic",
        json!({"api_key": "test_model_key"}),
    )
    .await
    .expect(200);
    let done = app.post("/v1/onboarding/complete").bearer(&t.key).send().await;
    done.expect(200);
    assert_eq!(
        (done.body["ready"].as_bool(), &done.body["missing"]),
        (Some(true), &json!([]))
    );

    // A call through the workspace's own (simulated) account, and its conversation through its
    // own (offline) model.
    let (agent, number_id, _) = app.phone_line(&t).await;
    let call = place(&app, &t, &agent, &number_id).await;
    call.expect(201);
    app.run_call_jobs_until_final(&t, call.id()).await;
    let ended = app.get(&format!("/v1/calls/{}", call.id())).bearer(&t.key).send().await;
    assert_eq!(ended.body["status"], "completed", "{}", ended.text);
    // Its minutes cost the platform's fee alone, and a number bought through its own account
    // costs nothing of ours.
    assert_eq!(ended.body["cost"]["per_minute_minor"], 3, "{}", ended.text);
    let quotas = app.get("/v1/billing/quotas").bearer(&t.key).send().await;
    assert_eq!(
        (&quotas.body["mode"], &quotas.body["per_minute_minor"]),
        (&json!("byok"), &json!(3))
    );
    let balance = app.get("/v1/billing/balance").bearer(&t.key).send().await.body["balance_minor"].clone();
    let bought = app
        .post("/v1/numbers/provision")
        .bearer(&t.key)
        .json(json!({"phone_number": switchboard_tests::unique_phone()}))
        .send()
        .await;
    bought.expect(201);
    assert_eq!(
        (&bought.body["monthly_fee_minor"], &bought.body["renews_at"]),
        (&json!(0), &json!(null))
    );
    let after = app.get("/v1/billing/balance").bearer(&t.key).send().await;
    assert_eq!(after.body["balance_minor"], balance);

    // Forgetting a credential un-readies the workspace, and what needs it is refused.
    let deleted = app
        .delete("/v1/onboarding/credentials/twilio")
        .bearer(&t.key)
        .send()
        .await;
    deleted.expect(200);
    assert_eq!(
        deleted.body,
        json!({"id": "twilio", "object": "onboarding_credential", "deleted": true})
    );
    let status = app.get("/v1/onboarding/status").bearer(&t.key).send().await;
    assert_eq!(
        (status.body["ready"].as_bool(), &status.body["missing"]),
        (Some(false), &json!(["twilio"]))
    );
    app.clock.advance(chrono::Duration::seconds(61));
    place(&app, &t, &agent, &number_id)
        .await
        .expect_error(409, "provider_credential_missing");
    app.delete("/v1/onboarding/credentials/twilio")
        .bearer(&t.key)
        .send()
        .await
        .expect_error(404, "credential_not_found");
}

#[tokio::test]
async fn a_rotated_credential_is_used_once_the_cache_expires() {
    let fake = fake_twilio().await;
    let (app, t) = own_account_workspace(&fake).await;
    let (agent, number_id, _) = app.phone_line(&t).await;
    place(&app, &t, &agent, &number_id).await.expect(201);
    bring_twilio(&app, &t, OWN_SID, ROTATED_TOKEN).await.expect(200);
    app.clock
        .advance(switchboard_domain::providers::CACHE_FOR + chrono::Duration::seconds(1));
    let call = place(&app, &t, &agent, &number_id).await;
    call.expect(201);
    let creates: Vec<Recorded> = of_account(&fake, OWN_SID)
        .into_iter()
        .filter(|r| r.path.ends_with("/Calls.json"))
        .collect();
    assert_eq!(creates.len(), 2);
    assert_eq!(
        creates[1].header("authorization"),
        Some(basic(OWN_SID, ROTATED_TOKEN).as_str())
    );
    // Its callbacks are checked with the new token.
    let path = format!(
        "/v1/telephony/twilio/status?workspace_id={}&call_id={}",
        t.workspace_id,
        call.id()
    );
    let form = [
        ("CallSid", call.body["provider_call_id"].as_str().unwrap()),
        ("CallStatus", "ringing"),
    ];
    signed_webhook(&app, &path, &form, OWN_TOKEN)
        .await
        .expect_error(403, "invalid_signature");
    signed_webhook(&app, &path, &form, ROTATED_TOKEN).await.expect(204);
}

#[tokio::test]
async fn a_credential_the_provider_stops_taking_is_marked_invalid_with_its_reason() {
    let revoked = Arc::new(AtomicBool::new(false));
    let fake = fake_twilio_revoking(revoked.clone()).await;
    let (app, t) = own_account_workspace(&fake).await;
    let (agent, number_id, _) = app.phone_line(&t).await;

    revoked.store(true, Ordering::SeqCst);
    app.clock.advance(chrono::Duration::seconds(10)); // past the trial plan's burst
    let call = place(&app, &t, &agent, &number_id).await;
    call.expect(201);
    assert_eq!(call.body["status"], "failed");
    assert!(
        call.body["ended_reason"]
            .as_str()
            .unwrap()
            .contains("refused the credential"),
        "{}",
        call.text
    );
    let status = app.get("/v1/onboarding/status").bearer(&t.key).send().await;
    let twilio = &status.body["providers"][0];
    assert_eq!(twilio["state"], "invalid", "{}", status.text);
    assert!(
        twilio["reason"]
            .as_str()
            .unwrap()
            .contains("Authenticate (Twilio error 20003)")
    );
    assert_eq!(status.body["missing"], json!(["twilio", "anthropic"]));
    // This instance asks again at once, and refuses with the provider's reason.
    let refused = place(&app, &t, &agent, &number_id).await;
    refused.expect_error(409, "provider_credential_missing");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Twilio error 20003")
    );

    revoked.store(false, Ordering::SeqCst);
    bring_twilio(&app, &t, OWN_SID, OWN_TOKEN).await.expect(200);
    app.clock
        .advance(switchboard_domain::providers::CACHE_FOR + chrono::Duration::seconds(1));
    let again = place(&app, &t, &agent, &number_id).await;
    again.expect(201);
    assert_eq!(again.body["status"], "queued", "{}", again.text);
}

#[tokio::test]
async fn bad_credentials_and_modes_are_clear_4xx_and_write_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let before = app.snapshot(&t.workspace_id).await;
    let cases = [
        (
            "/v1/onboarding/credentials/stripe",
            json!({"api_key": "test_x"}),
            404,
            "provider_not_found",
        ),
        (
            "/v1/onboarding/credentials/twilio",
            json!({"auth_token": "test_x"}),
            400,
            "missing_field",
        ),
        (
            "/v1/onboarding/credentials/twilio",
            json!({"account_sid": OWN_SID, "auth_token": "test_x", "api_key": "test_y"}),
            400,
            "unknown_field",
        ),
        (
            "/v1/onboarding/credentials/twilio",
            json!({"account_sid": "AC123", "auth_token": "test_x"}),
            400,
            "invalid_value",
        ),
        (
            "/v1/onboarding/credentials/anthropic",
            json!({"api_key": ""}),
            422,
            "validation_failed",
        ),
        (
            "/v1/onboarding/credentials/anthropic",
            json!({"api_key": "x".repeat(600)}),
            422,
            "validation_failed",
        ),
        (
            "/v1/onboarding/credentials/anthropic",
            json!({"secret": "test_x"}),
            400,
            "unknown_field",
        ),
        ("/v1/onboarding/mode", json!({"mode": "own"}), 400, "invalid_type"),
        ("/v1/onboarding/mode", json!({}), 400, "missing_field"),
    ];
    for (path, body, status, code) in cases {
        let res = put(&app, &t, path, body.clone()).await;
        assert_eq!((res.status, res.code()), (status, code), "{path} {body}: {}", res.text);
    }
    assert_eq!(app.snapshot(&t.workspace_id).await, before, "nothing written");
}

#[tokio::test]
async fn a_workspace_sees_and_deletes_only_its_own_credentials() {
    let app = TestApp::spawn().await;
    let (a, b) = (app.tenant().await, app.tenant().await);
    bring_twilio(&app, &a, OWN_SID, "test_token").await.expect(200);
    let theirs = app.get("/v1/onboarding/status").bearer(&b.key).send().await;
    assert_eq!(theirs.body["providers"][0]["state"], "missing");
    app.delete("/v1/onboarding/credentials/twilio")
        .bearer(&b.key)
        .send()
        .await
        .expect_error(404, "credential_not_found");
    let ours = app.get("/v1/onboarding/status").bearer(&a.key).send().await;
    assert_eq!(ours.body["providers"][0]["state"], "valid");
}

/// Who may change how the workspace is billed and whose accounts it calls through.
#[tokio::test]
async fn only_admins_change_the_mode_and_credentials() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let reader = app.key(&t, "read").await;
    app.get("/v1/onboarding/status")
        .bearer(&reader)
        .send()
        .await
        .expect(200);
    for res in [
        app.put("/v1/onboarding/mode")
            .bearer(&reader)
            .json(json!({"mode": "byok"}))
            .send()
            .await,
        bring_twilio_as(&app, &reader).await,
        app.post("/v1/onboarding/complete").bearer(&reader).send().await,
    ] {
        res.expect_error(403, "insufficient_scope");
    }
}

async fn bring_twilio_as(app: &TestApp, key: &str) -> Res {
    app.put("/v1/onboarding/credentials/twilio")
        .bearer(key)
        .json(json!({"account_sid": OWN_SID, "auth_token": "test_token"}))
        .send()
        .await
}

#[tokio::test]
async fn a_mode_change_and_a_completion_at_the_same_moment_both_stay() {
    let app = TestApp::spawn().await;
    for _ in 0..5 {
        let t = app.tenant().await;
        // Whichever lands first, completion is allowed.
        bring_twilio(&app, &t, OWN_SID, "test_token").await.expect(200);
        put(
            &app,
            &t,
            "/v1/onboarding/credentials/anthropic",
            json!({"api_key": "test_key"}),
        )
        .await
        .expect(200);
        let complete = app.post("/v1/onboarding/complete").bearer(&t.key).send();
        let (mode, done) = tokio::join!(put(&app, &t, "/v1/onboarding/mode", json!({"mode": "byok"})), complete);
        mode.expect(200);
        done.expect(200);
        let status = app.get("/v1/onboarding/status").bearer(&t.key).send().await;
        assert_eq!(status.body["mode"], "byok", "{}", status.text);
        assert!(status.body["completed_at"].is_string(), "{}", status.text);
    }
}

/// The workspace's own ElevenLabs account, as the fake knows it: its key, and its one voice.
const OWN_XI_KEY: &str = "xi-own-key-3c8d51";
const OWN_VOICE: &str = "ElOwnVoice0001";

/// A fake ElevenLabs taking [`OWN_XI_KEY`] (until `revoked`), knowing [`OWN_VOICE`], and
/// speaking 16 kHz PCM.
async fn fake_elevenlabs(revoked: Arc<AtomicBool>) -> FakeServer {
    FakeServer::start(move |request, _| {
        if revoked.load(Ordering::SeqCst) || request.header("xi-api-key") != Some(OWN_XI_KEY) {
            let refusal = json!({"detail": {"status": "invalid_api_key", "message": "Invalid API key"}});
            return (401, "application/json", refusal.to_string());
        }
        let path = request.path.split('?').next().unwrap_or_default();
        match (request.method.as_str(), path) {
            ("GET", "/v1/user") => (200, "application/json", json!({"subscription": {}}).to_string()),
            ("GET", p) if p == format!("/v1/voices/{OWN_VOICE}") => {
                (200, "application/json", json!({"voice_id": OWN_VOICE}).to_string())
            }
            ("GET", p) if p.starts_with("/v1/voices/") => (
                400,
                "application/json",
                json!({"detail": {"status": "voice_not_found"}}).to_string(),
            ),
            ("POST", p) if p == format!("/v1/text-to-speech/{OWN_VOICE}") => (200, "audio/pcm", "\0".repeat(3_200)),
            _ => (404, "application/json", "{}".into()),
        }
    })
    .await
}

/// The sample rate of a WAV answer.
fn wav_rate(res: &Res) -> u32 {
    res.expect(200);
    assert_eq!(res.header("content-type"), Some("audio/wav"));
    hound::WavReader::new(res.bytes.as_slice())
        .expect("WAV")
        .spec()
        .sample_rate
}

/// The TwiML that connects an answered call of `t`'s, as Twilio asks for it signed with `token`.
async fn answered_twiml(app: &TestApp, t: &Tenant, call: &Res, token: &str) -> String {
    let path = format!(
        "/v1/telephony/twilio/voice?workspace_id={}&call_id={}",
        t.workspace_id,
        call.id()
    );
    let sid = call.body["provider_call_id"].as_str().unwrap();
    let form = [("CallSid", sid), ("CallStatus", "in-progress"), ("AnsweredBy", "human")];
    let res = signed_webhook(app, &path, &form, token).await;
    res.expect(200);
    res.text
}

#[tokio::test]
async fn a_workspace_speaks_with_the_voices_its_own_elevenlabs_account_gives_its_personas() {
    let twilio_fake = fake_twilio().await;
    let revoked = Arc::new(AtomicBool::new(false));
    let xi = fake_elevenlabs(revoked.clone()).await;
    let app = TestApp::with(Options {
        twilio_api: Some(twilio_fake.url.clone()),
        elevenlabs_api: Some(xi.url.clone()),
        ..Options::default()
    })
    .await;
    let own = app.tenant().await;
    let bundled = app.tenant().await;
    put(&app, &own, "/v1/onboarding/mode", json!({"mode": "byok"}))
        .await
        .expect(200);
    bring_twilio(&app, &own, OWN_SID, OWN_TOKEN).await.expect(200);
    let bring = |voices: Value| {
        put(
            &app,
            &own,
            "/v1/onboarding/credentials/elevenlabs",
            json!({"api_key": OWN_XI_KEY, "voices": voices}),
        )
    };

    // Bad input: refused before ElevenLabs is asked, nothing kept.
    let before = app.snapshot(&own.workspace_id).await;
    bring(json!({"zed": OWN_VOICE}))
        .await
        .expect_error(400, "invalid_value");
    bring(json!({"amelia": "../v1/user"}))
        .await
        .expect_error(400, "invalid_value");
    bring(json!(["amelia"])).await.expect_error(400, "invalid_type");
    put(
        &app,
        &own,
        "/v1/onboarding/credentials/twilio",
        json!({"account_sid": OWN_SID, "auth_token": OWN_TOKEN, "voices": {}}),
    )
    .await
    .expect_error(400, "unknown_field");
    assert!(xi.requests().is_empty(), "{:?}", xi.requests());
    // A voice the account does not have: ElevenLabs' answer, and nothing kept.
    let refused = bring(json!({"amelia": "ElNotMine"})).await;
    refused.expect_error(422, "credential_rejected");
    assert!(
        refused.body["error"]["message"].as_str().unwrap().contains("ElNotMine"),
        "{}",
        refused.text
    );
    assert_eq!(app.snapshot(&own.workspace_id).await, before, "nothing written");

    let brought = bring(json!({"amelia": OWN_VOICE})).await;
    brought.expect(200);
    let status = &brought.body["providers"][2];
    assert_eq!(
        (status["provider"].as_str(), status["state"].as_str()),
        (Some("elevenlabs"), Some("valid"))
    );
    assert_eq!(
        status["fields"],
        json!({"voices": {"amelia": OWN_VOICE}}),
        "the voices are shown, never the key"
    );
    assert!(!brought.text.contains(OWN_XI_KEY));

    // Live calls: ConversationRelay speaks the persona with the workspace's own voice; the
    // personas it gave no voice, and every bundled workspace's, with the platform's.
    let mut agents = Vec::new();
    for (t, token) in [(&own, OWN_TOKEN), (&bundled, TWILIO_AUTH_TOKEN)] {
        let (agent, number_id, _) = app.phone_line(t).await;
        app.set_agent(t, &agent, json!({"voice": "amelia"})).await;
        let call = place(&app, t, &agent, &number_id).await;
        call.expect(201);
        let twiml = answered_twiml(&app, t, &call, token).await;
        let expected = if t.workspace_id == own.workspace_id {
            format!(r#"ttsProvider="ElevenLabs" voice="{OWN_VOICE}""#)
        } else {
            r#"ttsProvider="Amazon" voice="Amy-Neural""#.to_owned()
        };
        assert!(twiml.contains(&expected), "{twiml}");
        agents.push(agent);
    }
    let leo = app
        .create(
            &own,
            "/v1/agents",
            json!({"name": "Leo", "system_prompt": "You are Leo.", "voice": "leo"}),
        )
        .await;
    let (_, number_id, _) = app.phone_line(&own).await;
    let leo_call = place(&app, &own, &leo, &number_id).await;
    let twiml = answered_twiml(&app, &own, &leo_call, OWN_TOKEN).await;
    assert!(
        twiml.contains(r#"ttsProvider="Amazon" voice="Brian-Neural""#),
        "{twiml}"
    );

    // Previews: the workspace's own account speaks its persona (16 kHz, as asked of
    // ElevenLabs, with its key); the platform's voice (offline: 22.05 kHz) the others.
    let preview = |t: &Tenant, agent: &str, body: Value| {
        app.post(&format!("/v1/agents/{agent}/preview"))
            .bearer(&t.key)
            .json(body)
            .send()
    };
    assert_eq!(
        wav_rate(&preview(&own, &agents[0], json!({"text": "Hello there"})).await),
        16_000
    );
    let spoken: Vec<Recorded> = xi.requests().into_iter().filter(|r| r.method == "POST").collect();
    assert_eq!(spoken.len(), 1);
    assert_eq!(spoken[0].header("xi-api-key"), Some(OWN_XI_KEY));
    assert_eq!(spoken[0].json()["text"], "Hello there");
    assert_eq!(wav_rate(&preview(&own, &leo, json!({})).await), 22_050);
    assert_eq!(wav_rate(&preview(&bundled, &agents[1], json!({})).await), 22_050);
    assert_eq!(
        xi.requests().iter().filter(|r| r.method == "POST").count(),
        1,
        "only the own persona asked ElevenLabs"
    );

    // Another workspace's agent is not found; bad input is refused.
    preview(&bundled, &agents[0], json!({}))
        .await
        .expect_error(404, "agent_not_found");
    preview(&own, &agents[0], json!({"text": "x".repeat(301)}))
        .await
        .expect_error(422, "validation_failed");
    preview(&own, &agents[0], json!({"voice": "leo"}))
        .await
        .expect_error(400, "unknown_field");

    // The account revokes the key: the credential is marked invalid with ElevenLabs' reason,
    // and the next preview speaks with the platform's voice.
    revoked.store(true, Ordering::SeqCst);
    app.clock.advance(chrono::Duration::seconds(10)); // past the trial plan's burst
    let refused = preview(&own, &agents[0], json!({})).await;
    assert!(refused.status >= 500, "{} {}", refused.status, refused.text);
    let status = app.get("/v1/onboarding/status").bearer(&own.key).send().await;
    assert_eq!(status.body["providers"][2]["state"], "invalid", "{}", status.text);
    assert_eq!(wav_rate(&preview(&own, &agents[0], json!({})).await), 22_050);
}
