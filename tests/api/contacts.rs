//! Contacts: one per phone number, normalised to E.164; lookups by phone and email.

use serde_json::json;
use switchboard_tests::TestApp;

#[tokio::test]
async fn phones_are_normalised_with_the_workspace_country() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let res = app.post("/v1/contacts").bearer(&t.key).json(json!({"phone": "(415) 555-0100", "name": "Ada", "email": "Ada@Example.com", "timezone": "America/Los_Angeles"})).send().await;
    res.expect(201);
    assert_eq!(
        (
            res.body["phone"].as_str(),
            res.body["email"].as_str(),
            res.body["object"].as_str()
        ),
        (Some("+14155550100"), Some("ada@example.com"), Some("contact"))
    );
    let res = app
        .post("/v1/contacts")
        .bearer(&t.key)
        .json(json!({"phone": "+44 20 7946 0958"}))
        .send()
        .await;
    res.expect(201);
    assert_eq!(res.body["phone"], "+442079460958");
    for phone in ["415-555", "hello", "+1 555 0100 0100 0100", ""] {
        let res = app
            .post("/v1/contacts")
            .bearer(&t.key)
            .json(json!({"phone": phone}))
            .send()
            .await;
        res.expect_error(400, "invalid_phone_number");
        assert_eq!(res.param(), "phone");
    }
}

#[tokio::test]
async fn a_phone_number_belongs_to_one_contact() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let first = app.create(&t, "/v1/contacts", json!({"phone": "+14155550101"})).await;
    let res = app
        .post("/v1/contacts")
        .bearer(&t.key)
        .json(json!({"phone": "415 555 0101"}))
        .send()
        .await;
    res.expect_error(409, "phone_number_taken");
    assert_eq!(res.param(), "phone");

    let second = app.create(&t, "/v1/contacts", json!({"phone": "+14155550102"})).await;
    app.patch(&format!("/v1/contacts/{second}"))
        .bearer(&t.key)
        .json(json!({"phone": "+14155550101"}))
        .send()
        .await
        .expect_error(409, "phone_number_taken");
    // Moving a number frees the old one.
    app.patch(&format!("/v1/contacts/{first}"))
        .bearer(&t.key)
        .json(json!({"phone": "+14155550103"}))
        .send()
        .await
        .expect(200);
    app.patch(&format!("/v1/contacts/{second}"))
        .bearer(&t.key)
        .json(json!({"phone": "+14155550101"}))
        .send()
        .await
        .expect(200);
    // Deleting frees it too.
    app.delete(&format!("/v1/contacts/{second}"))
        .bearer(&t.key)
        .send()
        .await
        .expect(200);
    app.create(&t, "/v1/contacts", json!({"phone": "+14155550101"})).await;
    // Another workspace may hold the same number.
    let other = app.tenant().await;
    app.create(&other, "/v1/contacts", json!({"phone": "+14155550101"}))
        .await;
}

#[tokio::test]
async fn contacts_racing_for_one_number_leave_one_out() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let results = futures::future::join_all((0..4).map(|i| {
        app.post("/v1/contacts")
            .bearer(&t.key)
            .json(json!({"phone": "+14155550104", "name": format!("n{i}")}))
            .send()
    }))
    .await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 409, 409, 409]);
    let list = app.get("/v1/contacts").bearer(&t.key).send().await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn contacts_are_found_by_phone_and_by_email() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let ada = app
        .create(
            &t,
            "/v1/contacts",
            json!({"phone": "+14155550105", "email": "ada@example.com"}),
        )
        .await;
    app.clock.advance(chrono::Duration::milliseconds(5));
    let bob = app
        .create(
            &t,
            "/v1/contacts",
            json!({"phone": "+14155550106", "email": "ada@example.com"}),
        )
        .await;
    app.create(
        &t,
        "/v1/contacts",
        json!({"phone": "+14155550107", "email": "eve@example.com"}),
    )
    .await;

    let by_phone = app
        .get("/v1/contacts?phone=(415)%20555-0105")
        .bearer(&t.key)
        .send()
        .await;
    by_phone.expect(200);
    let ids: Vec<&str> = by_phone.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [ada.as_str()]);
    let by_email = app
        .get("/v1/contacts?email=ADA@example.com")
        .bearer(&t.key)
        .send()
        .await;
    let ids: Vec<&str> = by_email.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [bob.as_str(), ada.as_str()]);
    let none = app.get("/v1/contacts?phone=%2B14155550199").bearer(&t.key).send().await;
    assert_eq!(none.body["data"], json!([]));
    app.get("/v1/contacts?phone=nope")
        .bearer(&t.key)
        .send()
        .await
        .expect_error(400, "invalid_parameter");
    app.get("/v1/contacts?email=nope")
        .bearer(&t.key)
        .send()
        .await
        .expect_error(400, "invalid_parameter");

    // Changing the email moves the contact between lookups.
    app.patch(&format!("/v1/contacts/{ada}"))
        .bearer(&t.key)
        .json(json!({"email": null}))
        .send()
        .await
        .expect(200);
    let by_email = app
        .get("/v1/contacts?email=ada@example.com")
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(by_email.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn attributes_are_checked_and_merged() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let cases = [
        (
            json!({"phone": "+14155550108", "attributes": {"nested": {"a": 1}}}),
            400,
            "invalid_type",
            "attributes.nested",
        ),
        (
            json!({"phone": "+14155550108", "attributes": {"list": [1]}}),
            400,
            "invalid_type",
            "attributes.list",
        ),
        (
            json!({"phone": "+14155550108", "attributes": {"bad key": 1}}),
            422,
            "validation_failed",
            "attributes.bad key",
        ),
        (
            json!({"phone": "+14155550108", "attributes": {"long": "x".repeat(501)}}),
            422,
            "validation_failed",
            "attributes.long",
        ),
        (
            json!({"phone": "+14155550108", "timezone": "Mars/Olympus"}),
            400,
            "invalid_value",
            "timezone",
        ),
        (
            json!({"phone": "+14155550108", "email": "nope"}),
            400,
            "invalid_email",
            "email",
        ),
    ];
    for (body, status, code, param) in cases {
        let res = app.post("/v1/contacts").bearer(&t.key).json(body).send().await;
        res.expect_error(status, code);
        assert_eq!(res.param(), param);
    }
    let many: serde_json::Map<String, serde_json::Value> = (0..51).map(|i| (format!("k{i}"), json!(i))).collect();
    app.post("/v1/contacts")
        .bearer(&t.key)
        .json(json!({"phone": "+14155550108", "attributes": many}))
        .send()
        .await
        .expect_error(422, "validation_failed");

    let id = app
        .create(
            &t,
            "/v1/contacts",
            json!({"phone": "+14155550108", "attributes": {"plan": "gold", "orders": 3, "vip": true}}),
        )
        .await;
    let res = app
        .patch(&format!("/v1/contacts/{id}"))
        .bearer(&t.key)
        .json(json!({"attributes": {"orders": 4, "plan": null, "score": 1.5}}))
        .send()
        .await;
    res.expect(200);
    assert_eq!(res.body["attributes"], json!({"orders": 4, "score": 1.5, "vip": true}));
}

#[tokio::test]
async fn optional_fields_are_cleared_with_null() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let id = app
        .create(
            &t,
            "/v1/contacts",
            json!({"phone": "+14155550109", "name": "Ada", "timezone": "Europe/London"}),
        )
        .await;
    let res = app
        .patch(&format!("/v1/contacts/{id}"))
        .bearer(&t.key)
        .json(json!({"name": null, "timezone": "Asia/Kolkata"}))
        .send()
        .await;
    res.expect(200);
    assert_eq!(
        (res.body["name"].is_null(), res.body["timezone"].as_str()),
        (true, Some("Asia/Kolkata"))
    );
    app.patch(&format!("/v1/contacts/{id}"))
        .bearer(&t.key)
        .json(json!({"phone": null}))
        .send()
        .await
        .expect_error(400, "invalid_type");
}
