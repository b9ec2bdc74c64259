//! Who may call: API keys and sessions, scopes, revocation and expiry, and the cost of
//! checking them (one DynamoDB round trip with the rate limit and last-used tracking).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use switchboard_core::model::Role;
use switchboard_http::jwt::SessionClaims;
use switchboard_tests::TestApp;

#[tokio::test]
async fn auth_rate_limit_and_last_use_cost_one_round_trip() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let id = app
        .create(&t, "/v1/agents", json!({"name": "a", "system_prompt": "p"}))
        .await;
    let agent = format!("/v1/agents/{id}");

    // A credential's first read takes a lease of the workspace's read tokens: the failed
    // spend, the workspace's bucket (twice: its item is new), the credential.
    app.ops.take();
    app.get(&agent).bearer(&t.key).send().await.expect(200);
    let first = app.ops.take();
    assert_eq!(first.last().map(String::as_str), Some("GetItem"));
    assert!(first.len() <= 5, "{first:?}");

    app.get(&agent).bearer(&t.key).send().await.expect(200);
    assert_eq!(
        app.ops.take(),
        ["UpdateItem", "GetItem"],
        "API key in use: one UpdateItem, then the handler's read"
    );

    app.get("/v1/agents").bearer(&t.token).send().await.expect(200);
    app.ops.take();
    app.get("/v1/agents").bearer(&t.token).send().await.expect(200);
    assert_eq!(
        app.ops.take(),
        ["UpdateItem", "Query"],
        "session in use: one UpdateItem, then the handler's query"
    );

    app.get("/v1/agents")
        .bearer("sb_live_unknownunknownunknownunknown12")
        .send()
        .await
        .expect(401);
    assert_eq!(
        app.ops.take(),
        ["UpdateItem"],
        "a refused credential costs the same single call"
    );
}

#[tokio::test]
async fn credential_items_stay_within_one_write_unit() {
    let app = TestApp::unlimited().await;
    let t = app.tenant().await;
    for _ in 0..50 {
        app.get("/v1/agents").bearer(&t.key).send().await.expect(200);
        app.get("/v1/agents").bearer(&t.token).send().await.expect(200);
    }
    for item in app.credential_items(&t.workspace_id).await {
        let size = switchboard_tests::item_size(&item);
        assert!(size < 1024, "{size} bytes: {item:?}");
    }
}

/// Authentication and rate limiting take one UpdateItem per request, also for a credential
/// used well under its limit, whose bucket is full again at each request: the instance writes
/// against the item it last saw, and the lease from the workspace's budget grows with use.
#[tokio::test]
async fn a_credential_used_under_its_limit_costs_one_update_per_request() {
    let app = TestApp::unlimited().await;
    let t = app.tenant().await;
    let mut keys = vec![t.key.clone()];
    for _ in 0..3 {
        keys.push(app.key(&t, "read").await);
    }
    for key in &keys {
        app.get("/v1/agents").bearer(key).send().await.expect(200);
    }
    app.ops.take();
    let requests = 400;
    for i in 0..requests {
        // Each key every 400 ms: a fifth of its 1,000 reads a minute.
        app.clock.advance(chrono::Duration::milliseconds(100));
        app.get("/v1/agents")
            .bearer(&keys[i % keys.len()])
            .send()
            .await
            .expect(200);
    }
    let updates = app.ops.take().iter().filter(|op| *op == "UpdateItem").count();
    assert!(
        updates <= requests * 11 / 10,
        "{updates} UpdateItems for {requests} requests"
    );
}

#[tokio::test]
async fn requests_without_a_valid_credential_are_refused() {
    let app = TestApp::spawn().await;
    app.get("/v1/agents")
        .send()
        .await
        .expect_error(401, "missing_credential");
    app.get("/v1/agents")
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .expect_error(401, "invalid_credential");
    app.get("/v1/agents")
        .header("authorization", "Bearer")
        .send()
        .await
        .expect_error(401, "invalid_credential");
    app.get("/v1/agents")
        .bearer("sb_live_notakeynotakeynotakeynotakey1234")
        .send()
        .await
        .expect_error(401, "invalid_credential");
    app.get("/v1/agents")
        .bearer("eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl")
        .send()
        .await
        .expect_error(401, "invalid_credential");
}

#[tokio::test]
async fn a_revoked_key_is_refused_on_the_very_next_request() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let res = app
        .post("/v1/api-keys")
        .bearer(&t.token)
        .json(json!({"name": "to revoke", "scope": "write"}))
        .send()
        .await;
    let (key, key_id) = (res.body["secret"].as_str().unwrap().to_owned(), res.id().to_owned());
    app.get("/v1/agents").bearer(&key).send().await.expect(200);
    app.post(&format!("/v1/api-keys/{key_id}/revoke"))
        .bearer(&t.token)
        .send()
        .await
        .expect(200);
    app.get("/v1/agents")
        .bearer(&key)
        .send()
        .await
        .expect_error(401, "credential_revoked");
    app.get("/v1/agents").bearer(&t.key).send().await.expect(200);
}

#[tokio::test]
async fn keys_stop_working_when_they_expire() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let res = app
        .post("/v1/api-keys")
        .bearer(&t.token)
        .json(json!({"name": "short", "scope": "read", "expires_in_days": 1}))
        .send()
        .await;
    let key = res.body["secret"].as_str().unwrap().to_owned();
    app.get("/v1/agents").bearer(&key).send().await.expect(200);
    app.clock.advance(chrono::Duration::hours(25));
    app.get("/v1/agents")
        .bearer(&key)
        .send()
        .await
        .expect_error(401, "credential_expired");
    let listed = app.get("/v1/api-keys").bearer(&t.token).send().await;
    let short = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "short")
        .unwrap()
        .clone();
    assert_eq!(short["status"], "expired");
}

#[tokio::test]
async fn scopes_limit_what_a_key_may_do() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (read, write) = (app.key(&t, "read").await, app.key(&t, "write").await);
    let body = json!({"name": "a", "system_prompt": "p"});
    app.get("/v1/agents").bearer(&read).send().await.expect(200);
    app.post("/v1/agents")
        .bearer(&read)
        .json(body.clone())
        .send()
        .await
        .expect_error(403, "insufficient_scope");
    let id = app
        .post("/v1/agents")
        .bearer(&write)
        .json(body)
        .send()
        .await
        .expect(201)
        .id()
        .to_owned();
    app.patch(&format!("/v1/agents/{id}"))
        .bearer(&write)
        .json(json!({"name": "b"}))
        .send()
        .await
        .expect(200);
    app.delete(&format!("/v1/agents/{id}"))
        .bearer(&write)
        .send()
        .await
        .expect_error(403, "insufficient_scope");
    app.delete(&format!("/v1/agents/{id}"))
        .bearer(&t.key)
        .send()
        .await
        .expect(200);
}

#[tokio::test]
async fn keys_cannot_manage_keys_or_act_as_users() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    app.get("/v1/api-keys")
        .bearer(&t.key)
        .send()
        .await
        .expect_error(403, "session_required");
    app.post("/v1/api-keys")
        .bearer(&t.key)
        .json(json!({"name": "x"}))
        .send()
        .await
        .expect_error(403, "session_required");
    app.post(&format!("/v1/api-keys/{}/revoke", t.key_id))
        .bearer(&t.key)
        .send()
        .await
        .expect_error(403, "session_required");
    app.get("/v1/auth/me")
        .bearer(&t.key)
        .send()
        .await
        .expect_error(403, "session_required");
}

#[tokio::test]
async fn sessions_work_by_bearer_token_and_by_cookie() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    app.get("/v1/agents").bearer(&t.token).send().await.expect(200);
    let me = app
        .get("/v1/auth/me")
        .header("cookie", &format!("theme=dark; sb_session={}", t.token))
        .send()
        .await;
    me.expect(200);
    assert_eq!(me.body["user"]["email"], t.email.as_str());
}

#[tokio::test]
async fn logout_ends_the_session_at_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let other = app.login(&t.email, &t.password).await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app.post("/v1/auth/logout").bearer(&t.token).send().await;
    res.expect(204);
    assert!(res.header("set-cookie").unwrap().starts_with("sb_session=;"));
    app.get("/v1/auth/me")
        .bearer(&t.token)
        .send()
        .await
        .expect_error(401, "invalid_credential");
    app.get("/v1/auth/me").bearer(&other).send().await.expect(200);
}

#[tokio::test]
async fn sessions_expire_after_seven_days() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    app.clock
        .advance(chrono::Duration::days(7) - chrono::Duration::minutes(1));
    app.get("/v1/auth/me").bearer(&t.token).send().await.expect(200);
    app.clock.advance(chrono::Duration::minutes(2));
    app.get("/v1/auth/me")
        .bearer(&t.token)
        .send()
        .await
        .expect_error(401, "credential_expired");
}

fn claims_of(token: &str) -> SessionClaims {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn tokens_signed_otherwise_are_refused() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let claims = claims_of(&t.token);
    assert_eq!(
        (claims.sub.as_str(), claims.tid.as_str(), claims.role.clone()),
        (t.user_id.as_str(), t.workspace_id.as_str(), Role::Owner)
    );
    assert_eq!(claims.exp - claims.iat, 7 * 24 * 3600);
    let body = t.token.split('.').nth(1).unwrap();
    for header in [r#"{"alg":"none","typ":"JWT"}"#, r#"{"alg":"HS512","typ":"JWT"}"#] {
        let forged = format!("{}.{body}.", URL_SAFE_NO_PAD.encode(header));
        app.get("/v1/auth/me")
            .bearer(&forged)
            .send()
            .await
            .expect_error(401, "invalid_credential");
    }
    let mut raised = claims.clone();
    raised.role = Role::Owner;
    raised.tid = app.tenant().await.workspace_id;
    let forged = format!(
        "{}.{}.{}",
        t.token.split('.').next().unwrap(),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&raised).unwrap()),
        t.token.split('.').nth(2).unwrap()
    );
    app.get("/v1/auth/me")
        .bearer(&forged)
        .send()
        .await
        .expect_error(401, "invalid_credential");
}

#[tokio::test]
async fn a_members_session_cannot_delete_or_mint_admin_keys() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let member = app.invite_member(&t, "member").await.token;
    let id = app
        .create(&t, "/v1/agents", json!({"name": "a", "system_prompt": "p"}))
        .await;
    app.patch(&format!("/v1/agents/{id}"))
        .bearer(&member)
        .json(json!({"name": "b"}))
        .send()
        .await
        .expect(200);
    app.delete(&format!("/v1/agents/{id}"))
        .bearer(&member)
        .send()
        .await
        .expect_error(403, "permission_denied");
    let res = app
        .post("/v1/api-keys")
        .bearer(&member)
        .json(json!({"name": "x", "scope": "admin"}))
        .send()
        .await;
    res.expect_error(403, "insufficient_scope");
    assert_eq!(res.param(), "scope");
    app.post("/v1/api-keys")
        .bearer(&member)
        .json(json!({"name": "x", "scope": "write"}))
        .send()
        .await
        .expect(201);
    app.post(&format!("/v1/api-keys/{}/revoke", t.key_id))
        .bearer(&member)
        .send()
        .await
        .expect_error(403, "permission_denied");
}

#[tokio::test]
async fn the_signing_key_is_read_from_secrets_manager_at_cold_start() {
    let sdk = &switchboard_tests::sdk().await;
    let secrets = aws_sdk_secretsmanager_client(sdk);
    let name = format!("test-jwt-{}", switchboard_tests::random_suffix());
    secrets
        .create_secret()
        .name(&name)
        .secret_string("k".repeat(64))
        .send()
        .await
        .unwrap();
    let config = switchboard_runtime::config::HttpConfig {
        table_name: switchboard_tests::table_name(),
        jwt_secret_id: name.clone(),
        pseudonym_key_secret_id: Some(name),
        mode: switchboard_core::config::DeploymentMode::Local,
        public_rate_limit: 20,
        rate_limit_scale: 1,
    };
    let (_, _, platform) = switchboard_runtime::http_platform(&config)
        .await
        .expect("the cold-start path reads the secret");
    let other = switchboard_http::jwt::JwtKeys::new("k".repeat(64).as_bytes());
    let now = chrono::Utc::now();
    let claims = SessionClaims {
        sub: "usr".into(),
        tid: "ws".into(),
        role: Role::Owner,
        email: "e".into(),
        iat: now.timestamp(),
        exp: now.timestamp() + 60,
        jti: "ses".into(),
    };
    assert_eq!(platform.jwt.verify(&other.issue(&claims).unwrap(), now), Some(claims));

    let missing = switchboard_runtime::config::HttpConfig {
        jwt_secret_id: "no-such-secret".into(),
        ..config
    };
    assert!(
        switchboard_runtime::http_platform(&missing).await.is_err(),
        "a missing secret fails the cold start"
    );
}

fn aws_sdk_secretsmanager_client(sdk: &aws_types::SdkConfig) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(sdk)
}
