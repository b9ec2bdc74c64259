//! The ledger's settlement rate (a figure, not a test) against DynamoDB Local; `scripts/bench
//! ledger` starts DynamoDB Local and moto and runs this with `cargo bench`:
//!
//!   [--calls N] [--concurrency C]
//!
//! N calls of one workspace, each holding money on its wallet, end C at a time along the path
//! every status report takes (`calls::report`: read the call, read its hold and the wallet, one
//! transaction writing the call's end, the charge, the ledger entry and the usage counters). Against
//! it: N raw TransactWriteItems of as many items, touching one wallet item as the settlements do,
//! C at a time on the same DynamoDB Local, conflicts tried again at once (and counted).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use futures::stream::{self, StreamExt};
use switchboard_core::model::{Agent, CallStatus, Direction, PhoneNumber, Plan, ProviderMode};
use switchboard_core::ports::{CallJob, CallQueue, Repository, Wallets};
use switchboard_domain::calls::{self, CallBook, NewCall, StatusReport};
use switchboard_tests::{BenchArgs, TestApp, print_rate, rate, timed};

/// Post-call work is not what is measured: its jobs go nowhere.
struct NoJobs;

#[async_trait::async_trait]
impl CallQueue for NoJobs {
    async fn enqueue(&self, _job: &CallJob, _delay: Duration) -> anyhow::Result<()> {
        Ok(())
    }
}

#[tokio::main]
async fn main() {
    let args = BenchArgs::from_env();
    let (n, concurrency) = (args.number("--calls", 2000), args.number("--concurrency", 32));
    let (settled, ops) = settlements(n, concurrency).await;
    let (raw, conflicts) = raw_transactions(n, concurrency).await;
    println!("ledger: {n} calls of one workspace ending {concurrency} at a time, release build, DynamoDB Local:");
    print_rate("settlements (calls::report: 2 reads + 1 transaction)", n, &settled);
    print_rate("raw TransactWriteItems of 7 items, one wallet item", n, &raw);
    println!("  raw transactions tried again after a conflict: {conflicts}");
    println!(
        "  settlements run at {:.0} % of the raw transactions' rate",
        100.0 * rate(n, &raw.1).recip() * rate(n, &settled.1)
    );
    let per: Vec<String> = ops
        .iter()
        .map(|(op, count)| format!("{op} {:.2}", *count as f64 / n as f64))
        .collect();
    println!("  DynamoDB requests per settlement: {}", per.join(", "));
}

async fn settlements(n: usize, concurrency: usize) -> ((Vec<f64>, Duration), BTreeMap<String, usize>) {
    let app = TestApp::unlimited().await;
    let t = app.tenant().await;
    let ws = t.workspace_id.as_str();
    app.fund(&t, 10_000_000).await;
    let (agent_id, number_id, _) = app.phone_line(&t).await;
    let agent = Repository::<Agent>::get(&app.store, ws, &agent_id)
        .await
        .unwrap()
        .unwrap()
        .value;
    let number = Repository::<PhoneNumber>::get(&app.store, ws, &number_id)
        .await
        .unwrap()
        .unwrap()
        .value;
    let now = app.clock.now();
    let mut hold = calls::hold_for(&agent, Plan::Enterprise, ProviderMode::Bundled, now);
    hold.max_active_calls = u32::MAX;
    let ids: Vec<String> = stream::iter(0..n)
        .map(|i| {
            let call = NewCall {
                direction: Direction::Outbound,
                agent: &agent,
                number: &number,
                remote: format!("+1415{}{:04}", 200 + i / 10_000, i % 10_000),
                contact_id: None,
                campaign_id: None,
                metadata: BTreeMap::new(),
                plan: Plan::Enterprise,
                mode: ProviderMode::Bundled,
                provider: "simulator".into(),
                provider_call_id: None,
            }
            .record(now);
            let (store, hold) = (&app.store, &hold);
            async move { store.insert_held_call(ws, &call, hold).await.unwrap().value.id }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let book = CallBook {
        calls: &app.store,
        wallets: &app.store,
        jobs: &NoJobs,
        campaign_ends: None,
    };
    app.ops.take();
    let timing = timed(n, concurrency, |i| {
        let id = &ids[i];
        async move {
            let end = StatusReport {
                status: CallStatus::Completed,
                at: now,
                duration_seconds: Some(45),
                reason: None,
            };
            calls::report(book, ws, id, end).await.unwrap();
        }
    })
    .await;
    let mut ops = BTreeMap::new();
    for op in app.ops.take() {
        *ops.entry(op).or_default() += 1;
    }
    let wallet = app.store.wallet(ws, now).await.unwrap().unwrap().balance;
    assert_eq!((wallet.held_minor, wallet.active_calls), (0, 0), "every call settled");
    (timing, ops)
}

/// The raw transactions' timing, and how many conflicts were tried again.
async fn raw_transactions(n: usize, concurrency: usize) -> ((Vec<f64>, Duration), usize) {
    let client = aws_sdk_dynamodb::Client::new(&switchboard_tests::sdk().await);
    let table = switchboard_tests::table_name();
    let run = format!("bench-{}", rand::random::<u32>());
    let s = |v: String| AttributeValue::S(v);
    let num = |v: i64| AttributeValue::N(v.to_string());
    let key = |pk: String, sk: String| HashMap::from([("PK".to_owned(), s(pk)), ("SK".to_owned(), s(sk))]);
    let update = |pk: String, sk: String, expression: &str| {
        TransactWriteItem::builder()
            .update(
                Update::builder()
                    .table_name(&table)
                    .set_key(Some(key(pk, sk)))
                    .update_expression(expression)
                    .expression_attribute_values(":x", num(1))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let conflicts = std::sync::atomic::AtomicUsize::new(0);
    let timing = timed(n, concurrency, |i| {
        let items = vec![
            update(format!("{run}#CALL"), format!("call{i}"), "SET version = :x"),
            TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(&table)
                        .set_key(Some(key(format!("{run}#HOLD"), format!("call{i}"))))
                        .build()
                        .unwrap(),
                )
                .build(),
            update(run.clone(), "WALLET".into(), "ADD balance_minor :x"),
            update(format!("{run}#USAGE"), format!("DAY#{i}"), "ADD calls :x"),
            update(format!("{run}#USAGE"), format!("AGENT#{i}"), "ADD calls :x"),
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&table)
                        .set_item(Some(key(format!("{run}#LEDGER"), format!("led{i}"))))
                        .build()
                        .unwrap(),
                )
                .build(),
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&table)
                        .set_item(Some(key(format!("{run}#EVENT"), format!("evt{i}"))))
                        .build()
                        .unwrap(),
                )
                .build(),
        ];
        let (client, conflicts) = (&client, &conflicts);
        async move {
            // A conflict on the one wallet item is tried again (counted, and printed).
            for _ in 0..100 {
                match client
                    .transact_write_items()
                    .set_transact_items(Some(items.clone()))
                    .send()
                    .await
                {
                    Ok(_) => return,
                    Err(e) if format!("{e:?}").contains("TransactionConflict") => {
                        conflicts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
            panic!("a transaction kept conflicting");
        }
    })
    .await;
    (timing, conflicts.into_inner())
}
