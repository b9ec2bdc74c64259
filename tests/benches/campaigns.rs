//! Campaign benchmarks (figures, not tests) against DynamoDB Local and moto; `scripts/bench
//! campaigns` starts those and runs this with `cargo bench`:
//!
//!   import [--rows N] [--workers W]       one audience upload of N rows, from the request to
//!                                         the import's completion, W Lambda instances
//!   dialer [--targets N] [--concurrency C] [--workers W]
//!                                         dials per second and slot-refill latency of a
//!                                         campaign of N zero-length calls (busy numbers) at
//!                                         `max_concurrent_calls` C, W Lambda instances per queue
//!
//! The dialer runs as deployed: its jobs and the calls' jobs go through SQS (moto) with the
//! system clock, the simulator places the calls, the call worker reports them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use call_worker::Network;
use serde_json::json;
use switchboard_core::clock::Clock;
use switchboard_core::error::ProviderError;
use switchboard_core::model::{AvailableNumber, Call, Campaign, CampaignStatus, ImportStatus, PhoneNumber, Voice};
use switchboard_core::ports::{CallJob, CallQueue};
use switchboard_core::ports::{
    CampaignStore, DialerJob, NumberSearch, OutboundCall, ProviderCall, Repository, Speech, Telephony,
};
use switchboard_sqs::SqsQueue;
use switchboard_telephony::simulator::Simulator;
use switchboard_tests::{BenchArgs, Tenant, TestApp, afternoon_zone, draft_campaign};

#[tokio::main]
async fn main() {
    let args = BenchArgs::from_env();
    let workers = args.number("--workers", 4);
    match args.command() {
        Some("import") => import(args.number("--rows", 100_000), workers).await,
        Some("dialer") => {
            dial(
                args.number("--targets", 10_000),
                args.number("--concurrency", 100),
                workers,
            )
            .await
        }
        other => panic!("import or dialer, not {other:?}"),
    }
}

/// `n` different valid US numbers.
fn numbers(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("+1415{}{:04}", 200 + i / 10_000, i % 10_000))
        .collect()
}

/// `n` different simulator numbers that are busy: calls that end as they start.
fn busy_numbers(n: usize) -> Vec<String> {
    let areas = [
        "415", "628", "650", "510", "408", "925", "707", "209", "530", "559", "661", "805", "818", "916", "951",
    ];
    assert!(n <= areas.len() * 800, "at most {} numbers", areas.len() * 800);
    (0..n)
        .map(|i| format!("+1{}{}0001", areas[i / 800], 200 + i % 800))
        .collect()
}

fn csv_of(phones: &[String]) -> String {
    let mut csv = String::from("phone\n");
    for phone in phones {
        csv.push_str(phone);
        csv.push('\n');
    }
    csv
}

/// `workers` pollers of `queue_url` until `done` (each looks after every receive, which waits
/// up to 1 s for messages), each handling its batches of up to 10 as a Lambda instance does
/// (`switchboard_runtime::worker`: 8 messages at once, then one batch delete). Gives up after an hour.
async fn poll(app: &TestApp, queue_url: &str, workers: usize, done: impl AsyncFn() -> bool, run: impl AsyncFn(String)) {
    use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
    use futures::stream::{self, StreamExt};
    let run = &run;
    let poller = async || {
        while !done().await {
            let out = app
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                continue;
            }
            let handled: Vec<DeleteMessageBatchRequestEntry> = stream::iter(messages.into_iter().enumerate())
                .map(|(i, message)| async move {
                    run(message.body.unwrap()).await;
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(message.receipt_handle.unwrap())
                        .build()
                        .unwrap()
                })
                .buffer_unordered(8)
                .collect()
                .await;
            app.sqs
                .delete_message_batch()
                .queue_url(queue_url)
                .set_entries(Some(handled))
                .send()
                .await
                .unwrap();
        }
    };
    let pollers = futures::future::join_all((0..workers).map(|_| poller()));
    tokio::time::timeout(Duration::from_secs(3600), pollers)
        .await
        .expect("the work was done within an hour");
}

/// Uploads `phones` to the campaign and runs the import's chunks; the time it took.
async fn upload(app: &TestApp, t: &Tenant, campaign: &str, phones: &[String], workers: usize) -> (Duration, Duration) {
    let started = Instant::now();
    let res = app
        .post(&format!("/v1/campaigns/{campaign}/audience"))
        .bearer(&t.key)
        .raw("text/csv", csv_of(phones))
        .send()
        .await;
    let answered = started.elapsed();
    if res.status == 201 {
        return (answered, answered);
    }
    res.expect(202);
    let path = format!("/v1/campaigns/{campaign}/imports/{}", res.body["id"].as_str().unwrap());
    let import_id = res.body["id"].as_str().unwrap();
    let done = async || {
        CampaignStore::audience_import(&app.store, &t.workspace_id, import_id)
            .await
            .unwrap()
            .is_some_and(|i| i.status == ImportStatus::Completed)
    };
    poll(app, &app.dialer_queue_url, workers, done, async |body| {
        let job: DialerJob = serde_json::from_str(&body).unwrap();
        app.dialer.run(&job).await.unwrap();
    })
    .await;
    let imported = app.get(&path).bearer(&t.key).send().await;
    assert_eq!(
        imported.body["accepted"].as_u64(),
        Some(phones.len() as u64),
        "{}",
        imported.text
    );
    (answered, started.elapsed())
}

async fn import(rows: usize, workers: usize) {
    let app = TestApp::unlimited().await;
    let t = app.tenant().await;
    let campaign = draft_campaign(&app, &t, json!({})).await;
    let phones = numbers(rows);
    let (answered, total) = upload(&app, &t, &campaign, &phones, workers).await;
    println!(
        "audience import: {rows} rows (CSV), {workers} Lambda instances (8 jobs each at once), release build, DynamoDB Local + moto:"
    );
    println!("  request answered in {:.2} s", answered.as_secs_f64());
    println!(
        "  imported in {:.1} s: {:.0} rows/s",
        total.as_secs_f64(),
        rows as f64 / total.as_secs_f64()
    );
}

/// Notes when each call is placed.
struct TimedTelephony {
    inner: Simulator,
    placed: Mutex<Vec<Instant>>,
}

#[async_trait::async_trait]
impl Telephony for TimedTelephony {
    fn provider(&self) -> &'static str {
        self.inner.provider()
    }
    fn is_live(&self) -> bool {
        self.inner.is_live()
    }
    async fn attach_number(&self, phone_e164: &str) -> Result<Option<String>, ProviderError> {
        self.inner.attach_number(phone_e164).await
    }
    async fn search_numbers(&self, search: &NumberSearch) -> Result<Vec<AvailableNumber>, ProviderError> {
        self.inner.search_numbers(search).await
    }
    async fn provision_number(&self, phone_e164: &str) -> Result<Option<String>, ProviderError> {
        self.inner.provision_number(phone_e164).await
    }
    async fn release_number(&self, number: &PhoneNumber) -> Result<(), ProviderError> {
        self.inner.release_number(number).await
    }
    async fn place_call(&self, call: &OutboundCall) -> Result<String, ProviderError> {
        self.placed.lock().unwrap().push(Instant::now());
        self.inner.place_call(call).await
    }
    async fn hang_up(&self, provider_call_id: &str) -> Result<(), ProviderError> {
        self.inner.hang_up(provider_call_id).await
    }
    async fn fetch_call(&self, provider_call_id: &str) -> Result<Option<ProviderCall>, ProviderError> {
        self.inner.fetch_call(provider_call_id).await
    }
    async fn recording(&self, call: &Call, voice: &Voice) -> Result<Option<Speech>, ProviderError> {
        self.inner.recording(call, voice).await
    }
    async fn discard_recording(&self, call: &Call) -> Result<(), ProviderError> {
        self.inner.discard_recording(call).await
    }
}

/// Notes when each campaign call ends (its status became final).
struct TimedJobs {
    inner: SqsQueue,
    /// When each call first ended (a repeated final report queues its end again).
    ended: Mutex<(std::collections::HashSet<String>, Vec<Instant>)>,
}

#[async_trait::async_trait]
impl CallQueue for TimedJobs {
    async fn enqueue(&self, job: &CallJob, delay: Duration) -> anyhow::Result<()> {
        if let CallJob::CampaignCallEnded { call_id, .. } = job {
            let mut ended = self.ended.lock().unwrap();
            if ended.0.insert(call_id.clone()) {
                ended.1.push(Instant::now());
            }
        }
        self.inner.send(std::slice::from_ref(job), delay).await
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((p / 100.0 * sorted.len() as f64) as usize).min(sorted.len() - 1)]
}

async fn dial(targets: usize, concurrency: usize, workers: usize) {
    let app = TestApp::unlimited().await;
    let t = app.tenant().await;
    let campaign = draft_campaign(
        &app,
        &t,
        json!({"max_concurrent_calls": concurrency, "timezone": afternoon_zone()}),
    )
    .await;
    upload(&app, &t, &campaign, &busy_numbers(targets), workers).await;
    app.attest(&t, &campaign).await;

    let sqs = app.sqs.clone();
    let jobs = Arc::new(TimedJobs {
        inner: SqsQueue::new(sqs.clone(), &app.call_queue_url),
        ended: Mutex::default(),
    });
    let telephony = Arc::new(TimedTelephony {
        inner: Simulator::new(jobs.clone()),
        placed: Mutex::default(),
    });
    let store = app.store.clone();
    let providers = Arc::new(switchboard_tests::FixedProviders {
        telephony: Some(telephony.clone()),
        llm: Arc::new(switchboard_llm::offline::Offline),
    });
    let dialer_jobs = Arc::new(SqsQueue::new(sqs.clone(), &app.dialer_queue_url));
    let dialer = || {
        switchboard_runtime::dialer(
            &store,
            providers.clone(),
            jobs.clone(),
            dialer_jobs.clone(),
            Clock::System,
        )
    };
    let campaign_dialer = dialer();
    let call_worker = call_worker::State {
        network: Network {
            engine: switchboard_runtime::engine(&store, providers.clone()),
            calls: Arc::new(store.clone()),
            wallets: Arc::new(store.clone()),
            agents: Arc::new(store.clone()),
            jobs: jobs.clone(),
            time_scale: 0.0,
        },
        dialer: dialer(),
        providers: providers.clone(),
        recordings: app.recordings.clone(),
        accounts: Arc::new(store.clone()),
        clock: Clock::System,
    };

    app.ops.take();
    let started = Instant::now();
    app.post(&format!("/v1/campaigns/{campaign}/start"))
        .bearer(&t.key)
        .send()
        .await
        .expect(200);
    // Read from the table: the test app's API runs on a frozen clock, so thousands of polls
    // would end in its rate limit.
    let status = async || {
        Repository::<Campaign>::get(&store, &t.workspace_id, &campaign)
            .await
            .unwrap()
            .is_some_and(|c| c.value.status == CampaignStatus::Completed)
    };
    let dialing = poll(&app, &app.dialer_queue_url, workers, &status, async |body| {
        campaign_dialer
            .run(&serde_json::from_str(&body).unwrap())
            .await
            .unwrap();
    });
    let calling = poll(&app, &app.call_queue_url, workers, &status, async |body| {
        call_worker::run(&call_worker, serde_json::from_str(&body).unwrap())
            .await
            .unwrap();
    });
    futures::join!(dialing, calling);
    let total = started.elapsed();
    let mut operations = std::collections::BTreeMap::<String, usize>::new();
    for op in app.ops.take() {
        *operations.entry(op).or_default() += 1;
    }

    let placed = telephony.placed.lock().unwrap().clone();
    let ended = jobs.ended.lock().unwrap().1.clone();
    assert_eq!(
        (placed.len(), ended.len()),
        (targets, targets),
        "every target called once"
    );
    // The k-th call to end frees the slot the (concurrency + k)-th call takes.
    let mut refill: Vec<f64> = ended
        .iter()
        .zip(placed.iter().skip(concurrency))
        .map(|(end, next)| next.saturating_duration_since(*end).as_secs_f64() * 1000.0)
        .collect();
    refill.sort_by(f64::total_cmp);
    let span = placed.last().unwrap().duration_since(placed[0]).as_secs_f64();
    println!(
        "dialer: {targets} targets, max_concurrent_calls {concurrency}, zero-length (busy) simulated calls, {workers} Lambda instances per queue (8 jobs each at once), release build, DynamoDB Local + moto:"
    );
    println!(
        "  {targets} calls placed in {span:.1} s: {:.0} dials/s; campaign completed {:.1} s after start",
        targets as f64 / span,
        total.as_secs_f64()
    );
    println!(
        "  slot refill (a call ends -> the next call placed): p50 {:.0} ms   p99 {:.0} ms   max {:.0} ms",
        percentile(&refill, 50.0),
        percentile(&refill, 99.0),
        refill.last().unwrap()
    );
    let per_call: Vec<String> = operations
        .iter()
        .map(|(op, count)| format!("{op} {:.1}", *count as f64 / targets as f64))
        .collect();
    println!(
        "  DynamoDB requests per call (status polling included): {}",
        per_call.join(", ")
    );
}
