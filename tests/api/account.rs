//! A person's own account: forgotten and changed passwords, and their sessions.

use serde_json::json;
use switchboard_tests::TestApp;

/// The token of the newest mail of `kind` to `email`.
async fn mailed_token(app: &TestApp, email: &str, kind: &str) -> Option<String> {
    app.mails()
        .await
        .into_iter()
        .rfind(|m| m.to == email && m.kind == kind)
        .and_then(|m| {
            let (_, rest) = m.text.split_once("\"token\": \"")?;
            Some(rest.split('"').next()?.to_owned())
        })
}

#[tokio::test]
async fn a_reset_token_works_once_within_the_hour_and_ends_every_session() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let forgot = |email: String| {
        app.post("/v1/auth/forgot-password")
            .json(json!({"email": email}))
            .send()
    };
    forgot(t.email.clone()).await.expect(200);
    let token = mailed_token(&app, &t.email, "password_reset")
        .await
        .expect("a reset mail");
    // Nobody's email: the same answer, and no mail.
    forgot("nobody@example.com".into()).await.expect(200);
    assert!(
        mailed_token(&app, "nobody@example.com", "password_reset")
            .await
            .is_none()
    );

    let reset = |token: String| {
        app.post("/v1/auth/reset-password")
            .json(json!({"token": token, "password": "a brand new password"}))
            .send()
    };
    reset(token.clone()).await.expect(200);
    app.get("/v1/agents")
        .bearer(&t.token)
        .send()
        .await
        .expect_error(401, "invalid_credential");
    app.post("/v1/auth/login")
        .json(json!({"email": t.email, "password": t.password}))
        .send()
        .await
        .expect_error(401, "invalid_login");
    app.login(&t.email, "a brand new password").await;
    reset(token).await.expect_error(400, "invalid_token");
    let changed = app.mails().await;
    assert!(changed.iter().any(|m| m.to == t.email && m.kind == "password_changed"));

    // A second request within the minute sends nothing; after it, a token that expires.
    forgot(t.email.clone()).await.expect(200);
    assert!(mailed_token(&app, &t.email, "password_reset").await.is_none());
    app.advance(chrono::Duration::seconds(61)).await;
    forgot(t.email.clone()).await.expect(200);
    let late = mailed_token(&app, &t.email, "password_reset")
        .await
        .expect("a second reset mail");
    app.advance(chrono::Duration::minutes(61)).await;
    reset(late).await.expect_error(400, "invalid_token");
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let other = app.login(&t.email, &t.password).await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let change = |current: &str| {
        app.post("/v1/auth/change-password")
            .bearer(&t.token)
            .json(json!({"current_password": current, "new_password": "another long password"}))
            .send()
    };
    let wrong = change("not my password").await;
    wrong.expect_error(422, "validation_failed");
    assert_eq!(wrong.param(), "current_password");
    app.get("/v1/agents").bearer(&other).send().await.expect(200);
    change(&t.password).await.expect(200);
    app.get("/v1/agents")
        .bearer(&other)
        .send()
        .await
        .expect_error(401, "invalid_credential");
    app.get("/v1/agents").bearer(&t.token).send().await.expect(200);
    app.login(&t.email, "another long password").await;
}

#[tokio::test]
async fn people_see_and_end_their_own_sessions_only() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let second = app.login(&t.email, &t.password).await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let third = app.login(&t.email, &t.password).await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = app.get("/v1/auth/sessions").bearer(&t.token).send().await;
    listed.expect(200);
    let sessions = listed.body["data"].as_array().unwrap();
    assert_eq!(sessions.len(), 3, "{}", listed.text);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let second_id = sessions
        .iter()
        .find(|s| s["current"] == false)
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .unwrap();

    // Another member's sessions are not theirs to see or end.
    let member = app.invite_member(&t, "admin").await;
    let theirs = app.get("/v1/auth/sessions").bearer(&member.token).send().await;
    assert_eq!(theirs.body["data"].as_array().unwrap().len(), 1);
    app.delete(&format!("/v1/auth/sessions/{second_id}"))
        .bearer(&member.token)
        .send()
        .await
        .expect_error(404, "session_not_found");

    app.delete(&format!("/v1/auth/sessions/{second_id}"))
        .bearer(&t.token)
        .send()
        .await
        .expect(200);
    app.post("/v1/auth/sessions/revoke-others")
        .bearer(&t.token)
        .send()
        .await
        .expect(200);
    for token in [&second, &third] {
        app.get("/v1/agents")
            .bearer(token)
            .send()
            .await
            .expect_error(401, "invalid_credential");
    }
    app.get("/v1/agents").bearer(&t.token).send().await.expect(200);
    app.get("/v1/agents").bearer(&member.token).send().await.expect(200);
}
