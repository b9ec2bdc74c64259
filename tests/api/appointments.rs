//! Appointments: one calendar per workspace, no overlaps, events with every change.

use serde_json::{Value, json};
use switchboard_tests::{Tenant, TestApp};

async fn contact(app: &TestApp, t: &Tenant) -> String {
    let phone = format!("+1415555{:04}", rand::random::<u16>() % 10_000);
    app.create(t, "/v1/contacts", json!({"phone": phone})).await
}

fn booking(contact: &str, start: &str, end: &str) -> Value {
    json!({"contact_id": contact, "start_time": start, "end_time": end, "title": "Product demo"})
}

#[tokio::test]
async fn an_appointment_is_booked_and_recorded() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let con = contact(&app, &t).await;
    let res = app
        .post("/v1/appointments")
        .bearer(&t.key)
        .json(booking(&con, "2026-12-01T10:00:00Z", "2026-12-01T10:30:00Z"))
        .send()
        .await;
    res.expect(201);
    assert!(res.id().starts_with("apt_"));
    assert_eq!(
        (
            res.body["status"].as_str(),
            res.body["object"].as_str(),
            res.body["contact_id"].as_str()
        ),
        (Some("confirmed"), Some("appointment"), Some(con.as_str()))
    );
    let got = app
        .get(&format!("/v1/appointments/{}", res.id()))
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(got.body, res.body);
    let events = app.events(&t.workspace_id).await;
    let created = events
        .iter()
        .find(|e| e["event"] == "appointment.created")
        .expect("an appointment.created event");
    assert!(created["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(created["data"]["id"], res.id());
}

#[tokio::test]
async fn overlapping_appointments_conflict_and_touching_ones_do_not() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let con = contact(&app, &t).await;
    app.post("/v1/appointments")
        .bearer(&t.key)
        .json(booking(&con, "2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z"))
        .send()
        .await
        .expect(201);
    for (start, end) in [
        ("2026-12-01T10:30:00Z", "2026-12-01T11:30:00Z"),
        ("2026-12-01T09:30:00Z", "2026-12-01T10:05:00Z"),
        ("2026-12-01T10:10:00Z", "2026-12-01T10:20:00Z"),
    ] {
        let res = app
            .post("/v1/appointments")
            .bearer(&t.key)
            .json(booking(&con, start, end))
            .send()
            .await;
        res.expect_error(409, "appointment_conflict");
        assert_eq!(res.param(), "start_time");
    }
    app.post("/v1/appointments")
        .bearer(&t.key)
        .json(booking(&con, "2026-12-01T11:00:00Z", "2026-12-01T11:30:00Z"))
        .send()
        .await
        .expect(201);
    app.post("/v1/appointments")
        .bearer(&t.key)
        .json(booking(&con, "2026-12-01T09:00:00Z", "2026-12-01T10:00:00Z"))
        .send()
        .await
        .expect(201);
    let other = app.tenant().await;
    let their = contact(&app, &other).await;
    app.post("/v1/appointments")
        .bearer(&other.key)
        .json(booking(&their, "2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z"))
        .send()
        .await
        .expect(201);
}

#[tokio::test]
async fn overlapping_bookings_racing_leave_one_booked() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let con = contact(&app, &t).await;
    let results = futures::future::join_all(["10:00", "10:15", "10:20", "10:25"].map(|start| {
        app.post("/v1/appointments")
            .bearer(&t.key)
            .json(booking(
                &con,
                &format!("2026-12-02T{start}:00Z"),
                "2026-12-02T10:45:00Z",
            ))
            .send()
    }))
    .await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 409, 409, 409]);
}

#[tokio::test]
async fn cancelling_frees_the_time_and_rescheduling_checks_it() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let con = contact(&app, &t).await;
    let first = app
        .create(
            &t,
            "/v1/appointments",
            booking(&con, "2026-12-03T10:00:00Z", "2026-12-03T10:30:00Z"),
        )
        .await;
    let second = app
        .create(
            &t,
            "/v1/appointments",
            booking(&con, "2026-12-03T11:00:00Z", "2026-12-03T11:30:00Z"),
        )
        .await;
    let res = app
        .patch(&format!("/v1/appointments/{second}"))
        .bearer(&t.key)
        .json(json!({"start_time": "2026-12-03T10:15:00Z", "end_time": "2026-12-03T10:45:00Z"}))
        .send()
        .await;
    res.expect_error(409, "appointment_conflict");
    assert_eq!(
        app.get(&format!("/v1/appointments/{second}"))
            .bearer(&t.key)
            .send()
            .await
            .body["start_time"],
        "2026-12-03T11:00:00Z"
    );

    let res = app
        .patch(&format!("/v1/appointments/{first}"))
        .bearer(&t.key)
        .json(json!({"status": "cancelled"}))
        .send()
        .await;
    res.expect(200);
    assert_eq!(res.body["status"], "cancelled");
    app.patch(&format!("/v1/appointments/{second}"))
        .bearer(&t.key)
        .json(json!({"start_time": "2026-12-03T10:15:00Z", "end_time": "2026-12-03T10:45:00Z"}))
        .send()
        .await
        .expect(200);
    // Confirming the cancelled one again needs its time back.
    app.patch(&format!("/v1/appointments/{first}"))
        .bearer(&t.key)
        .json(json!({"status": "confirmed"}))
        .send()
        .await
        .expect_error(409, "appointment_conflict");
    assert!(
        app.event_types(&t.workspace_id)
            .await
            .iter()
            .filter(|e| *e == "appointment.updated")
            .count()
            >= 2
    );
}

#[tokio::test]
async fn appointment_input_is_checked() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let con = contact(&app, &t).await;
    let other = app.tenant().await;
    let theirs = contact(&app, &other).await;
    let cases = [
        (
            booking(&con, "2026-12-01T10:07:00Z", "2026-12-01T10:30:00Z"),
            422,
            "validation_failed",
            "start_time",
        ),
        (
            booking(&con, "2026-12-01T10:30:00Z", "2026-12-01T10:00:00Z"),
            422,
            "validation_failed",
            "end_time",
        ),
        (
            booking(&con, "2026-12-01T08:00:00Z", "2026-12-01T12:05:00Z"),
            422,
            "validation_failed",
            "end_time",
        ),
        (
            booking(&theirs, "2026-12-01T10:00:00Z", "2026-12-01T10:30:00Z"),
            404,
            "contact_not_found",
            "contact_id",
        ),
        (
            booking("con_nope", "2026-12-01T10:00:00Z", "2026-12-01T10:30:00Z"),
            404,
            "contact_not_found",
            "contact_id",
        ),
        (
            json!({"contact_id": con, "start_time": "tomorrow", "end_time": "2026-12-01T10:30:00Z", "title": "x"}),
            400,
            "invalid_type",
            "start_time",
        ),
    ];
    for (body, status, code, param) in cases {
        let res = app.post("/v1/appointments").bearer(&t.key).json(body).send().await;
        res.expect_error(status, code);
        assert_eq!(res.param(), param);
    }
    assert!(app.event_types(&t.workspace_id).await.is_empty(), "nothing was booked");
}

#[tokio::test]
async fn appointments_are_listed_by_start_and_filtered() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (ada, bob) = (contact(&app, &t).await, contact(&app, &t).await);
    let late = app
        .create(
            &t,
            "/v1/appointments",
            booking(&ada, "2026-12-05T15:00:00Z", "2026-12-05T15:30:00Z"),
        )
        .await;
    let early = app
        .create(
            &t,
            "/v1/appointments",
            booking(&bob, "2026-12-04T09:00:00Z", "2026-12-04T09:30:00Z"),
        )
        .await;
    let middle = app
        .create(
            &t,
            "/v1/appointments",
            booking(&ada, "2026-12-05T09:00:00Z", "2026-12-05T09:30:00Z"),
        )
        .await;
    app.patch(&format!("/v1/appointments/{middle}"))
        .bearer(&t.key)
        .json(json!({"status": "completed"}))
        .send()
        .await
        .expect(200);
    let ids = |res: &switchboard_tests::Res| -> Vec<String> {
        res.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect()
    };

    let all = app.get("/v1/appointments").bearer(&t.key).send().await;
    assert_eq!(ids(&all), [&early, &middle, &late].map(|s: &String| s.clone()));
    let day = app
        .get("/v1/appointments?from=2026-12-05&to=2026-12-05")
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(ids(&day), [&middle, &late].map(|s: &String| s.clone()));
    let morning = app
        .get("/v1/appointments?from=2026-12-05T00:00:00Z&to=2026-12-05T12:00:00Z")
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(ids(&morning), [&middle].map(|s: &String| s.clone()));
    let confirmed = app.get("/v1/appointments?status=confirmed").bearer(&t.key).send().await;
    assert_eq!(ids(&confirmed), [&early, &late].map(|s: &String| s.clone()));
    let adas = app
        .get(&format!("/v1/appointments?contact_id={ada}"))
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(ids(&adas), [&middle, &late].map(|s: &String| s.clone()));
    let page = app.get("/v1/appointments?limit=2").bearer(&t.key).send().await;
    let next = app
        .get(&format!(
            "/v1/appointments?limit=2&cursor={}",
            page.body["next_cursor"].as_str().unwrap()
        ))
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(ids(&next), [&late].map(|s: &String| s.clone()));
    app.get("/v1/appointments?status=maybe")
        .bearer(&t.key)
        .send()
        .await
        .expect_error(400, "invalid_parameter");
    app.get("/v1/appointments?from=yesterday")
        .bearer(&t.key)
        .send()
        .await
        .expect_error(400, "invalid_parameter");
}
