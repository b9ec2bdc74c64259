//! Workflow runs (figures, not a test): `scripts/bench workflows` starts DynamoDB Local and moto
//! and runs this with `cargo bench`:
//!
//!   [--runs N] [--workers W] [--events M]
//!
//! A three-step workflow (an HTTP step through a connection to a local receiver, a condition,
//! a contact upserted) runs through the in-process API, the real SQS queue (moto) and W runner
//! workers: N runs started at once, then executions per second until every one succeeded. Then
//! M `call.ended` events go through the event router one at a time, each timed from routing to
//! the receiver getting the run's first step (event → first step, p50/p99).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use serde_json::json;
use switchboard_core::model::{Event, EventType, Execution, ExecutionStatus};
use switchboard_core::ports::{ListQuery, Repository};
use switchboard_tests::fake::FakeServer;
use switchboard_tests::{BenchArgs, TestApp, unique_phone};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let args = BenchArgs::from_env();
    let runs = args.number("--runs", 500).max(1);
    let workers = args.number("--workers", 8).max(1);
    let events = args.number("--events", 200).max(1);
    let app = TestApp::unlimited().await;
    let t = app.tenant().await;
    let received: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let log = received.clone();
    let receiver = FakeServer::start(move |_, _| {
        log.lock().unwrap().push(Instant::now());
        (200, "application/json", r#"{"id": "ok"}"#.into())
    })
    .await;
    let connection = app
        .create(
            &t,
            "/v1/connections",
            json!({"connector_id": "http", "name": "receiver", "base_url": receiver.url}),
        )
        .await;
    let workflow = app
        .create(
            &t,
            "/v1/workflows",
            json!({"name": "Three steps", "status": "live", "steps": [
                {"id": "tell", "type": "http", "connection_id": connection, "action": "post",
                 "input": {"path": "/calls", "body": {"to": "{{trigger.data.to}}"}}},
                {"id": "answered", "type": "condition", "value": "{{trigger.data.status}}", "comparison": "equals",
                 "with": "completed", "otherwise": null},
                {"id": "contact", "type": "upsert_contact", "phone": "{{trigger.data.to}}", "attributes": {"last": "call"}}]}),
        )
        .await;
    let ws = t.workspace_id.clone();
    let executions: &dyn Repository<Execution> = &app.store;

    // Executions per second.
    let starting = Instant::now();
    stream::iter(0..runs)
        .for_each_concurrent(16, |_| {
            let (app, t, workflow) = (&app, &t, &workflow);
            async move {
                let res = app
                    .post(&format!("/v1/workflows/{workflow}/run"))
                    .bearer(&t.key)
                    .json(json!({"data": {"to": unique_phone(), "status": "completed"}}))
                    .send()
                    .await;
                res.expect(201);
            }
        })
        .await;
    let started = starting.elapsed();
    let draining = Instant::now();
    stream::iter(0..workers)
        .for_each_concurrent(workers, |_| async {
            while !app.run_workflow_batch().await.is_empty() {}
        })
        .await;
    let drained = draining.elapsed();
    let all = executions
        .query_all(
            &ws,
            ListQuery {
                limit: 100,
                ..ListQuery::default()
            },
        )
        .await
        .unwrap();
    let succeeded = all
        .iter()
        .filter(|e| e.value.status == ExecutionStatus::Succeeded)
        .count();
    assert_eq!(succeeded, runs, "every run succeeds");
    println!(
        "workflows: {runs} runs of 3 steps started in {:.1} s ({:.0}/s through the API), run in {:.1} s by {workers} workers: {:.1} executions/s, {:.1} steps/s",
        started.as_secs_f64(),
        runs as f64 / started.as_secs_f64(),
        drained.as_secs_f64(),
        runs as f64 / drained.as_secs_f64(),
        3.0 * runs as f64 / drained.as_secs_f64(),
    );

    // Event → first step.
    app.create(
        &t,
        "/v1/triggers",
        json!({"workflow_id": workflow, "type": "event", "event": "call.ended", "filter": {"status": "completed"}}),
    )
    .await;
    let mut latencies = Vec::with_capacity(events);
    for i in 0..events {
        let before = received.lock().unwrap().len();
        let event = Event::new(
            EventType::CallEnded,
            app.clock.now(),
            json!({"id": format!("call_bench_{i}"), "to": unique_phone(), "status": "completed"}),
        );
        let routed = Instant::now();
        app.event_router.route(&ws, &event, app.clock.now()).await.unwrap();
        let deadline = routed + Duration::from_secs(30);
        let first_step = loop {
            app.run_workflow_batch().await;
            if let Some(at) = received.lock().unwrap().get(before).copied() {
                break at;
            }
            assert!(
                Instant::now() < deadline,
                "event {i}'s first step did not run within 30 s"
            );
        };
        latencies.push(first_step.duration_since(routed).as_secs_f64() * 1000.0);
        while !app.run_workflow_batch().await.is_empty() {}
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "workflows: event -> first step (router, queue, runner, receiver) over {events} events: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().unwrap(),
    );
}
