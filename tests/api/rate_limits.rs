//! Rate limits per credential and per workspace (token buckets of a minute), with their headers.

use serde_json::json;
use switchboard_tests::{Options, TestApp};

#[tokio::test]
async fn writes_are_limited_to_twenty_a_minute_per_credential() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    for i in 0..20u32 {
        let res = app
            .post("/v1/agents")
            .bearer(&t.key)
            .json(json!({"name": format!("a{i}"), "system_prompt": "p"}))
            .send()
            .await;
        // The plan allows 10 agents: the rest are refused, but still count as writes.
        assert!(res.status == 201 || res.status == 422, "{}", res.text);
        assert_eq!(res.header("x-ratelimit-limit"), Some("20"));
        assert_eq!(res.header("x-ratelimit-remaining").unwrap(), (19 - i).to_string());
    }
    let write = || {
        app.post("/v1/agents")
            .bearer(&t.key)
            .json(json!({"name": "x", "system_prompt": "p"}))
            .send()
    };
    let limited = write().await;
    limited.expect_error(429, "rate_limited");
    // The bucket refills one write every 3 s, and is full again a minute after it emptied.
    assert_eq!(limited.header("retry-after"), Some("3"));
    assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));
    let full_at_ms = app.clock.now().timestamp_millis() + 60_000;
    assert_eq!(
        limited.header("x-ratelimit-reset").unwrap(),
        ((full_at_ms + 999) / 1000).to_string()
    );

    // Reads have their own budget, and another key of the workspace its own.
    app.get("/v1/agents").bearer(&t.key).send().await.expect(200);
    let other = app.key(&t, "write").await;
    app.post("/v1/agents")
        .bearer(&other)
        .json(json!({"name": "y", "system_prompt": "p"}))
        .send()
        .await
        .expect_error(422, "limit_reached");

    app.clock.advance(chrono::Duration::milliseconds(2_999));
    write().await.expect(429);
    app.clock.advance(chrono::Duration::milliseconds(1));
    let res = write().await;
    assert_ne!(res.status, 429, "a token is back 3 s after the bucket emptied");
    write().await.expect(429);
}

#[tokio::test]
async fn the_workspace_budget_holds_with_ten_keys_hammering_at_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let mut keys = vec![t.key.clone()];
    for _ in 0..9 {
        keys.push(app.key(&t, "admin").await);
    }
    // Ten keys, thirty deletes each at once: 200 would pass the keys' own limits (20 each),
    // the workspace allows 60 a minute in all.
    let app = &app;
    let requests = keys.iter().flat_map(|key| {
        (0..30).map(move |_| {
            app.delete("/v1/agents/agt_01JD3QZ9R6X4Y7T2W8V5N1M0KA")
                .bearer(key)
                .send()
        })
    });
    let results = futures::future::join_all(requests).await;
    let allowed = results.iter().filter(|r| r.status == 404).count();
    let limited = results
        .iter()
        .filter(|r| r.status == 429 && r.code() == "rate_limited")
        .count();
    assert_eq!(allowed + limited, 300);
    assert!((20..=60).contains(&allowed), "{allowed} deletes passed");

    // A minute later the workspace's bucket is full again.
    app.clock.advance(chrono::Duration::seconds(61));
    app.delete("/v1/agents/agt_01JD3QZ9R6X4Y7T2W8V5N1M0KA")
        .bearer(&keys[9])
        .send()
        .await
        .expect(404);
}

#[tokio::test]
async fn refused_requests_do_not_count() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    for _ in 0..20 {
        app.delete("/v1/agents/agt_01JD3QZ9R6X4Y7T2W8V5N1M0KA")
            .bearer(&t.key)
            .send()
            .await
            .expect(404);
    }
    for _ in 0..5 {
        app.delete("/v1/agents/agt_01JD3QZ9R6X4Y7T2W8V5N1M0KA")
            .bearer(&t.key)
            .send()
            .await
            .expect(429);
    }
    app.clock.advance(chrono::Duration::seconds(61));
    let res = app
        .delete("/v1/agents/agt_01JD3QZ9R6X4Y7T2W8V5N1M0KA")
        .bearer(&t.key)
        .send()
        .await;
    res.expect(404);
    assert_eq!(
        res.header("x-ratelimit-remaining"),
        Some("19"),
        "the refused requests left no trace"
    );
}

#[tokio::test]
async fn reads_are_limited_to_a_hundred_a_minute() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let limits = futures::future::join_all((0..100).map(|_| app.get("/v1/agents").bearer(&t.key).send())).await;
    assert!(limits.iter().all(|r| r.status == 200));
    let res = app.get("/v1/agents").bearer(&t.key).send().await;
    res.expect_error(429, "rate_limited");
    assert_eq!(res.header("x-ratelimit-limit"), Some("100"));
}

#[tokio::test]
async fn concurrent_requests_never_exceed_the_limit() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let results = futures::future::join_all((0..30).map(|_| {
        app.delete("/v1/agents/agt_01JD3QZ9R6X4Y7T2W8V5N1M0KA")
            .bearer(&t.key)
            .send()
    }))
    .await;
    let allowed = results.iter().filter(|r| r.status == 404).count();
    let limited = results.iter().filter(|r| r.status == 429).count();
    assert_eq!((allowed, limited), (20, 10));
}

#[tokio::test]
async fn plans_raise_the_limits() {
    let app = TestApp::with(Options {
        signup_plan: switchboard_core::model::Plan::Professional,
        ..Options::default()
    })
    .await;
    let t = app.tenant().await;
    let res = app.get("/v1/agents").bearer(&t.key).send().await;
    assert_eq!(res.header("x-ratelimit-limit"), Some("300"));
    let res = app
        .post("/v1/agents")
        .bearer(&t.key)
        .json(json!({"name": "a", "system_prompt": "p"}))
        .send()
        .await;
    assert_eq!(res.header("x-ratelimit-limit"), Some("60"));
}

#[tokio::test]
async fn a_deployment_may_scale_every_plans_limits() {
    let app = TestApp::with(Options {
        rate_limit_scale: 3,
        ..Options::default()
    })
    .await;
    let t = app.tenant().await;
    let res = app.get("/v1/agents").bearer(&t.key).send().await;
    assert_eq!(res.header("x-ratelimit-limit"), Some("300"));
    let writes = futures::future::join_all((0..61).map(|_| {
        app.delete("/v1/agents/agt_01JD3QZ9R6X4Y7T2W8V5N1M0KA")
            .bearer(&t.key)
            .send()
    }))
    .await;
    let limited = writes.iter().filter(|r| r.status == 429).count();
    assert_eq!(limited, 1, "three times the Starter plan's 20 writes");

    // Past a token a millisecond, the buckets' resolution, a limit stays at that.
    let app = TestApp::with(Options {
        rate_limit_scale: 1000,
        ..Options::default()
    })
    .await;
    let t = app.tenant().await;
    let res = app.get("/v1/agents").bearer(&t.key).send().await;
    res.expect(200);
    assert_eq!(res.header("x-ratelimit-limit"), Some("60000"));
}

#[tokio::test]
async fn public_endpoints_are_limited_per_client_address() {
    let app = TestApp::with(Options {
        public_rate_limit: 3,
        ..Options::default()
    })
    .await;
    // An address of its own: failed logins also count against the account, across tests.
    let email = unknown_email();
    let login = || {
        app.post("/v1/auth/login")
            .json(json!({"email": email, "password": "whatever-whatever"}))
    };
    for _ in 0..3 {
        login().send().await.expect_error(401, "invalid_login");
    }
    let res = login().send().await;
    res.expect_error(429, "rate_limited");
    assert!(res.header("retry-after").is_some());
    login()
        .from_ip("192.0.2.77")
        .send()
        .await
        .expect_error(401, "invalid_login");
}

#[tokio::test]
async fn a_new_clients_first_requests_racing_share_one_budget() {
    let app = TestApp::with(Options {
        public_rate_limit: 5,
        ..Options::default()
    })
    .await;
    let email = unknown_email();
    let results = futures::future::join_all((0..12).map(|_| {
        app.post("/v1/auth/login")
            .json(json!({"email": email, "password": "whatever-whatever"}))
            .send()
    }))
    .await;
    let allowed = results.iter().filter(|r| r.status == 401).count();
    let limited = results.iter().filter(|r| r.status == 429).count();
    assert_eq!((allowed, limited), (5, 7));
}

fn unknown_email() -> String {
    format!("nobody-{}@example.com", rand::random::<u64>())
}
