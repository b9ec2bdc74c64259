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
use switchboard_core::ports::{CallJob, CallQueue, CampaignCallEnd};
use switchboard_core::ports::{
    CampaignStore, DialerJob, NumberSearch, OutboundCall, ProviderCall, Repository, Speech, Telephony,
};
use switchboard_domain::calls::CampaignCallEnds;
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
    let raw = raw_batch_writes(rows, workers * 8).await;
    println!(
        "  raw BatchWriteItem of 25 items with an index entry each, {} at a time, on the same DynamoDB Local: {:.0} items/s; the import runs at {:.0} % of it",
        workers * 8,
        raw,
        100.0 * rows as f64 / total.as_secs_f64() / raw
    );
}

/// Items per second DynamoDB Local writes in BatchWriteItems of 25 (`rows` of them), each with
/// an entry in GSI1 as the import's targets have.
async fn raw_batch_writes(rows: usize, concurrency: usize) -> f64 {
    use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
    let dynamodb = aws_sdk_dynamodb::Client::new(&switchboard_tests::sdk().await);
    let table = switchboard_tests::table_name();
    let run = format!("bench-{}", rand::random::<u32>());
    let batches = rows.div_ceil(25);
    let (_, elapsed) = switchboard_tests::timed(batches, concurrency, |b| {
        let (dynamodb, table, run) = (&dynamodb, &table, &run);
        async move {
            let mut requests: Vec<WriteRequest> = (b * 25..(b * 25 + 25).min(rows))
                .map(|i| {
                    // Each with an entry in GSI1, as a pending target has in its campaign's queue.
                    let item = std::collections::HashMap::from([
                        ("PK".to_owned(), AttributeValue::S(run.clone())),
                        ("SK".to_owned(), AttributeValue::S(format!("ROW#{i}"))),
                        ("GSI1PK".to_owned(), AttributeValue::S(format!("{run}#QUEUE"))),
                        (
                            "GSI1SK".to_owned(),
                            AttributeValue::S(format!("2026-06-02T16:00:00Z#+1415{i:07}")),
                        ),
                        ("phone".to_owned(), AttributeValue::S(format!("+1415{i:07}"))),
                    ]);
                    WriteRequest::builder()
                        .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                        .build()
                })
                .collect();
            while !requests.is_empty() {
                let out = dynamodb
                    .batch_write_item()
                    .request_items(table.clone(), requests)
                    .send()
                    .await
                    .unwrap();
                requests = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(table))
                    .unwrap_or_default();
            }
        }
    })
    .await;
    rows as f64 / elapsed.as_secs_f64()
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
    fn call_id_for(&self, call_id: &str) -> Option<String> {
        self.inner.call_id_for(call_id)
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

/// Counts the call queue's messages.
struct CountedJobs {
    inner: SqsQueue,
    messages: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl CallQueue for CountedJobs {
    async fn enqueue(&self, job: &CallJob, delay: Duration) -> anyhow::Result<()> {
        self.messages.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.send(std::slice::from_ref(job), delay).await
    }
}

/// Notes when each campaign call ends (its status became final), then settles it.
struct TimedEnds {
    dialer: switchboard_domain::campaigns::Dialer,
    /// When each call first ended (a step tried again settles its end again).
    ended: Mutex<(std::collections::HashSet<String>, Vec<Instant>)>,
}

#[async_trait::async_trait]
impl CampaignCallEnds for TimedEnds {
    async fn campaign_call_ended(
        &self,
        ws: &str,
        call_id: &str,
        end: &CampaignCallEnd,
    ) -> Result<(), switchboard_core::Error> {
        {
            let mut ended = self.ended.lock().unwrap();
            if ended.0.insert(call_id.to_owned()) {
                ended.1.push(Instant::now());
            }
        }
        self.dialer.call_ended(ws, call_id, end).await
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

    let sdk = switchboard_tests::sdk().await;
    let sqs_endpoint = switchboard_runtime::endpoint_url("SQS");
    let jobs = Arc::new(CountedJobs {
        inner: SqsQueue::new(&sdk, sqs_endpoint.as_deref(), &app.call_queue_url),
        messages: Default::default(),
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
    let dialer_jobs = Arc::new(SqsQueue::new(&sdk, sqs_endpoint.as_deref(), &app.dialer_queue_url));
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
    let ends = Arc::new(TimedEnds {
        dialer: dialer(),
        ended: Mutex::default(),
    });
    let call_worker = call_worker::State {
        network: Network {
            engine: switchboard_runtime::engine(&store, providers.clone()),
            calls: Arc::new(store.clone()),
            wallets: Arc::new(store.clone()),
            agents: Arc::new(store.clone()),
            jobs: jobs.clone(),
            campaign_ends: ends.clone(),
            time_scale: 0.0,
        },
        dialer: Arc::new(dialer()),
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
    // would end in its rate limit. Each poll is one GetItem, taken out of the count below.
    let polls = std::sync::atomic::AtomicUsize::new(0);
    let status = async || {
        polls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
    let mut latencies = std::collections::BTreeMap::<String, Vec<f64>>::new();
    for op in app.ops.take_operations() {
        if let Some(latency) = op.latency {
            latencies
                .entry(op.name.clone())
                .or_default()
                .push(latency.as_secs_f64() * 1000.0);
        }
        *operations.entry(op.name).or_default() += 1;
    }
    if let Some(gets) = operations.get_mut("GetItem") {
        *gets -= polls.load(std::sync::atomic::Ordering::Relaxed);
    }
    let requests: usize = operations.values().sum();
    let messages = jobs.messages.load(std::sync::atomic::Ordering::Relaxed);

    let placed = telephony.placed.lock().unwrap().clone();
    let ended = ends.ended.lock().unwrap().1.clone();
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
        .map(|(op, count)| format!("{op} {:.2}", *count as f64 / targets as f64))
        .collect();
    println!(
        "  DynamoDB requests per call: {:.2} ({})",
        requests as f64 / targets as f64,
        per_call.join(", ")
    );
    let latency: Vec<String> = latencies
        .iter_mut()
        .map(|(op, ms)| {
            ms.sort_by(f64::total_cmp);
            format!("{op} {:.0}/{:.0}", percentile(ms, 50.0), percentile(ms, 99.0))
        })
        .collect();
    println!(
        "  DynamoDB Local's answer times meanwhile, p50/p99 ms: {}",
        latency.join(", ")
    );
    println!(
        "  call-queue messages per call: {:.2}",
        messages as f64 / targets as f64
    );
    let raw = raw_rates(workers * 8).await;
    println!(
        "  raw rates of the same emulators, {} at a time: DynamoDB Local UpdateItem {:.0}/s, moto SQS send + receive + delete {:.0} messages/s",
        workers * 8,
        raw.dynamodb,
        raw.sqs
    );
    let dials = targets as f64 / span;
    println!(
        "  the dialer's {:.0} DynamoDB requests/s are {:.0} % of the raw UpdateItem rate; its {:.0} call-queue messages/s {:.0} % of the raw SQS rate",
        dials * requests as f64 / targets as f64,
        100.0 * dials * requests as f64 / targets as f64 / raw.dynamodb,
        dials * messages as f64 / targets as f64,
        100.0 * dials * messages as f64 / targets as f64 / raw.sqs
    );
}

struct RawRates {
    dynamodb: f64,
    sqs: f64,
}

/// Requests per second the emulators answer without our code: UpdateItems of distinct items on
/// DynamoDB Local, and messages through a queue of moto's SQS (sent, received, deleted).
async fn raw_rates(concurrency: usize) -> RawRates {
    use aws_sdk_dynamodb::types::AttributeValue;
    let sdk = switchboard_tests::sdk().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let table = switchboard_tests::table_name();
    let run = format!("bench-{}", rand::random::<u32>());
    let n = 4_000;
    let (_, updates) = switchboard_tests::timed(n, concurrency, |i| {
        let (dynamodb, table, run) = (&dynamodb, &table, &run);
        async move {
            dynamodb
                .update_item()
                .table_name(table)
                .key("PK", AttributeValue::S(run.clone()))
                .key("SK", AttributeValue::S(format!("ITEM#{i}")))
                .update_expression("ADD n :one")
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .send()
                .await
                .unwrap();
        }
    })
    .await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = sqs
        .create_queue()
        .queue_name(&run)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let rounds = 400;
    let (_, messages) = switchboard_tests::timed(rounds, concurrency, |i| {
        let (sqs, queue) = (&sqs, &queue);
        async move {
            sqs.send_message()
                .queue_url(queue)
                .message_body(format!("{{\"n\":{i}}}"))
                .send()
                .await
                .unwrap();
            let out = sqs
                .receive_message()
                .queue_url(queue)
                .max_number_of_messages(1)
                .send()
                .await
                .unwrap();
            for message in out.messages.unwrap_or_default() {
                sqs.delete_message()
                    .queue_url(queue)
                    .receipt_handle(message.receipt_handle.unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    })
    .await;
    RawRates {
        dynamodb: switchboard_tests::rate(n, &updates),
        sqs: switchboard_tests::rate(rounds, &messages),
    }
}
