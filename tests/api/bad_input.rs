//! Bad input, for every route that takes a body or lists: a clear 4xx naming the parameter,
//! and nothing written.

use serde_json::{Value, json};
use switchboard_tests::TestApp;

use crate::isolation::{call, collections, make, routes};

/// A value of another JSON type than `value`.
fn wrong_type(value: &Value) -> Value {
    match value {
        Value::String(_) => json!(12345),
        Value::Number(_) | Value::Bool(_) => json!("wrong"),
        Value::Object(_) | Value::Array(_) | Value::Null => json!(7),
    }
}

#[tokio::test]
async fn malformed_bodies_are_refused_with_their_parameter_and_change_nothing() {
    let app = TestApp::unlimited().await;
    let t = app.tenant().await;
    let mut checked = 0;
    // An inbound trigger's URL checks the request's signature before its body: its own tests
    // send it bodies of every shape.
    let signed = |path: &str| path.ends_with("/inbound");
    for route in routes()
        .into_iter()
        .filter(|r| r.doc.request.is_some() && !signed(r.path))
    {
        let path = if route.path.contains("{id}") {
            route.path.replace("{id}", &make(&app, &t, route.path).await)
        } else {
            route.path.to_owned()
        };
        let example = (route.doc.example.expect("routes with a body document a valid example"))();
        let before = app.snapshot(&t.workspace_id).await;
        let what = format!("{} {}", route.method, route.path);

        let res = call(&app, &route, &path, &t)
            .raw("application/json", "{\"name\": ")
            .send()
            .await;
        res.expect_error(400, "invalid_json");
        let res = call(&app, &route, &path, &t)
            .raw("application/json", "[1, 2]")
            .send()
            .await;
        res.expect_error(400, "invalid_json");
        // Bytes that are not UTF-8 arrive base64-encoded from API Gateway.
        let res = call(&app, &route, &path, &t)
            .raw("application/json", vec![0xff, 0xfe, b'{', 0x80])
            .send()
            .await;
        res.expect_error(400, "invalid_json");

        let mut unknown = example.clone();
        unknown["zzz_unknown"] = json!(1);
        let res = call(&app, &route, &path, &t).json(unknown).send().await;
        assert_eq!(
            (res.status, res.code(), res.param()),
            (400, "unknown_field", "zzz_unknown"),
            "{what}: {}",
            res.text
        );

        for (field, value) in example.as_object().unwrap() {
            let mut body = example.clone();
            body[field] = wrong_type(value);
            let res = call(&app, &route, &path, &t).json(body).send().await;
            assert_eq!(
                (res.status, res.code(), res.param()),
                (400, "invalid_type", field.as_str()),
                "{what} with a wrong {field}: {}",
                res.text
            );
        }

        let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(1024 * 1024));
        call(&app, &route, &path, &t)
            .raw("application/json", huge)
            .send()
            .await
            .expect_error(413, "payload_too_large");
        let res = call(&app, &route, &path, &t)
            .raw("text/plain", serde_json::to_vec(&example).unwrap())
            .send()
            .await;
        res.expect_error(415, "unsupported_media_type");

        assert_eq!(
            app.snapshot(&t.workspace_id).await,
            before,
            "{what}: a refused request wrote something"
        );
        checked += 1;
        // Each route's refusals count against the write limit; start the next one afresh.
        app.clock.advance(chrono::Duration::seconds(61));
    }
    assert!(checked >= 8, "only {checked} routes with bodies were checked");
}

#[tokio::test]
async fn list_parameters_are_checked_on_every_list() {
    let app = TestApp::unlimited().await;
    let t = app.tenant().await;
    let lists = collections();
    assert!(lists.len() >= 3);
    for route in &lists {
        let cases = [
            ("limit=0", "invalid_parameter", "limit"),
            ("limit=1000", "invalid_parameter", "limit"),
            ("cursor=e30.AAAA", "invalid_cursor", "cursor"),
            ("sort=asc", "unknown_parameter", "sort"),
        ];
        for (query, code, param) in cases {
            let res = call(&app, route, &format!("{}?{query}", route.path), &t).send().await;
            assert_eq!(
                (res.status, res.code(), res.param()),
                (400, code, param),
                "{} ?{query}: {}",
                route.path,
                res.text
            );
        }
    }
}

#[tokio::test]
async fn every_route_refuses_unknown_query_parameters() {
    let app = TestApp::unlimited().await;
    let t = app.tenant().await;
    for route in routes() {
        let path = if route.path.contains("{id}") {
            route.path.replace("{id}", &make(&app, &t, route.path).await)
        } else {
            route.path.to_owned()
        };
        let res = call(&app, &route, &format!("{path}?zzz=1"), &t).send().await;
        assert_eq!(
            (res.status, res.code()),
            (400, "unknown_parameter"),
            "{} {}: {}",
            route.method,
            route.path,
            res.text
        );
        app.clock.advance(chrono::Duration::seconds(61));
    }
}
