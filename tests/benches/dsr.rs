//! How long a data-subject request takes for a person with many calls (a figure, not a test):
//! `scripts/bench dsr` starts DynamoDB Local and moto and runs this with `cargo bench`:
//!
//!   [--calls N]
//!
//! One contact is called once through the simulator; its call and the call's conversation
//! (transcript, model history) are then copied N - 1 times straight into the table. The export
//! and then the erasure of that person run through the in-process API, timed, with the
//! DynamoDB requests each sent counted from the SDK's own log.

use std::time::Instant;

use futures::stream::{self, StreamExt};
use serde_json::json;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{Call, Conversation};
use switchboard_core::ports::Repository;
use switchboard_tests::{BenchArgs, TestApp, unique_phone};

#[tokio::main]
async fn main() {
    let args = BenchArgs::from_env();
    let calls = args.number("--calls", 1000).max(1);
    let app = TestApp::unlimited().await;
    let t = app.tenant().await;
    let (agent, number, _) = app.phone_line(&t).await;
    let phone = unique_phone();
    let contact = app
        .create(&t, "/v1/contacts", json!({"phone": phone, "name": "Ada"}))
        .await;
    let first = app
        .create(
            &t,
            "/v1/calls",
            json!({"agent_id": agent, "phone_number_id": number, "contact_id": contact}),
        )
        .await;
    app.run_call_jobs_until_final(&t, &first).await;

    let ws = t.workspace_id.as_str();
    let call_store: &dyn Repository<Call> = &app.store;
    let conversation_store: &dyn Repository<Conversation> = &app.store;
    let call = call_store.get(ws, &first).await.unwrap().unwrap().value;
    let conversation = conversation_store
        .get(ws, call.conversation_id.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap()
        .value;
    let seeding = Instant::now();
    stream::iter(1..calls)
        .for_each_concurrent(16, |_| {
            let (mut call, mut conversation) = (call.clone(), conversation.clone());
            async move {
                call.id = ids::new_id(prefix::CALL);
                call.provider_call_id = None;
                conversation.id = ids::new_id(prefix::CONVERSATION);
                conversation.call_id = Some(call.id.clone());
                call.conversation_id = Some(conversation.id.clone());
                conversation_store.insert(ws, &conversation, None, &[]).await.unwrap();
                call_store.insert(ws, &call, None, &[]).await.unwrap();
            }
        })
        .await;
    println!(
        "dsr: a contact with {calls} calls ({} transcript messages each), seeded in {:.1} s",
        call.transcript.len(),
        seeding.elapsed().as_secs_f64()
    );

    for action in ["export", "erase"] {
        app.ops.take();
        let started = Instant::now();
        let res = app
            .post(&format!("/v1/dsr/{action}"))
            .bearer(&t.key)
            .json(json!({"contact_id": contact}))
            .send()
            .await;
        let elapsed = started.elapsed();
        res.expect(200);
        let requests = app.ops.take().len();
        println!(
            "  {action:<6}: {:>6.2} s   {requests} DynamoDB requests   answer {:.1} MB",
            elapsed.as_secs_f64(),
            res.text.len() as f64 / 1e6
        );
    }
}
