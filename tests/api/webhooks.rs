//! Webhooks: endpoints and their secrets, signed deliveries of routed events to local
//! receivers, retries, failure, redelivery, rotation, tests, and where we refuse to deliver.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use switchboard_core::model::DeliveryStatus;
use switchboard_core::ports::{DeliveryJob, DeliveryQueue};
use switchboard_domain::webhooks::delivery::{Dispatcher, Outcome};
use switchboard_domain::webhooks::{RetrySchedule, signature};
use switchboard_tests::fake::{FakeServer, Recorded};
use switchboard_tests::{Options, Res, Tenant, TestApp, unique_phone};

/// A receiver answering with the status `status` holds (changeable while it runs).
async fn receiver(status: Arc<AtomicU16>) -> FakeServer {
    FakeServer::start(move |_, _| (status.load(Ordering::SeqCst), "text/plain", "ok".into())).await
}

async fn subscribe(app: &TestApp, t: &Tenant, url: &str, events: &[&str]) -> Res {
    let res = app
        .post("/v1/webhooks")
        .bearer(&t.key)
        .json(json!({"url": url, "events": events, "description": "tests"}))
        .send()
        .await;
    res.expect(201);
    res
}

/// Books an appointment: one `appointment.created` event.
async fn book(app: &TestApp, t: &Tenant, hour: u32) {
    let contact = app.create(t, "/v1/contacts", json!({"phone": unique_phone()})).await;
    let start = "2026-12-01T00:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap()
        + chrono::Duration::minutes(10 * i64::from(hour));
    let end = start + chrono::Duration::minutes(5);
    app.post("/v1/appointments")
        .bearer(&t.key)
        .json(json!({"contact_id": contact, "start_time": start, "end_time": end, "title": "Visit"}))
        .send()
        .await
        .expect(201);
}

/// What a receiver written from VoxForge's published verification checks: `sha256=` and the
/// hex HMAC-SHA256 of the raw body, keyed with the secret, equal to the header.
fn voxforge_valid(raw_body: &[u8], signature_header: &str, secret: &str) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(raw_body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={expected}") == signature_header
}

fn timed_valid(request: &Recorded, secret: &str, now: i64) -> bool {
    signature::verify_timed(
        request.header("switchboard-signature").unwrap_or_default(),
        request.body.as_bytes(),
        secret,
        now,
        300,
    )
}

async fn deliveries(app: &TestApp, t: &Tenant, webhook: &str) -> Vec<Value> {
    let res = app
        .get(&format!("/v1/webhooks/{webhook}/deliveries"))
        .bearer(&t.key)
        .send()
        .await;
    res.expect(200);
    res.body["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_endpoint_shows_its_secret_once_and_stores_it_sealed() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let created = subscribe(&app, &t, "https://hooks.example.com/in", &["call.ended"]).await;
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(created.body["object"], "webhook_endpoint");
    assert_eq!(created.body["secret_hint"], &secret[..10]);
    assert_eq!(created.body["status"], "enabled");
    let id = created.id().to_owned();
    let got = app.get(&format!("/v1/webhooks/{id}")).bearer(&t.key).send().await;
    assert!(
        got.body.get("secret").is_none() && got.body.get("secrets").is_none(),
        "{}",
        got.text
    );
    let listed = app.get("/v1/webhooks").bearer(&t.key).send().await;
    assert!(!listed.text.contains(&secret) && !listed.text.contains("sealed"));
    let stored = app.snapshot(&t.workspace_id).await;
    assert!(
        stored.values().all(|item| !item.contains(&secret[6..])),
        "the secret is stored sealed"
    );
}

#[tokio::test]
async fn events_are_delivered_signed_to_the_endpoints_subscribed_to_them() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let status = Arc::new(AtomicU16::new(200));
    let (wanted, other) = (receiver(status.clone()).await, receiver(status).await);
    let endpoint = subscribe(&app, &t, &format!("{}/hooks", wanted.url), &["appointment.created"]).await;
    subscribe(&app, &t, &other.url, &["call.ended"]).await;
    let secret = endpoint.body["secret"].as_str().unwrap().to_owned();

    book(&app, &t, 10).await;
    app.route_events(&t.workspace_id).await;
    app.route_events(&t.workspace_id).await; // a stream retry routes nothing twice
    let outcomes = app.run_deliveries().await;
    assert_eq!(outcomes, [Outcome::Attempted(DeliveryStatus::Succeeded)]);

    let got = wanted.requests();
    assert_eq!(got.len(), 1);
    let delivery = &got[0];
    assert_eq!((delivery.method.as_str(), delivery.path.as_str()), ("POST", "/hooks"));
    assert_eq!(delivery.header("content-type"), Some("application/json"));
    assert_eq!(delivery.header("switchboard-event"), Some("appointment.created"));
    let body = delivery.json();
    assert_eq!(body["event"], "appointment.created");
    assert!(body["id"].as_str().unwrap().starts_with("evt_"));
    assert!(body["timestamp"].is_string() && body["data"]["id"].as_str().unwrap().starts_with("apt_"));
    assert!(voxforge_valid(
        delivery.body.as_bytes(),
        delivery.header("x-switchboard-signature").unwrap(),
        &secret
    ));
    assert!(timed_valid(delivery, &secret, app.clock.now().timestamp()));
    assert!(other.requests().is_empty(), "not subscribed to appointment.created");

    let log = deliveries(&app, &t, endpoint.id()).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["id"], delivery.header("switchboard-delivery-id").unwrap());
    assert_eq!(
        (log[0]["status"].as_str(), log[0]["event_id"].as_str()),
        (Some("succeeded"), body["id"].as_str())
    );
    assert_eq!(log[0]["attempts"][0]["status_code"], 200, "{}", log[0]);
    assert!(log[0]["attempts"][0]["latency_ms"].is_u64());
}

#[tokio::test]
async fn a_failing_receiver_is_retried_then_the_delivery_fails_and_can_be_redelivered() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let status = Arc::new(AtomicU16::new(503));
    let hooks = receiver(status.clone()).await;
    let endpoint = subscribe(&app, &t, &hooks.url, &["appointment.created"]).await;
    book(&app, &t, 11).await;
    app.route_events(&t.workspace_id).await;
    let outcomes = app.run_deliveries().await;
    assert_eq!(outcomes.len(), 5, "the first attempt and four retries: {outcomes:?}");
    assert_eq!(outcomes.last(), Some(&Outcome::Attempted(DeliveryStatus::Failed)));
    assert_eq!(hooks.requests().len(), 5);
    let ids: std::collections::HashSet<_> = hooks
        .requests()
        .iter()
        .map(|r| r.header("switchboard-delivery-id").unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "every attempt is the same delivery");

    let log = deliveries(&app, &t, endpoint.id()).await;
    let delivery = &log[0];
    assert_eq!(delivery["status"], "failed");
    let attempts = delivery["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 5);
    assert!(
        attempts
            .iter()
            .all(|a| a["status_code"] == 503 && a["error"].as_str().unwrap().contains("503"))
    );
    assert!(attempts[..4].iter().all(|a| a["next_retry_at"].is_string()));
    assert!(attempts[4]["next_retry_at"].is_null());
    let failed = app
        .get(&format!("/v1/webhooks/{}/deliveries?status=failed", endpoint.id()))
        .bearer(&t.key)
        .send()
        .await;
    assert_eq!(failed.body["data"].as_array().unwrap().len(), 1);

    status.store(200, Ordering::SeqCst);
    let path = format!(
        "/v1/webhooks/{}/deliveries/{}/redeliver",
        endpoint.id(),
        delivery["id"].as_str().unwrap()
    );
    let res = app.post(&path).bearer(&t.key).send().await;
    res.expect(202);
    assert_eq!(res.body["status"], "pending");
    app.post(&path)
        .bearer(&t.key)
        .send()
        .await
        .expect_error(409, "delivery_pending");
    assert_eq!(
        app.run_deliveries().await,
        [Outcome::Attempted(DeliveryStatus::Succeeded)]
    );
    let log = deliveries(&app, &t, endpoint.id()).await;
    assert_eq!(
        (log[0]["status"].as_str(), log[0]["attempts"].as_array().unwrap().len()),
        (Some("succeeded"), 6)
    );
}

#[tokio::test]
async fn a_receiver_failing_half_the_time_gets_every_event_or_a_failure_on_record() {
    let app = TestApp::with(Options {
        signup_plan: switchboard_core::model::Plan::Enterprise,
        ..Options::default()
    })
    .await;
    let t = app.tenant().await;
    let flaky = FakeServer::start(|_, _| {
        if rand::random::<bool>() {
            (200, "text/plain", "ok".into())
        } else {
            (500, "text/plain", "no".into())
        }
    })
    .await;
    let endpoint = subscribe(&app, &t, &flaky.url, &["appointment.created"]).await;
    for hour in 0..12 {
        book(&app, &t, hour).await;
    }
    app.route_events(&t.workspace_id).await;
    app.run_deliveries().await;
    let log = deliveries(&app, &t, endpoint.id()).await;
    assert_eq!(log.len(), 12, "one delivery per event");
    let received: std::collections::HashSet<String> = flaky
        .requests()
        .iter()
        .filter(|r| r.header("switchboard-delivery-id").is_some())
        .map(|r| r.json()["id"].as_str().unwrap().to_owned())
        .collect();
    for delivery in &log {
        let attempts = delivery["attempts"].as_array().unwrap();
        match delivery["status"].as_str() {
            Some("succeeded") => {
                assert_eq!(attempts.last().unwrap()["status_code"], 200);
                assert!(received.contains(delivery["event_id"].as_str().unwrap()));
            }
            Some("failed") => assert_eq!(attempts.len(), 5, "{delivery}"),
            other => panic!("a delivery left {other:?}: {delivery}"),
        }
    }
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_new_one_for_a_day() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let hooks = receiver(Arc::new(AtomicU16::new(200))).await;
    let endpoint = subscribe(&app, &t, &hooks.url, &["appointment.created"]).await;
    let old = endpoint.body["secret"].as_str().unwrap().to_owned();
    let rotated = app
        .post(&format!("/v1/webhooks/{}/rotate-secret", endpoint.id()))
        .bearer(&t.key)
        .send()
        .await;
    rotated.expect(200);
    let new = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(rotated.body["previous_secret_expires_at"].is_string());

    book(&app, &t, 1).await;
    app.route_events(&t.workspace_id).await;
    app.run_deliveries().await;
    let during = &hooks.requests()[0];
    let now = app.clock.now().timestamp();
    assert!(
        timed_valid(during, &new, now) && timed_valid(during, &old, now),
        "both secrets sign the t= form"
    );
    assert!(voxforge_valid(
        during.body.as_bytes(),
        during.header("x-switchboard-signature").unwrap(),
        &old
    ));

    app.clock.advance(chrono::Duration::hours(25));
    book(&app, &t, 2).await;
    app.route_events(&t.workspace_id).await;
    app.run_deliveries().await;
    let after = &hooks.requests()[1];
    let now = app.clock.now().timestamp();
    assert!(
        timed_valid(after, &new, now) && !timed_valid(after, &old, now),
        "the old secret has expired"
    );
    assert!(voxforge_valid(
        after.body.as_bytes(),
        after.header("x-switchboard-signature").unwrap(),
        &new
    ));
    let got = app
        .get(&format!("/v1/webhooks/{}", endpoint.id()))
        .bearer(&t.key)
        .send()
        .await;
    assert!(got.body["previous_secret_expires_at"].is_null());
}

#[tokio::test]
async fn a_test_delivery_is_sent_at_once_and_logged() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let hooks = receiver(Arc::new(AtomicU16::new(204))).await;
    let endpoint = subscribe(&app, &t, &hooks.url, &["analysis.complete", "call.ended"]).await;
    let secret = endpoint.body["secret"].as_str().unwrap().to_owned();
    let res = app
        .post(&format!("/v1/webhooks/{}/test", endpoint.id()))
        .bearer(&t.key)
        .send()
        .await;
    res.expect(201);
    assert_eq!(
        (res.body["status"].as_str(), res.body["event"].as_str()),
        (Some("succeeded"), Some("analysis.complete"))
    );
    let sent = &hooks.requests()[0];
    assert_eq!(sent.json()["data"]["test"], true);
    assert!(voxforge_valid(
        sent.body.as_bytes(),
        sent.header("x-switchboard-signature").unwrap(),
        &secret
    ));
    let chosen = app
        .post(&format!("/v1/webhooks/{}/test", endpoint.id()))
        .bearer(&t.key)
        .json(json!({"event": "call.ended"}))
        .send()
        .await;
    assert_eq!(chosen.body["event"], "call.ended");
    assert_eq!(deliveries(&app, &t, endpoint.id()).await.len(), 2);
    // Kept beside the event log: the stream's router never sends it to other endpoints...
    app.route_events(&t.workspace_id).await;
    assert!(app.run_deliveries().await.is_empty());
    // ...and it can be redelivered.
    let path = format!("/v1/webhooks/{}/deliveries/{}/redeliver", endpoint.id(), res.id());
    app.post(&path).bearer(&t.key).send().await.expect(202);
    assert_eq!(
        app.run_deliveries().await,
        [Outcome::Attempted(DeliveryStatus::Succeeded)]
    );
    assert_eq!(hooks.requests().len(), 3);
}

#[tokio::test]
async fn deliveries_of_a_deleted_or_disabled_endpoint_stop() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let hooks = receiver(Arc::new(AtomicU16::new(200))).await;
    let endpoint = subscribe(&app, &t, &hooks.url, &["appointment.created"]).await;
    app.patch(&format!("/v1/webhooks/{}", endpoint.id()))
        .bearer(&t.key)
        .json(json!({"status": "disabled"}))
        .send()
        .await
        .expect(200);
    book(&app, &t, 3).await;
    app.route_events(&t.workspace_id).await;
    assert!(
        app.run_deliveries().await.is_empty(),
        "a disabled endpoint gets nothing"
    );

    app.patch(&format!("/v1/webhooks/{}", endpoint.id()))
        .bearer(&t.key)
        .json(json!({"status": "enabled"}))
        .send()
        .await
        .expect(200);
    book(&app, &t, 4).await;
    app.route_events(&t.workspace_id).await;
    app.delete(&format!("/v1/webhooks/{}", endpoint.id()))
        .bearer(&t.key)
        .send()
        .await
        .expect(200);
    let outcomes = app.run_deliveries().await;
    assert_eq!(outcomes.last(), Some(&Outcome::Attempted(DeliveryStatus::Failed)));
    assert!(hooks.requests().is_empty());
}

#[tokio::test]
async fn urls_must_be_https_to_public_hosts_in_production() {
    let app = TestApp::with(Options {
        production: true,
        ..Options::default()
    })
    .await;
    let t = app.tenant().await;
    let before = app.snapshot(&t.workspace_id).await;
    for url in [
        "http://hooks.example.com/in",
        "https://127.0.0.1/in",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/in",
        "https://10.0.0.8/in",
        "https://localhost/in",
        "https://localhost.:8443/in",
        "https://metadata.google.internal/",
        "https://user:pass@hooks.example.com/",
        "nope",
    ] {
        let res = app
            .post("/v1/webhooks")
            .bearer(&t.key)
            .json(json!({"url": url, "events": ["call.ended"]}))
            .send()
            .await;
        assert_eq!(
            (res.status, res.code(), res.param()),
            (422, "validation_failed", "url"),
            "{url}: {}",
            res.text
        );
    }
    assert_eq!(app.snapshot(&t.workspace_id).await, before, "nothing written");
}

#[tokio::test]
async fn locally_plain_http_goes_to_loopback_only() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    subscribe(&app, &t, "http://127.0.0.1:9/in", &["call.ended"]).await;
    let res = app
        .post("/v1/webhooks")
        .bearer(&t.key)
        .json(json!({"url": "http://hooks.example.com/in", "events": ["call.ended"]}))
        .send()
        .await;
    res.expect_error(422, "validation_failed");
    let res = app
        .post("/v1/webhooks")
        .bearer(&t.key)
        .json(json!({"url": "https://hooks.example.com/in", "events": []}))
        .send()
        .await;
    assert_eq!((res.status, res.param()), (422, "events"));
    let res = app
        .post("/v1/webhooks")
        .bearer(&t.key)
        .json(json!({"url": "https://hooks.example.com/in", "events": ["call.teleported"]}))
        .send()
        .await;
    assert_eq!(
        (res.status, res.code(), res.param()),
        (400, "invalid_type", "events[0]"),
        "{}",
        res.text
    );
}

#[tokio::test]
async fn a_workspace_has_at_most_sixteen_endpoints() {
    let app = TestApp::with(Options {
        signup_plan: switchboard_core::model::Plan::Enterprise,
        ..Options::default()
    })
    .await;
    let t = app.tenant().await;
    for _ in 0..16 {
        subscribe(&app, &t, "https://hooks.example.com/in", &["call.ended"]).await;
    }
    let res = app
        .post("/v1/webhooks")
        .bearer(&t.key)
        .json(json!({"url": "https://hooks.example.com/in", "events": ["call.ended"]}))
        .send()
        .await;
    res.expect_error(422, "limit_reached");
}

#[tokio::test]
async fn a_delivery_is_redelivered_through_its_own_endpoint_only() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let hooks = receiver(Arc::new(AtomicU16::new(200))).await;
    let (one, two) = (
        subscribe(&app, &t, &hooks.url, &["appointment.created"]).await,
        subscribe(&app, &t, &hooks.url, &["call.ended"]).await,
    );
    let sent = app
        .post(&format!("/v1/webhooks/{}/test", one.id()))
        .bearer(&t.key)
        .send()
        .await;
    for path in [
        format!("/v1/webhooks/{}/deliveries/{}/redeliver", two.id(), sent.id()),
        format!(
            "/v1/webhooks/{}/deliveries/dlv_01JD3QZ9R6X4Y7T2W8V5N1M0KA/redeliver",
            one.id()
        ),
        format!("/v1/webhooks/{}/deliveries/nope/redeliver", one.id()),
    ] {
        app.post(&path)
            .bearer(&t.key)
            .send()
            .await
            .expect_error(404, "delivery_not_found");
    }
}

#[tokio::test]
async fn a_poison_delivery_message_fails_alone() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let hooks = receiver(Arc::new(AtomicU16::new(200))).await;
    let endpoint = subscribe(&app, &t, &hooks.url, &["call.ended"]).await;
    let test = app
        .post(&format!("/v1/webhooks/{}/test", endpoint.id()))
        .bearer(&t.key)
        .send()
        .await;
    let path = format!("/v1/webhooks/{}/deliveries/{}/redeliver", endpoint.id(), test.id());
    app.post(&path).bearer(&t.key).send().await.expect(202);
    let queued = app
        .sqs
        .receive_message()
        .queue_url(&app.delivery_queue_url)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    let good: aws_lambda_events::event::sqs::SqsMessage = serde_json::from_value(json!({
        "messageId": "good", "body": queued[0].body.clone().unwrap()
    }))
    .unwrap();
    let poison: aws_lambda_events::event::sqs::SqsMessage =
        serde_json::from_value(json!({"messageId": "poison", "body": "{\"delivery\": 1}"})).unwrap();
    let mut batch = aws_lambda_events::event::sqs::SqsEvent::default();
    batch.records = vec![poison, good];
    let dispatcher = &app.dispatcher;
    let response =
        switchboard_runtime::worker::process_batch(batch, &|m| webhook_dispatcher::handle(dispatcher, m)).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["poison"]);
    assert_eq!(hooks.requests().len(), 2, "the good one was delivered");
}

/// A queue that keeps what is sent to it, with the delays asked for.
#[derive(Default)]
struct Kept(std::sync::Mutex<Vec<(DeliveryJob, Duration)>>);

#[async_trait::async_trait]
impl DeliveryQueue for Kept {
    async fn enqueue(&self, jobs: &[DeliveryJob], delay: Duration) -> anyhow::Result<()> {
        self.0.lock().unwrap().extend(jobs.iter().map(|j| (j.clone(), delay)));
        Ok(())
    }
}

#[tokio::test]
async fn retries_wait_30_s_5_min_30_min_and_2_h_chaining_the_long_waits() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let hooks = receiver(Arc::new(AtomicU16::new(500))).await;
    subscribe(&app, &t, &hooks.url, &["appointment.created"]).await;
    book(&app, &t, 5).await;
    app.route_events(&t.workspace_id).await;
    let first: DeliveryJob = {
        let out = app
            .sqs
            .receive_message()
            .queue_url(&app.delivery_queue_url)
            .send()
            .await
            .unwrap();
        serde_json::from_str(out.messages.unwrap()[0].body.as_deref().unwrap()).unwrap()
    };
    let kept = Arc::new(Kept::default());
    let dispatcher = Dispatcher {
        endpoints: Arc::new(app.store.clone()),
        deliveries: Arc::new(app.store.clone()),
        events: Arc::new(app.store.clone()),
        queue: kept.clone(),
        secrets: app.dispatcher.secrets.clone(),
        transport: app.dispatcher.transport.clone(),
        schedule: RetrySchedule::default(),
        clock: app.clock.clone(),
    };
    let next = || kept.0.lock().unwrap().pop().expect("a job was queued");
    assert_eq!(
        dispatcher.run(&first).await.unwrap(),
        Outcome::Attempted(DeliveryStatus::Pending)
    );
    let mut expected_waits = vec![30, 300, 1800, 7200].into_iter();
    loop {
        let (job, delay) = next();
        let wait = expected_waits.next().unwrap();
        assert_eq!(job.not_before, app.clock.now().timestamp() + wait);
        assert_eq!(
            delay,
            Duration::from_secs(wait.min(900) as u64),
            "SQS delays at most 15 minutes"
        );
        // Each message comes back after its delay; until the wait is over, it is queued again.
        let mut job = job;
        let mut delay = delay;
        loop {
            app.clock.advance(chrono::Duration::from_std(delay).unwrap());
            match dispatcher.run(&job).await.unwrap() {
                Outcome::Waiting => (job, delay) = next(),
                Outcome::Attempted(status) => {
                    if status == DeliveryStatus::Failed {
                        assert!(expected_waits.next().is_none(), "failed after the last wait");
                        assert_eq!(hooks.requests().len(), 5);
                        return;
                    }
                    break;
                }
                Outcome::Skipped => panic!("a pending delivery was skipped"),
            }
        }
    }
}
