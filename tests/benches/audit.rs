//! What the audit log costs a change (a figure, not a test): `scripts/bench audit` starts
//! DynamoDB Local and moto and runs this with `cargo bench`:
//!
//!   [--repeat N]
//!
//! Each of a set of everyday changes, N times through the in-process API, with the DynamoDB
//! requests each sent counted from the SDK's own log. "Before" is the same log without the
//! audit entry: a transaction that carried it writes one item less (two items become the
//! single write they were), and an entry written alone is one request less. Write units
//! assume items under 1 KB: one per item, two per item in a transaction.

use serde_json::{Value, json};
use switchboard_tests::{BenchArgs, Operation, Tenant, TestApp, unique_phone};

/// Requests and write units of one request's operations, with and without its audit entry.
#[derive(Default, Clone, Copy)]
struct Cost {
    requests: f64,
    write_units: f64,
}

fn is_write(name: &str) -> bool {
    [
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "TransactWriteItems",
        "BatchWriteItem",
    ]
    .iter()
    .any(|w| name.starts_with(w))
}

fn costs(operations: &[Operation]) -> (Cost, Cost) {
    let (mut after, mut before) = (Cost::default(), Cost::default());
    for op in operations {
        let transaction = op.name == "TransactWriteItems";
        let units = |items: usize| match (is_write(&op.name), transaction) {
            (false, _) => 0.0,
            (true, true) => 2.0 * items as f64,
            (true, false) => items as f64,
        };
        after.requests += 1.0;
        after.write_units += units(op.items);
        match (op.audit, transaction) {
            (false, _) => {
                before.requests += 1.0;
                before.write_units += units(op.items);
            }
            // The change alone was a single write.
            (true, true) if op.items == 2 => {
                before.requests += 1.0;
                before.write_units += 1.0;
            }
            (true, true) => {
                before.requests += 1.0;
                before.write_units += units(op.items - 1);
            }
            // An entry written on its own.
            (true, false) => {}
        }
    }
    (after, before)
}

/// The changes measured: a method, a path and a body, made fresh for each repetition.
async fn change(app: &TestApp, t: &Tenant, which: &str) -> (http::Method, String, Option<Value>) {
    use http::Method;
    let agent = || json!({"name": "Sarah", "system_prompt": "You are Sarah."});
    match which {
        "POST /v1/agents" => (Method::POST, "/v1/agents".into(), Some(agent())),
        "PATCH /v1/agents/{id}" => {
            let id = app.create(t, "/v1/agents", agent()).await;
            (Method::PATCH, format!("/v1/agents/{id}"), Some(json!({"name": "Sam"})))
        }
        "DELETE /v1/agents/{id}" => {
            let id = app.create(t, "/v1/agents", agent()).await;
            (Method::DELETE, format!("/v1/agents/{id}"), None)
        }
        "POST /v1/contacts" => (
            Method::POST,
            "/v1/contacts".into(),
            Some(json!({"phone": unique_phone()})),
        ),
        "PATCH /v1/contacts/{id}" => {
            let id = app.create(t, "/v1/contacts", json!({"phone": unique_phone()})).await;
            (
                Method::PATCH,
                format!("/v1/contacts/{id}"),
                Some(json!({"name": "Ada"})),
            )
        }
        "POST /v1/dnc" => (
            Method::POST,
            "/v1/dnc".into(),
            Some(json!({"phone_e164": unique_phone()})),
        ),
        "POST /v1/webhooks" => (
            Method::POST,
            "/v1/webhooks".into(),
            Some(json!({"url": "https://hooks.example.com/switchboard", "events": ["call.ended"]})),
        ),
        "PATCH /v1/billing/spending-controls" => (
            Method::PATCH,
            "/v1/billing/spending-controls".into(),
            Some(json!({"daily_spend_limit_minor": 5000})),
        ),
        other => panic!("no change {other}"),
    }
}

const CHANGES: &[&str] = &[
    "POST /v1/agents",
    "PATCH /v1/agents/{id}",
    "DELETE /v1/agents/{id}",
    "POST /v1/contacts",
    "PATCH /v1/contacts/{id}",
    "POST /v1/dnc",
    "POST /v1/webhooks",
    "PATCH /v1/billing/spending-controls",
];

#[tokio::main]
async fn main() {
    let args = BenchArgs::from_env();
    let repeat = args.number("--repeat", 20);
    let app = TestApp::unlimited().await;
    let mut totals = (Cost::default(), Cost::default());
    println!(
        "audit: DynamoDB requests and write units per change (mean of {repeat}), with the audit entry and without it:"
    );
    println!(
        "  {:<38} {:>16} {:>16}   {}",
        "change", "requests", "write units", "operations with the entry"
    );
    for which in CHANGES {
        let (mut after, mut before) = (Cost::default(), Cost::default());
        let mut shown = Vec::new();
        let t = app.tenant().await;
        for _ in 0..repeat {
            let (method, path, body) = change(&app, &t, which).await;
            let mut req = app.request(method, &path).bearer(&t.key);
            if let Some(body) = body {
                req = req.json(body);
            }
            app.ops.take();
            let res = req.send().await;
            assert!((200..300).contains(&res.status), "{which}: {}", res.text);
            let operations = app.ops.take_operations();
            // Endpoints are capped per workspace: each goes once measured.
            if *which == "POST /v1/webhooks" {
                let delete = app.request(http::Method::DELETE, &format!("/v1/webhooks/{}", res.id()));
                delete.bearer(&t.key).send().await.expect(200);
            }
            let (a, b) = costs(&operations);
            after.requests += a.requests / repeat as f64;
            after.write_units += a.write_units / repeat as f64;
            before.requests += b.requests / repeat as f64;
            before.write_units += b.write_units / repeat as f64;
            shown = operations
                .iter()
                .map(|op| match (op.name.as_str(), op.audit) {
                    ("TransactWriteItems", true) => format!("TransactWriteItems[{} + entry]", op.items - 1),
                    (name, _) if op.items > 1 => format!("{name}[{}]", op.items),
                    (name, _) => name.to_owned(),
                })
                .collect();
        }
        println!(
            "  {:<38} {:>6.1} → {:<6.1} {:>6.1} → {:<6.1}   {}",
            which,
            before.requests,
            after.requests,
            before.write_units,
            after.write_units,
            shown.join(", ")
        );
        totals.0.requests += after.requests;
        totals.0.write_units += after.write_units;
        totals.1.requests += before.requests;
        totals.1.write_units += before.write_units;
    }
    let n = CHANGES.len() as f64;
    println!(
        "  {:<38} {:>6.2} → {:<6.2} {:>6.2} → {:<6.2}",
        "mean of the changes",
        totals.1.requests / n,
        totals.0.requests / n,
        totals.1.write_units / n,
        totals.0.write_units / n
    );
}
