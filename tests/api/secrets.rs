//! Secrets: named, write-only values, sealed under a key of the workspace's own, never shown
//! again (nor found anywhere in the table in the clear), replaced by name, limited, and only
//! for admins to set.

use serde_json::{Value, json};
use switchboard_core::model::StoredSecret;
use switchboard_core::ports::Repository;
use switchboard_tests::{Tenant, TestApp};

async fn set(app: &TestApp, t: &Tenant, name: &str, value: &str) -> switchboard_tests::Res {
    app.post("/v1/secrets")
        .bearer(&t.key)
        .json(json!({"name": name, "value": value}))
        .send()
        .await
}

#[tokio::test]
async fn a_secret_is_kept_sealed_and_never_shown_again() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let value = format!("crm-live-{}", rand::random::<u64>());
    let created = set(&app, &t, "CRM_API_KEY", &value).await;
    created.expect(201);
    assert_eq!(created.body["object"], "secret");
    assert_eq!(created.body["name"], "CRM_API_KEY");
    assert!(created.body["last_used_at"].is_null());
    let id = created.id().to_owned();
    assert!(id.starts_with("sec_"));

    // Setting the name again replaces the value and keeps the id.
    app.clock.advance(chrono::Duration::seconds(5));
    let rotated = format!("crm-live-{}", rand::random::<u64>());
    let replaced = set(&app, &t, "CRM_API_KEY", &rotated).await;
    replaced.expect(200);
    assert_eq!(replaced.id(), id);
    assert_ne!(replaced.body["updated_at"], created.body["created_at"]);

    let listed = app.get("/v1/secrets").bearer(&t.key).send().await;
    listed.expect(200);
    let names: Vec<&Value> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["name"])
        .collect();
    assert_eq!(names, [&json!("CRM_API_KEY")]);
    let audit = app.get("/v1/audit").bearer(&t.key).send().await;
    for text in [&created.text, &replaced.text, &listed.text, &audit.text] {
        assert!(!text.contains(&value) && !text.contains(&rotated), "{text}");
    }
    // Nowhere in the table in the clear; sealed under this workspace's key only.
    for item in app.snapshot(&t.workspace_id).await.values() {
        assert!(!item.contains(&value) && !item.contains(&rotated), "{item}");
    }
    let stored: &dyn Repository<StoredSecret> = &app.store;
    let sealed = stored.get(&t.workspace_id, &id).await.unwrap().unwrap().value.sealed;
    assert_eq!(app.keys.of(&t.workspace_id).open(&sealed).unwrap(), rotated);
    let other = app.tenant().await;
    assert!(app.keys.of(&other.workspace_id).open(&sealed).is_err());

    let deleted = app.delete(&format!("/v1/secrets/{id}")).bearer(&t.key).send().await;
    deleted.expect(200);
    assert_eq!(deleted.body["deleted"], true);
    let again = app.delete(&format!("/v1/secrets/{id}")).bearer(&t.key).send().await;
    assert_eq!(
        (again.status, again.body["error"]["code"].as_str()),
        (404, Some("secret_not_found"))
    );
    // The name is free again.
    set(&app, &t, "CRM_API_KEY", "v3").await.expect(201);
}

#[tokio::test]
async fn bad_names_and_values_are_refused_and_write_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let before = app.snapshot(&t.workspace_id).await;
    let long = "x".repeat(4097);
    for (name, value, param) in [
        ("", "v", "name"),
        ("1ST", "v", "name"),
        ("HAS-DASH", "v", "name"),
        ("ÜBER", "v", "name"),
        (&"N".repeat(65), "v", "name"),
        ("OK", "", "value"),
        ("OK", long.as_str(), "value"),
    ] {
        let res = set(&app, &t, name, value).await;
        assert_eq!(res.status, 422, "{name}: {}", res.text);
        assert_eq!(res.body["error"]["param"], param, "{}", res.text);
    }
    for body in [
        json!({"name": "OK"}),
        json!({"name": "OK", "value": "v", "extra": 1}),
        json!({"name": "OK", "value": 7}),
    ] {
        let res = app.post("/v1/secrets").bearer(&t.key).json(body.clone()).send().await;
        assert_eq!(res.status, 400, "{body}: {}", res.text);
    }
    assert_eq!(app.snapshot(&t.workspace_id).await, before);
}

#[tokio::test]
async fn only_admins_list_set_or_delete_secrets_and_a_workspace_holds_at_most_a_hundred() {
    let app = TestApp::unlimited().await;
    let t = app.tenant().await;
    let reader = app
        .post("/v1/api-keys")
        .bearer(&t.token)
        .json(json!({"name": "ci", "scope": "write"}))
        .send()
        .await;
    reader.expect(201);
    let key = reader.body["secret"].as_str().unwrap();
    let res = app
        .post("/v1/secrets")
        .bearer(key)
        .json(json!({"name": "X", "value": "v"}))
        .send()
        .await;
    assert_eq!(res.status, 403, "{}", res.text);
    // Even the names are the admins' to see.
    app.get("/v1/secrets")
        .bearer(key)
        .send()
        .await
        .expect_error(403, "insufficient_scope");

    for i in 0..100 {
        set(&app, &t, &format!("S{i}"), "v").await.expect(201);
    }
    let over = set(&app, &t, "S100", "v").await;
    assert_eq!(
        (over.status, over.body["error"]["code"].as_str()),
        (422, Some("limit_reached"))
    );
    // Replacing one is not holding another.
    set(&app, &t, "S7", "w").await.expect(200);
}
