//! The conventions every endpoint shares (`docs/conventions.md`): request ids, error bodies, routing, CORS,
//! lists and cursors, ETags, compression.

use serde_json::json;
use switchboard_tests::TestApp;

#[tokio::test]
async fn every_response_carries_a_request_id_that_errors_repeat() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    for res in [
        app.get("/v1/agents").bearer(&t.key).send().await,
        app.get("/v1/agents/agt_01JD3QZ9R6X4Y7T2W8V5N1M0KA")
            .bearer(&t.key)
            .send()
            .await,
        app.get("/v1/agents").send().await,
        app.get("/v1/nowhere").send().await,
        app.get("/v1/healthz").send().await,
    ] {
        let id = res.header("x-request-id").expect("X-Request-Id");
        assert!(id.starts_with("req_") && id.len() == 30, "{id}");
        if res.status >= 400 {
            assert_eq!(res.body["error"]["request_id"], id);
            assert!(res.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
    }
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405_with_allow() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    app.get("/v1/agentz")
        .bearer(&t.key)
        .send()
        .await
        .expect_error(404, "route_not_found");
    let res = app.request(http::Method::PUT, "/v1/agents").bearer(&t.key).send().await;
    res.expect_error(405, "method_not_allowed");
    assert_eq!(res.header("allow"), Some("GET, POST"));
    let res = app
        .post("/v1/agents/agt_01JD3QZ9R6X4Y7T2W8V5N1M0KA")
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(res.header("allow"), Some("GET, PATCH, DELETE"));
}

#[tokio::test]
async fn errors_never_echo_credentials() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let wrong = format!("{}x", t.key);
    let res = app.get("/v1/agents").bearer(&wrong).send().await;
    res.expect_error(401, "invalid_credential");
    assert!(!res.text.contains(&wrong));
    let res = app.get(&format!("/v1/agents?api_key={}", t.key)).send().await;
    res.expect_error(400, "credential_in_query");
    assert!(!res.text.contains(&t.key));
}

#[tokio::test]
async fn credentials_in_the_query_string_are_refused_even_when_valid() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    app.get(&format!("/v1/agents?api_key={}", t.key))
        .bearer(&t.key)
        .send()
        .await
        .expect_error(400, "credential_in_query");
    app.get(&format!("/v1/auth/me?access_token={}", t.token))
        .send()
        .await
        .expect_error(400, "credential_in_query");
}

#[tokio::test]
async fn cors_preflights_are_answered_and_responses_allow_any_origin() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let res = app
        .request(http::Method::OPTIONS, "/v1/agents/agt_01JD3QZ9R6X4Y7T2W8V5N1M0KA")
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "PATCH")
        .send()
        .await;
    res.expect(204);
    assert_eq!(res.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        res.header("access-control-allow-methods"),
        Some("GET, PATCH, DELETE, OPTIONS")
    );
    assert!(
        res.header("access-control-allow-headers")
            .unwrap()
            .contains("Idempotency-Key")
    );
    let res = app
        .get("/v1/agents")
        .bearer(&t.key)
        .header("origin", "https://app.example.com")
        .send()
        .await;
    assert_eq!(res.header("access-control-allow-origin"), Some("*"));
    assert!(
        res.header("access-control-expose-headers")
            .unwrap()
            .contains("X-RateLimit-Remaining")
    );
    assert!(
        res.header("access-control-allow-credentials").is_none(),
        "cookies are never sent cross-origin"
    );
}

#[tokio::test]
async fn lists_page_through_everything_newest_first_with_opaque_cursors() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(
            app.create(&t, "/v1/agents", json!({"name": format!("a{i}"), "system_prompt": "p"}))
                .await,
        );
        app.clock.advance(chrono::Duration::milliseconds(5));
    }
    created.reverse();
    let mut seen = Vec::new();
    let mut path = "/v1/agents?limit=2".to_owned();
    loop {
        let page = app.get(&path).bearer(&t.key).send().await;
        page.expect(200);
        assert_eq!(page.body["object"], "list");
        let data = page.body["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        seen.extend(data.iter().map(|a| a["id"].as_str().unwrap().to_owned()));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => {
                assert_eq!(page.body["has_more"], true);
                path = format!("/v1/agents?limit=2&cursor={cursor}");
            }
            None => {
                assert_eq!(page.body["has_more"], false);
                break;
            }
        }
    }
    assert_eq!(seen, created);
}

#[tokio::test]
async fn cursors_are_refused_when_altered_or_used_on_another_query() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let other = app.tenant().await;
    for i in 0..3 {
        app.create(&t, "/v1/agents", json!({"name": format!("a{i}"), "system_prompt": "p"}))
            .await;
        app.create(
            &t,
            "/v1/contacts",
            json!({"phone": format!("+1415555010{i}"), "email": "same@example.com"}),
        )
        .await;
    }
    let page = app.get("/v1/agents?limit=1").bearer(&t.key).send().await;
    let cursor = page.body["next_cursor"].as_str().unwrap().to_owned();
    app.get(&format!("/v1/agents?limit=1&cursor={cursor}"))
        .bearer(&t.key)
        .send()
        .await
        .expect(200);

    let mut tampered = cursor.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for (who, path) in [
        (&t.key, format!("/v1/agents?cursor={tampered}")),
        (&t.key, "/v1/agents?cursor=garbage".to_owned()),
        (&other.key, format!("/v1/agents?cursor={cursor}")),
        (&t.key, format!("/v1/contacts?cursor={cursor}")),
    ] {
        let res = app.get(&path).bearer(who).send().await;
        res.expect_error(400, "invalid_cursor");
        assert_eq!(res.param(), "cursor");
    }
    let by_email = app
        .get("/v1/contacts?email=same@example.com&limit=1")
        .bearer(&t.key)
        .send()
        .await;
    let filtered = by_email.body["next_cursor"]
        .as_str()
        .expect("three contacts share the email")
        .to_owned();
    app.get(&format!(
        "/v1/contacts?email=same@example.com&limit=1&cursor={filtered}"
    ))
    .bearer(&t.key)
    .send()
    .await
    .expect(200);
    app.get(&format!("/v1/contacts?email=other@example.com&cursor={filtered}"))
        .bearer(&t.key)
        .send()
        .await
        .expect_error(400, "invalid_cursor");
    app.get(&format!("/v1/contacts?cursor={filtered}"))
        .bearer(&t.key)
        .send()
        .await
        .expect_error(400, "invalid_cursor");
}

#[tokio::test]
async fn list_parameters_are_checked() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    for limit in ["0", "201", "-1", "ten", ""] {
        let res = app
            .get(&format!("/v1/agents?limit={limit}"))
            .bearer(&t.key)
            .send()
            .await;
        res.expect_error(400, "invalid_parameter");
        assert_eq!(res.param(), "limit");
    }
    app.get("/v1/agents?limit=200").bearer(&t.key).send().await.expect(200);
    let res = app.get("/v1/agents?limt=5").bearer(&t.key).send().await;
    res.expect_error(400, "unknown_parameter");
    assert_eq!(res.param(), "limt");
}

#[tokio::test]
async fn etags_guard_updates_with_if_match() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let created = app
        .post("/v1/agents")
        .bearer(&t.key)
        .json(json!({"name": "a", "system_prompt": "p"}))
        .send()
        .await;
    let etag = created.header("etag").unwrap().to_owned();
    let path = format!("/v1/agents/{}", created.id());
    assert_eq!(
        app.get(&path).bearer(&t.key).send().await.header("etag"),
        Some(etag.as_str())
    );

    let res = app
        .patch(&path)
        .bearer(&t.key)
        .header("if-match", &etag)
        .json(json!({"name": "b"}))
        .send()
        .await;
    res.expect(200);
    let newer = res.header("etag").unwrap().to_owned();
    assert_ne!(newer, etag);
    let stale = app
        .patch(&path)
        .bearer(&t.key)
        .header("if-match", &etag)
        .json(json!({"name": "c"}))
        .send()
        .await;
    stale.expect_error(412, "precondition_failed");
    app.delete(&path)
        .bearer(&t.key)
        .header("if-match", &etag)
        .send()
        .await
        .expect_error(412, "precondition_failed");
    app.patch(&path)
        .bearer(&t.key)
        .header("if-match", "W/\"2\"")
        .json(json!({"name": "c"}))
        .send()
        .await
        .expect(412);
    app.patch(&path)
        .bearer(&t.key)
        .header("if-match", "not-a-tag")
        .json(json!({"name": "c"}))
        .send()
        .await
        .expect_error(400, "invalid_if_match");
    app.patch(&path)
        .bearer(&t.key)
        .header("if-match", "*")
        .json(json!({"name": "d"}))
        .send()
        .await
        .expect(200);
    assert_eq!(app.get(&path).bearer(&t.key).send().await.body["name"], "d");
}

#[tokio::test]
async fn concurrent_updates_with_the_same_etag_let_exactly_one_win() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let created = app
        .post("/v1/agents")
        .bearer(&t.key)
        .json(json!({"name": "a", "system_prompt": "p"}))
        .send()
        .await;
    let etag = created.header("etag").unwrap().to_owned();
    let path = format!("/v1/agents/{}", created.id());
    let results = futures::future::join_all((0..6).map(|i| {
        app.patch(&path)
            .bearer(&t.key)
            .header("if-match", &etag)
            .json(json!({"name": format!("writer {i}")}))
            .send()
    }))
    .await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 412, 412, 412, 412, 412]);
}

#[tokio::test]
async fn concurrent_updates_without_an_etag_all_apply() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let id = app.create(&t, "/v1/contacts", json!({"phone": "+14155550111"})).await;
    let path = format!("/v1/contacts/{id}");
    let results = futures::future::join_all((0..3).map(|i| {
        app.patch(&path)
            .bearer(&t.key)
            .json(json!({"attributes": {format!("k{i}"): i}}))
            .send()
    }))
    .await;
    for r in &results {
        r.expect(200);
    }
    let contact = app.get(&path).bearer(&t.key).send().await;
    assert_eq!(
        contact.body["attributes"],
        json!({"k0": 0, "k1": 1, "k2": 2}),
        "no update was lost"
    );
}

#[tokio::test]
async fn large_answers_are_gzipped_for_clients_that_accept_it() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    for i in 0..8 {
        app.create(
            &t,
            "/v1/agents",
            json!({"name": format!("Agent {i}"), "system_prompt": "You book check-ups."}),
        )
        .await;
    }
    let list = |encoding: Option<&'static str>| {
        let req = app.get("/v1/agents?limit=8").bearer(&t.key);
        async move {
            match encoding {
                Some(e) => req.header("accept-encoding", e).send().await,
                None => req.send().await,
            }
        }
    };
    let plain = list(None).await;
    plain.expect(200);
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("vary"), Some("accept-encoding"));
    assert!(
        plain.wire_len > 2000,
        "a body worth compressing: {} bytes",
        plain.wire_len
    );

    for accepted in ["gzip", "br, gzip;q=0.5", "*"] {
        let packed = list(Some(accepted)).await;
        packed.expect(200);
        assert_eq!(packed.header("content-encoding"), Some("gzip"), "{accepted}");
        assert_eq!(packed.header("vary"), Some("accept-encoding"));
        assert_eq!(packed.body, plain.body, "the same answer, decoded");
        assert!(
            packed.wire_len * 3 < plain.wire_len,
            "{} vs {} bytes",
            packed.wire_len,
            plain.wire_len
        );
    }
    for refused in ["identity", "gzip;q=0", "br", "*, gzip;q=0"] {
        let res = list(Some(refused)).await;
        assert_eq!(res.header("content-encoding"), None, "{refused}");
        assert_eq!(res.body, plain.body);
    }
    // Small answers and errors go as they are.
    for res in [
        app.get("/v1/healthz").header("accept-encoding", "gzip").send().await,
        app.get("/v1/nowhere").header("accept-encoding", "gzip").send().await,
    ] {
        assert_eq!(res.header("content-encoding"), None, "{}", res.text);
        assert!(res.body.is_object());
    }
}
