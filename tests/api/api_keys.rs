//! API keys: minted once, listed without secrets, capped at ten active, revoked, deleted.

use serde_json::json;
use switchboard_tests::{Tenant, TestApp};

async fn mint(app: &TestApp, t: &Tenant, name: &str) -> switchboard_tests::Res {
    app.post("/v1/api-keys")
        .bearer(&t.token)
        .json(json!({"name": name, "scope": "read"}))
        .send()
        .await
}

#[tokio::test]
async fn a_new_key_shows_its_secret_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let res = app
        .post("/v1/api-keys")
        .bearer(&t.token)
        .json(json!({"name": "CRM sync"}))
        .send()
        .await;
    res.expect(201);
    let secret = res.body["secret"].as_str().unwrap();
    assert!(secret.starts_with("sb_live_") && secret.len() == 40);
    assert_eq!(res.body["prefix"], secret[..14]);
    assert_eq!(
        (
            res.body["scope"].as_str(),
            res.body["status"].as_str(),
            res.body["object"].as_str()
        ),
        (Some("admin"), Some("active"), Some("api_key"))
    );
    assert_eq!(res.body["created_by_user_id"], t.user_id.as_str());

    let list = app.get("/v1/api-keys").bearer(&t.token).send().await;
    list.expect(200);
    assert!(!list.text.contains(secret), "the secret is never listed");
    assert!(
        list.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("secret").is_none())
    );
    let items = app.snapshot(&t.workspace_id).await;
    assert!(
        items.values().all(|v| !v.contains(secret)),
        "only a hash of the secret is stored"
    );
}

#[tokio::test]
async fn listing_shows_when_and_where_a_key_was_last_used() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    app.clock.advance(chrono::Duration::minutes(3));
    app.get("/v1/agents").bearer(&t.key).send().await.expect(200);
    let list = app.get("/v1/api-keys").bearer(&t.token).send().await;
    let key = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == t.key_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(key["last_used_ip"], app.ip.as_str());
    let used: chrono::DateTime<chrono::Utc> = key["last_used_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(used.timestamp(), app.clock.now().timestamp());
}

#[tokio::test]
async fn expiry_is_checked() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let in_a_year = (app.clock.now() + chrono::Duration::days(365)).to_rfc3339();
    let cases = [
        (json!({"name": "x", "expires_in_days": 0}), "expires_in_days"),
        (json!({"name": "x", "expires_in_days": 3651}), "expires_in_days"),
        (json!({"name": "x", "expires_at": "2020-01-01T00:00:00Z"}), "expires_at"),
        (
            json!({"name": "x", "expires_in_days": 5, "expires_at": in_a_year}),
            "expires_at",
        ),
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(121)}), "name"),
    ];
    for (body, param) in cases {
        let res = app.post("/v1/api-keys").bearer(&t.token).json(body).send().await;
        res.expect_error(422, "validation_failed");
        assert_eq!(res.param(), param);
    }
    let res = app
        .post("/v1/api-keys")
        .bearer(&t.token)
        .json(json!({"name": "x", "expires_at": in_a_year}))
        .send()
        .await;
    res.expect(201);
    app.post("/v1/api-keys")
        .bearer(&t.token)
        .json(json!({"name": "x", "scope": "root"}))
        .send()
        .await
        .expect_error(400, "invalid_type");
}

#[tokio::test]
async fn a_workspace_holds_at_most_ten_active_keys() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let mut ids = Vec::new();
    for i in 1..10 {
        ids.push(mint(&app, &t, &format!("k{i}")).await.expect(201).id().to_owned());
    }
    mint(&app, &t, "eleven").await.expect_error(422, "limit_reached");
    app.post(&format!("/v1/api-keys/{}/revoke", ids[0]))
        .bearer(&t.token)
        .send()
        .await
        .expect(200);
    mint(&app, &t, "again").await.expect(201);
    mint(&app, &t, "over").await.expect_error(422, "limit_reached");
}

#[tokio::test]
async fn expired_keys_stop_counting_against_the_cap() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    for i in 1..9 {
        mint(&app, &t, &format!("k{i}")).await.expect(201);
    }
    app.post("/v1/api-keys")
        .bearer(&t.token)
        .json(json!({"name": "short", "expires_in_days": 1}))
        .send()
        .await
        .expect(201);
    mint(&app, &t, "over").await.expect_error(422, "limit_reached");
    app.clock.advance(chrono::Duration::days(2));
    mint(&app, &t, "fits").await.expect(201);
    let list = app.get("/v1/api-keys").bearer(&t.token).send().await;
    let short = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "short")
        .unwrap()
        .clone();
    assert_eq!(
        (short["status"].as_str(), short["revoked_reason"].as_str()),
        (Some("revoked"), Some("expired"))
    );
}

#[tokio::test]
async fn two_keys_racing_for_the_last_slot_leave_one_out() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    for i in 1..9 {
        mint(&app, &t, &format!("k{i}")).await.expect(201);
    }
    let results = futures::future::join_all((0..2).map(|i| mint(&app, &t, if i == 0 { "a" } else { "b" }))).await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 422]);
}

#[tokio::test]
async fn revoking_is_idempotent_and_frees_one_slot_only() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let mut ids = Vec::new();
    for i in 1..10 {
        ids.push(mint(&app, &t, &format!("k{i}")).await.id().to_owned());
    }
    let path = format!("/v1/api-keys/{}/revoke", ids[0]);
    let results = futures::future::join_all((0..3).map(|_| {
        app.post(&path)
            .bearer(&t.token)
            .json(json!({"reason": "rotated"}))
            .send()
    }))
    .await;
    for r in &results {
        r.expect(200);
        assert_eq!(
            (r.body["status"].as_str(), r.body["revoked_reason"].as_str()),
            (Some("revoked"), Some("rotated"))
        );
    }
    assert_eq!(results[0].body["revoked_at"], results[2].body["revoked_at"]);
    mint(&app, &t, "fits").await.expect(201);
    mint(&app, &t, "over").await.expect_error(422, "limit_reached");
}

#[tokio::test]
async fn revoke_reasons_are_short() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let res = app
        .post(&format!("/v1/api-keys/{}/revoke", t.key_id))
        .bearer(&t.token)
        .json(json!({"reason": "x".repeat(81)}))
        .send()
        .await;
    res.expect_error(422, "validation_failed");
    app.get("/v1/agents").bearer(&t.key).send().await.expect(200);
}

#[tokio::test]
async fn only_revoked_keys_can_be_deleted() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let path = format!("/v1/api-keys/{}", t.key_id);
    app.delete(&path)
        .bearer(&t.token)
        .send()
        .await
        .expect_error(409, "key_still_active");
    app.get("/v1/agents").bearer(&t.key).send().await.expect(200);
    app.post(&format!("{path}/revoke"))
        .bearer(&t.token)
        .send()
        .await
        .expect(200);
    let res = app.delete(&path).bearer(&t.token).send().await;
    res.expect(200);
    assert_eq!(res.body, json!({"id": t.key_id, "object": "api_key", "deleted": true}));
    app.delete(&path)
        .bearer(&t.token)
        .send()
        .await
        .expect_error(404, "api_key_not_found");
    app.post(&format!("{path}/revoke"))
        .bearer(&t.token)
        .send()
        .await
        .expect_error(404, "api_key_not_found");
    app.get("/v1/agents")
        .bearer(&t.key)
        .send()
        .await
        .expect_error(401, "invalid_credential");
}

#[tokio::test]
async fn concurrent_deletes_of_a_key_delete_it_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let id = mint(&app, &t, "doomed").await.id().to_owned();
    app.post(&format!("/v1/api-keys/{id}/revoke"))
        .bearer(&t.token)
        .send()
        .await
        .expect(200);
    let results =
        futures::future::join_all((0..4).map(|_| app.delete(&format!("/v1/api-keys/{id}")).bearer(&t.token).send()))
            .await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 404, 404, 404]);
}
