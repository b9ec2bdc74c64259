//! `Idempotency-Key` on POST: replay, mismatch, in-progress, and exactly-once under races.

use serde_json::json;
use switchboard_core::ports::IdempotencyStore;
use switchboard_tests::TestApp;

async fn agent_count(app: &TestApp, key: &str) -> usize {
    let list = app.get("/v1/agents?limit=200").bearer(key).send().await;
    list.body["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_retry_with_the_same_key_replays_the_first_answer() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let body = json!({"name": "once", "system_prompt": "p"});
    let first = app
        .post("/v1/agents")
        .bearer(&t.key)
        .header("idempotency-key", "k-1")
        .json(body.clone())
        .send()
        .await;
    first.expect(201);
    assert!(first.header("idempotent-replayed").is_none());
    let again = app
        .post("/v1/agents")
        .bearer(&t.key)
        .header("idempotency-key", "k-1")
        .json(body)
        .send()
        .await;
    again.expect(201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("etag"), first.header("etag"));
    assert_eq!(agent_count(&app, &t.key).await, 1);
}

#[tokio::test]
async fn a_key_reused_with_another_body_is_refused() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    app.post("/v1/agents")
        .bearer(&t.key)
        .header("idempotency-key", "k-2")
        .json(json!({"name": "a", "system_prompt": "p"}))
        .send()
        .await
        .expect(201);
    let res = app
        .post("/v1/agents")
        .bearer(&t.key)
        .header("idempotency-key", "k-2")
        .json(json!({"name": "b", "system_prompt": "p"}))
        .send()
        .await;
    res.expect_error(422, "idempotency_key_reused");
    let res = app
        .post("/v1/contacts")
        .bearer(&t.key)
        .header("idempotency-key", "k-2")
        .json(json!({"name": "a", "system_prompt": "p"}))
        .send()
        .await;
    res.expect_error(422, "idempotency_key_reused");
    assert_eq!(agent_count(&app, &t.key).await, 1);
}

#[tokio::test]
async fn keys_are_scoped_to_the_workspace() {
    let app = TestApp::spawn().await;
    let (a, b) = (app.tenant().await, app.tenant().await);
    let body = json!({"name": "a", "system_prompt": "p"});
    let first = app
        .post("/v1/agents")
        .bearer(&a.key)
        .header("idempotency-key", "shared")
        .json(body.clone())
        .send()
        .await;
    let second = app
        .post("/v1/agents")
        .bearer(&b.key)
        .header("idempotency-key", "shared")
        .json(body)
        .send()
        .await;
    second.expect(201);
    assert!(second.header("idempotent-replayed").is_none());
    assert_ne!(first.id(), second.id());
}

#[tokio::test]
async fn a_request_still_running_makes_its_retry_wait() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let body = json!({"name": "slow", "system_prompt": "p"});
    // The fingerprint the pipeline computes for this request.
    let material = format!("POST /v1/agents?\n{}", serde_json::to_string(&body).unwrap());
    let fingerprint = app.fingerprints.of(&material);
    app.store
        .begin(Some(&t.workspace_id), "k-3", &t.key_id, &fingerprint, app.clock.now())
        .await
        .unwrap();
    let res = app
        .post("/v1/agents")
        .bearer(&t.key)
        .header("idempotency-key", "k-3")
        .json(body.clone())
        .send()
        .await;
    res.expect_error(409, "idempotency_in_progress");
    // A claim whose function died is taken over once its lock lapses.
    app.clock.advance(chrono::Duration::seconds(61));
    app.post("/v1/agents")
        .bearer(&t.key)
        .header("idempotency-key", "k-3")
        .json(body)
        .send()
        .await
        .expect(201);
}

#[tokio::test]
async fn concurrent_retries_create_one_resource() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let body = json!({"name": "race", "system_prompt": "p"});
    let results = futures::future::join_all((0..8).map(|_| {
        app.post("/v1/agents")
            .bearer(&t.key)
            .header("idempotency-key", "k-race")
            .json(body.clone())
            .send()
    }))
    .await;
    let created: Vec<&str> = results.iter().filter(|r| r.status == 201).map(|r| r.id()).collect();
    assert!(!created.is_empty());
    assert!(
        created.iter().all(|id| *id == created[0]),
        "every success names the same agent"
    );
    assert!(
        results
            .iter()
            .all(|r| r.status == 201 || r.code() == "idempotency_in_progress")
    );
    assert_eq!(agent_count(&app, &t.key).await, 1);
}

#[tokio::test]
async fn a_malformed_request_does_not_use_up_its_key() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    app.post("/v1/agents")
        .bearer(&t.key)
        .header("idempotency-key", "k-4")
        .raw("application/json", "{oops")
        .send()
        .await
        .expect(400);
    app.post("/v1/agents")
        .bearer(&t.key)
        .header("idempotency-key", "k-4")
        .raw("application/json", "{oops")
        .send()
        .await
        .expect(400);
    let res = app
        .post("/v1/agents")
        .bearer(&t.key)
        .header("idempotency-key", "k-4")
        .json(json!({"name": "a", "system_prompt": "p"}))
        .send()
        .await;
    res.expect(201);
}

#[tokio::test]
async fn outcomes_that_are_final_are_replayed_too() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let body = json!({"phone": "+14155550123"});
    app.create(&t, "/v1/contacts", body.clone()).await;
    let first = app
        .post("/v1/contacts")
        .bearer(&t.key)
        .header("idempotency-key", "k-5")
        .json(body.clone())
        .send()
        .await;
    first.expect_error(409, "phone_number_taken");
    let again = app
        .post("/v1/contacts")
        .bearer(&t.key)
        .header("idempotency-key", "k-5")
        .json(body)
        .send()
        .await;
    again.expect_error(409, "phone_number_taken");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body["error"]["request_id"], first.body["error"]["request_id"]);
}

#[tokio::test]
async fn keys_must_be_short_printable_strings() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let res = app
        .post("/v1/agents")
        .bearer(&t.key)
        .header("idempotency-key", &"k".repeat(256))
        .json(json!({"name": "a", "system_prompt": "p"}))
        .send()
        .await;
    res.expect_error(400, "invalid_idempotency_key");
    assert_eq!(agent_count(&app, &t.key).await, 0);
    app.post("/v1/agents")
        .bearer(&t.key)
        .header("idempotency-key", &"k".repeat(255))
        .json(json!({"name": "a", "system_prompt": "p"}))
        .send()
        .await
        .expect(201);
}

#[tokio::test]
async fn public_posts_are_idempotent_too() {
    let app = TestApp::spawn().await;
    let email = format!("idem-{}@example.com", switchboard_tests::random_suffix());
    let body = json!({"email": email, "password": "correct horse battery"});
    let first = app
        .post("/v1/auth/signup")
        .header("idempotency-key", &email)
        .json(body.clone())
        .send()
        .await;
    first.expect(201);
    let again = app
        .post("/v1/auth/signup")
        .header("idempotency-key", &email)
        .json(body)
        .send()
        .await;
    again.expect(201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body["workspace"]["id"], first.body["workspace"]["id"]);
}

/// A public request's record (a login's, whose answer holds a session token) can be neither
/// opened nor used to test guesses of the password with what the table holds: its answer is
/// sealed under the request itself, and its fingerprint is keyed.
#[tokio::test]
async fn a_public_answer_opens_only_with_the_request_that_made_it() {
    use switchboard_domain::webhooks::secrets::SecretBox;
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let key = format!("login-{}", switchboard_tests::random_suffix());
    let body = json!({"email": t.email, "password": t.password}).to_string();
    let login = async || {
        app.post("/v1/auth/login")
            .header("idempotency-key", &key)
            .raw("application/json", body.clone())
            .send()
            .await
    };
    let first = login().await;
    first.expect(200);
    let again = login().await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body["token"], first.body["token"]);

    let item = app.raw_item("PUBLIC#IDEMPOTENCY", &key).await.unwrap();
    let text = |name: &str| item[name].as_s().unwrap().clone();
    let token = first.body["token"].as_str().unwrap();
    assert!(!format!("{item:?}").contains(token));
    let material = format!("POST /v1/auth/login?\n{body}");
    assert_ne!(text("fingerprint"), switchboard_core::secret::sha256_hex(&material));
    assert_eq!(text("fingerprint"), app.fingerprints.of(&material));
    let from_the_key_alone = SecretBox::derive_for(format!("\n{key}").as_bytes(), b"switchboard idempotent answers v1");
    assert!(from_the_key_alone.open(&text("response")).is_err());
}

/// Every idempotency record of the workspace, as stored.
async fn records(app: &TestApp, workspace_id: &str) -> Vec<String> {
    let page = app
        .store
        .client()
        .query()
        .table_name(app.store.table())
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("{workspace_id}#IDEMPOTENCY")),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    page.items().iter().map(|item| format!("{item:?}")).collect()
}

#[tokio::test]
async fn a_key_is_its_credentials_alone_and_its_answer_is_stored_sealed() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let mint = json!({"name": "ci", "scope": "write"});
    let first = app
        .post("/v1/api-keys")
        .bearer(&t.token)
        .header("idempotency-key", "mint-ci")
        .json(mint.clone())
        .send()
        .await;
    first.expect(201);
    let minted = first.body["secret"].as_str().unwrap().to_owned();
    let webhook = app
        .post("/v1/webhooks")
        .bearer(&t.key)
        .header("idempotency-key", "hook")
        .json(json!({"url": "http://127.0.0.1:9/in", "events": ["call.ended"]}))
        .send()
        .await;
    webhook.expect(201);
    let signing = webhook.body["secret"].as_str().unwrap().to_owned();

    // Another session of the same person sends the same key: refused, and shown nothing of the
    // first answer.
    let second_session = app.login(&t.email, &t.password).await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = app
        .post("/v1/api-keys")
        .bearer(&second_session)
        .header("idempotency-key", "mint-ci")
        .json(mint.clone())
        .send()
        .await;
    other.expect_error(409, "idempotency_key_in_use");
    assert!(!other.text.contains(&minted), "{}", other.text);

    // Its own credential replays it.
    let again = app
        .post("/v1/api-keys")
        .bearer(&t.token)
        .header("idempotency-key", "mint-ci")
        .json(mint)
        .send()
        .await;
    again.expect(201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body["secret"].as_str(), Some(minted.as_str()));

    let stored = records(&app, &t.workspace_id).await;
    assert_eq!(stored.len(), 2);
    for record in stored {
        for secret in [&minted, &signing] {
            assert!(!record.contains(secret.as_str()), "a secret in the clear: {record}");
        }
        assert!(!record.contains("sb_live_") && !record.contains("whsec_"), "{record}");
    }
}

#[tokio::test]
async fn an_audio_answer_is_spoken_again_rather_than_replayed_from_a_record() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let agent = app
        .create(
            &t,
            "/v1/agents",
            json!({"name": "Amelia", "system_prompt": "p", "voice": "amelia"}),
        )
        .await;
    let speak = || {
        app.post(&format!("/v1/agents/{agent}/preview"))
            .bearer(&t.key)
            .header("idempotency-key", "audio-1")
            .json(json!({"text": "Hello there"}))
            .send()
    };
    for _ in 0..2 {
        let res = speak().await;
        res.expect(200);
        assert!(res.header("idempotent-replayed").is_none(), "made again, not replayed");
        assert_eq!(res.header("content-type"), Some("audio/wav"));
        hound::WavReader::new(res.bytes.as_slice()).expect("the audio, intact");
    }
}
