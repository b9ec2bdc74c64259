//! `call-worker`: the background work of calls, fed by the call queue. It takes the steps of
//! simulated calls and, once any call has ended, stores its transcript and analysis and tells
//! its campaign, if it has one. A job
//! that fails is retried by SQS and ends in the dead-letter queue; it never blocks the others.

use std::sync::Arc;

use anyhow::Context;
use aws_lambda_events::event::sqs::SqsMessage;
use switchboard_core::clock::Clock;
use switchboard_core::ports::{CallJob, CallQueue, Llm};
use switchboard_domain::calls;
use switchboard_domain::campaigns::Dialer;
use switchboard_store::DynamoStore;

pub use self::network::Network;

mod network;

pub struct State {
    pub network: Network,
    /// Told when a campaign's call ends.
    pub dialer: Dialer,
    pub clock: Clock,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn state(
    store: &DynamoStore,
    llm: Arc<dyn Llm>,
    call_jobs: Arc<dyn CallQueue>,
    time_scale: f64,
    dialer: Dialer,
    clock: Clock,
) -> State {
    State {
        network: Network {
            engine: switchboard_runtime::engine(store, llm),
            calls: Arc::new(store.clone()),
            wallets: Arc::new(store.clone()),
            agents: Arc::new(store.clone()),
            jobs: call_jobs,
            time_scale,
        },
        dialer,
        clock,
    }
}

/// Does one job.
pub async fn run(state: &State, job: CallJob) -> anyhow::Result<()> {
    let now = state.clock.now();
    let network = &state.network;
    match job {
        CallJob::Simulate {
            workspace_id,
            call_id,
            step,
            turn,
            elapsed,
        } => network.step(&workspace_id, &call_id, step, turn, elapsed, now).await?,
        CallJob::CampaignCallEnded { workspace_id, call_id } => {
            if let Some(call) = network.calls.get(&workspace_id, &call_id).await? {
                state.dialer.call_ended(&workspace_id, &call.value).await?;
            }
        }
        CallJob::PostCall { workspace_id, call_id } => {
            calls::finish(
                &network.engine,
                network.calls.as_ref(),
                network.agents.as_ref(),
                &workspace_id,
                &call_id,
                now,
            )
            .await?
        }
    }
    Ok(())
}

/// Does the job a queue message carries.
pub async fn handle(state: &State, message: SqsMessage) -> anyhow::Result<()> {
    let body = message.body.context("message without a body")?;
    let job: CallJob = serde_json::from_str(&body).context("message is not a call job")?;
    run(state, job).await
}
