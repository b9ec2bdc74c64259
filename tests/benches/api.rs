//! What authentication and rate limiting cost a request (a figure, not a test): `scripts/bench
//! api` starts the local stack with release builds (as `scripts/dev --release` does), seeds a
//! workspace, and runs this with `cargo bench`:
//!
//!   [--requests N] [--concurrency C]
//!
//! N requests of `GET /v1/agents/{id}` through the local API, C at a time, spread over the
//! workspace's API keys (`BENCH_API_KEYS`); against them, N raw GetItems of the same agent's item
//! on the same DynamoDB Local, C at a time; and the same request answered in this process by
//! the function's own pipeline (without the local Lambda emulator). Then the size of a
//! credential item after the run (what each authenticated request rewrites).

use aws_sdk_dynamodb::types::AttributeValue;
use switchboard_core::secret;
use switchboard_store::keys;
use switchboard_tests::{BenchArgs, TestApp, item_size, print_rate, rate, sdk, table_name, timed};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run `scripts/bench api`"))
}

#[tokio::main]
async fn main() {
    let args = BenchArgs::from_env();
    let (n, concurrency) = (args.number("--requests", 2000), args.number("--concurrency", 16));
    let (url, workspace, agent) = (env("BENCH_API_URL"), env("BENCH_WORKSPACE"), env("BENCH_AGENT"));
    let api_keys: Vec<String> = env("BENCH_API_KEYS").split(',').map(str::to_owned).collect();

    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let path = format!("{url}/v1/agents/{agent}");
    let get = |i: usize| {
        let request = http.get(&path).bearer_auth(&api_keys[i % api_keys.len()]);
        async move {
            let res = request.send().await.expect("the local API answers");
            assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
        }
    };
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk().await);
    let table = table_name();
    let agent_key = keys::resource(&workspace, "AGENT", &agent);
    let raw_get = |_| {
        let request = dynamodb
            .get_item()
            .table_name(&table)
            .key(keys::PK, AttributeValue::S(agent_key.pk.clone()))
            .key(keys::SK, AttributeValue::S(agent_key.sk.clone()));
        async move {
            assert!(request.send().await.expect("DynamoDB Local answers").item.is_some());
        }
    };
    // The floor the API stands on: an UpdateItem of the same shape as authentication's (a
    // conditional arithmetic update of a small item, its new image returned), then the read.
    let scratch = keys::Key {
        pk: format!("{workspace}#BENCH"),
        sk: "COUNTER".into(),
    };
    let update_then_get = |_| {
        let update = dynamodb
            .update_item()
            .table_name(&table)
            .key(keys::PK, AttributeValue::S(scratch.pk.clone()))
            .key(keys::SK, AttributeValue::S(scratch.sk.clone()))
            .update_expression("SET hits = if_not_exists(hits, :zero) + :one, last_used_at = :now")
            .condition_expression("attribute_not_exists(revoked_at)")
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":now", AttributeValue::S("2026-12-01T00:00:00Z".into()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew);
        let get = dynamodb
            .get_item()
            .table_name(&table)
            .key(keys::PK, AttributeValue::S(agent_key.pk.clone()))
            .key(keys::SK, AttributeValue::S(agent_key.sk.clone()));
        async move {
            update.send().await.expect("DynamoDB Local answers");
            assert!(get.send().await.expect("DynamoDB Local answers").item.is_some());
        }
    };

    // DynamoDB Local's JVM compiles its hot paths over the first thousands of requests: warm
    // it (and each key's first lease) before anything is timed, so that no figure pays for it.
    timed(n, concurrency, update_then_get).await;
    for i in 0..api_keys.len() {
        get(i).await;
    }
    let through_api = timed(n, concurrency, get).await;
    let raw = timed(n, concurrency, raw_get).await;
    let update_then_get = timed(n, concurrency, update_then_get).await;

    let lookup = keys::api_key_lookup(&secret::sha256_hex(&api_keys[0]));
    let credential = dynamodb
        .get_item()
        .table_name(&table)
        .key(keys::PK, AttributeValue::S(lookup.pk))
        .key(keys::SK, AttributeValue::S(lookup.sk))
        .send()
        .await
        .expect("DynamoDB Local answers")
        .item
        .expect("the key's lookup item");

    let in_process = in_process(n, concurrency).await;

    println!(
        "api: {n} requests, {concurrency} at a time, over {} API keys, release builds, local stack:",
        api_keys.len()
    );
    print_rate("GET /v1/agents/{id} through the API", n, &through_api);
    print_rate("raw GetItem of the agent's item", n, &raw);
    print_rate(
        "raw UpdateItem (authentication's shape) then GetItem",
        n,
        &update_then_get,
    );
    print_rate(
        "GET /v1/agents/{id} in-process (the pipeline without cargo lambda)",
        n,
        &in_process,
    );
    for (what, measured) in [("the API", &through_api), ("in-process", &in_process)] {
        println!(
            "  {what} answers at {:.2}x the raw GetItem rate, {:.2}x the raw UpdateItem + GetItem rate",
            rate(n, &measured.1) / rate(n, &raw.1),
            rate(n, &measured.1) / rate(n, &update_then_get.1)
        );
    }
    println!(
        "  credential item after the run: {} bytes (one write unit up to 1,024)",
        item_size(&credential)
    );
}

/// The same request answered by the function's pipeline called in this process, on the same
/// DynamoDB Local: what the function itself costs, without the local Lambda emulator's hops.
async fn in_process(n: usize, concurrency: usize) -> (Vec<f64>, std::time::Duration) {
    let app = TestApp::unlimited().await;
    let t = app.tenant().await;
    // The workspace's budget holds the run; each key's is a quarter of it.
    let mut keys = vec![t.key.clone()];
    for _ in 0..3 {
        keys.push(app.key(&t, "read").await);
    }
    let agent = app
        .create(
            &t,
            "/v1/agents",
            serde_json::json!({"name": "bench", "system_prompt": "p"}),
        )
        .await;
    let path = format!("/v1/agents/{agent}");
    for key in &keys {
        app.get(&path).bearer(key).send().await.expect(200);
    }
    timed(n, concurrency, |i| {
        // The app's clock moves only when told: 100 ms a request keeps every bucket from
        // running dry (the benchmark times answers, not refusals).
        app.clock.advance(chrono::Duration::milliseconds(100));
        let request = app.get(&path).bearer(&keys[i % keys.len()]);
        async move {
            request.send().await.expect(200);
        }
    })
    .await
}
