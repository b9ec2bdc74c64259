//! The do-not-call list and imported registries: adding (idempotent), removing, checking,
//! importing JSON and CSV, and what placing a call makes of them.

use serde_json::json;
use switchboard_core::ports::DncStore;
use switchboard_tests::{Res, Tenant, TestApp, phone_ending, unique_phone};

async fn add(app: &TestApp, t: &Tenant, body: serde_json::Value) -> Res {
    app.post("/v1/dnc").bearer(&t.key).json(body).send().await
}

async fn check(app: &TestApp, t: &Tenant, phone: &str) -> Res {
    let res = app
        .get(&format!("/v1/dnc/check?phone_e164={}", phone.replace('+', "%2B")))
        .bearer(&t.key)
        .send()
        .await;
    res.expect(200);
    res
}

#[tokio::test]
async fn a_number_is_added_once_refreshed_checked_and_removed() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let phone = unique_phone();
    let national = format!("({}) {}-{}", &phone[2..5], &phone[5..8], &phone[8..]);
    let first = add(&app, &t, json!({"phone_e164": national, "reason": "asked"})).await;
    first.expect(201);
    assert_eq!(
        (
            first.body["phone_e164"].as_str(),
            first.body["list"].as_str(),
            first.body["source"].as_str()
        ),
        (Some(phone.as_str()), Some("dnc"), Some("api"))
    );
    app.clock.advance(chrono::Duration::minutes(5));
    let again = add(&app, &t, json!({"phone_e164": phone, "reason": "asked twice"})).await;
    again.expect(200);
    assert_eq!(again.body["reason"], "asked twice");
    assert_ne!(again.body["added_at"], first.body["added_at"], "the time is refreshed");

    let checked = check(&app, &t, &phone).await;
    assert_eq!(
        (
            checked.body["on_dnc"].as_bool(),
            checked.body["on_registry"].as_bool(),
            checked.body["would_be_filtered"].as_bool()
        ),
        (Some(true), Some(false), Some(true))
    );
    let listed = app.get("/v1/dnc").bearer(&t.key).send().await;
    assert_eq!(listed.body["data"][0]["phone_e164"], phone.as_str());

    app.delete(&format!("/v1/dnc/{phone}"))
        .bearer(&t.key)
        .send()
        .await
        .expect(200);
    app.delete(&format!("/v1/dnc/{phone}"))
        .bearer(&t.key)
        .send()
        .await
        .expect_error(404, "dnc_entry_not_found");
    assert_eq!(check(&app, &t, &phone).await.body["would_be_filtered"], false);
}

#[tokio::test]
async fn registry_numbers_and_cool_downs_are_filtered_too() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let registered = unique_phone();
    add(&app, &t, json!({"phone_e164": registered, "list": "registry"}))
        .await
        .expect(201);
    let checked = check(&app, &t, &registered).await;
    assert_eq!(
        (checked.body["on_dnc"].as_bool(), checked.body["on_registry"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(
        app.get("/v1/dnc").bearer(&t.key).send().await.body["data"],
        json!([]),
        "the registry is its own list"
    );
    let registry = app.get("/v1/dnc?list=registry").bearer(&t.key).send().await;
    assert_eq!(registry.body["data"][0]["phone_e164"], registered.as_str());

    let (agent, number, _) = app.phone_line(&t).await;
    let res = app
        .post("/v1/calls")
        .bearer(&t.key)
        .json(json!({"agent_id": agent, "phone_number_id": number, "to": registered}))
        .send()
        .await;
    assert_eq!((res.status, res.code(), res.param()), (403, "number_on_dnc", "to"));

    let cooled = unique_phone();
    app.store
        .start_cooldown(
            &t.workspace_id,
            &cooled,
            "cmp_01JD3QZ9R6X4Y7T2W8V5N1M0KA",
            app.clock.now(),
        )
        .await
        .unwrap();
    let checked = check(&app, &t, &cooled).await;
    assert_eq!(
        (
            checked.body["in_cooldown"].as_bool(),
            checked.body["would_be_filtered"].as_bool()
        ),
        (Some(true), Some(true))
    );
    let call = |to: String| {
        app.post("/v1/calls")
            .bearer(&t.key)
            .json(json!({"agent_id": agent, "phone_number_id": number, "to": to}))
            .send()
    };
    let res = call(cooled.clone()).await;
    assert_eq!((res.status, res.code(), res.param()), (403, "number_in_cooldown", "to"));
    assert_eq!(app.get("/v1/calls").bearer(&t.key).send().await.body["data"], json!([]));
    app.clock
        .advance(chrono::Duration::days(7) + chrono::Duration::seconds(1));
    assert_eq!(
        check(&app, &t, &cooled).await.body["in_cooldown"],
        false,
        "seven days later"
    );
    call(cooled).await.expect(201);
}

#[tokio::test]
async fn imports_count_what_they_add_skip_and_refuse() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (a, b, c) = (unique_phone(), unique_phone(), unique_phone());
    add(&app, &t, json!({"phone_e164": a})).await.expect(201);
    let res = app
        .post("/v1/dnc/import")
        .bearer(&t.key)
        .json(json!({"phones": [a, b, b.clone(), "12", "not a number"], "reason": "bulk"}))
        .send()
        .await;
    res.expect(200);
    assert_eq!(
        (
            res.body["added"].as_u64(),
            res.body["skipped_existing"].as_u64(),
            res.body["skipped_invalid"].as_u64()
        ),
        (Some(1), Some(2), Some(2))
    );
    let csv = format!("Phone,Reason\n{c},from the CSV\n{a},again\nnope,\n");
    let res = app
        .post("/v1/dnc/import?list=registry")
        .bearer(&t.key)
        .raw("text/csv", csv.clone())
        .send()
        .await;
    res.expect(200);
    assert_eq!(
        (
            res.body["list"].as_str(),
            res.body["added"].as_u64(),
            res.body["skipped_invalid"].as_u64()
        ),
        (Some("registry"), Some(2), Some(1))
    );
    assert_eq!(check(&app, &t, &c).await.body["on_registry"], true);
    let entry = app
        .store
        .dnc_entry(&t.workspace_id, switchboard_core::model::DncList::Registry, &c)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.reason.as_deref(), Some("from the CSV"));

    let boundary = "XyZ123";
    let d = unique_phone();
    let form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"dnc.csv\"\r\nContent-Type: text/csv\r\n\r\nphone\n{d}\n\r\n--{boundary}--\r\n"
    );
    let res = app
        .post("/v1/dnc/import")
        .bearer(&t.key)
        .raw(&format!("multipart/form-data; boundary={boundary}"), form)
        .send()
        .await;
    res.expect(200);
    assert_eq!(res.body["added"], 1);
    assert_eq!(check(&app, &t, &d).await.body["on_dnc"], true);
}

#[tokio::test]
async fn malformed_uploads_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let before = app.snapshot(&t.workspace_id).await;
    for (content_type, body) in [
        ("text/csv", Vec::new()),
        ("text/csv", b"phone\n\xff\xfe\n".to_vec()),
        (
            "multipart/form-data; boundary=abc",
            b"--abc\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--abc--\r\n".to_vec(),
        ),
        ("multipart/form-data", b"no boundary".to_vec()),
    ] {
        let res = app
            .post("/v1/dnc/import")
            .bearer(&t.key)
            .raw(content_type, body)
            .send()
            .await;
        assert_eq!(
            (res.status, res.code(), res.param()),
            (400, "invalid_csv", "file"),
            "{content_type}: {}",
            res.text
        );
    }
    let res = app
        .post("/v1/dnc/import")
        .bearer(&t.key)
        .raw("text/plain", format!("phone\n{}\n", unique_phone()))
        .send()
        .await;
    res.expect_error(415, "unsupported_media_type");
    let res = app
        .post("/v1/dnc/import?list=everything")
        .bearer(&t.key)
        .raw("text/csv", "phone\n+14155550100\n")
        .send()
        .await;
    assert_eq!((res.status, res.param()), (400, "list"));
    let res = add(&app, &t, json!({"phone_e164": "12"})).await;
    assert_eq!(
        (res.status, res.code(), res.param()),
        (400, "invalid_phone_number", "phone_e164")
    );
    let res = app.get("/v1/dnc/check").bearer(&t.key).send().await;
    assert_eq!((res.status, res.param()), (400, "phone_e164"));
    assert_eq!(app.snapshot(&t.workspace_id).await, before);
}

#[tokio::test]
async fn another_workspaces_list_is_out_of_reach() {
    let app = TestApp::spawn().await;
    let (owner, other) = (app.tenant().await, app.tenant().await);
    let phone = phone_ending("0100");
    add(&app, &owner, json!({"phone_e164": phone})).await.expect(201);
    app.delete(&format!("/v1/dnc/{phone}"))
        .bearer(&other.key)
        .send()
        .await
        .expect_error(404, "dnc_entry_not_found");
    assert_eq!(check(&app, &other, &phone).await.body["on_dnc"], false);
    let listed = app.get("/v1/dnc?limit=200").bearer(&other.key).send().await;
    assert!(!listed.text.contains(&phone));
    assert_eq!(
        check(&app, &owner, &phone).await.body["on_dnc"],
        true,
        "still on the owner's list"
    );
    let writer = app.key(&owner, "write").await;
    app.delete(&format!("/v1/dnc/{phone}"))
        .bearer(&writer)
        .send()
        .await
        .expect_error(403, "insufficient_scope");
}
