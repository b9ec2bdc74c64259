//! `call-worker`: the background work of calls, fed by the call queue. It takes the steps of
//! simulated calls and, once any call has ended, stores its transcript and analysis, keeps its
//! recording, and tells its campaign, if it has one; a call whose end is never reported, it
//! ends once overdue. A job
//! that fails is retried by SQS and ends in the dead-letter queue; it never blocks the others.

use std::sync::Arc;

use anyhow::Context;
use aws_lambda_events::event::sqs::SqsMessage;
use switchboard_core::clock::Clock;
use switchboard_core::ports::{CallJob, CallQueue, ProviderAccounts, Recordings, Workspaces};
use switchboard_domain::calls;
use switchboard_domain::campaigns::Dialer;
use switchboard_store::DynamoStore;

pub use self::network::Network;

mod network;

pub struct State {
    pub network: Network,
    /// Told when a campaign's call ends.
    pub dialer: Arc<Dialer>,
    /// The provider that made the call's recording (the platform's or the workspace's own),
    /// and where it is kept.
    pub providers: Arc<dyn ProviderAccounts>,
    pub recordings: Arc<dyn Recordings>,
    pub accounts: Arc<dyn Workspaces>,
    pub clock: Clock,
}

/// The providers the worker calls.
pub struct Providers {
    /// Each workspace's model and telephony.
    pub accounts: Arc<dyn ProviderAccounts>,
    pub recordings: Arc<dyn Recordings>,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn state(
    store: &DynamoStore,
    providers: Providers,
    call_jobs: Arc<dyn CallQueue>,
    time_scale: f64,
    dialer: Dialer,
    clock: Clock,
) -> State {
    let Providers { accounts, recordings } = providers;
    let dialer = Arc::new(dialer);
    State {
        network: Network {
            engine: switchboard_runtime::engine(store, accounts.clone()),
            calls: Arc::new(store.clone()),
            wallets: Arc::new(store.clone()),
            agents: Arc::new(store.clone()),
            jobs: call_jobs,
            campaign_ends: dialer.clone(),
            time_scale,
        },
        dialer,
        providers: accounts,
        recordings,
        accounts: Arc::new(store.clone()),
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
        CallJob::CampaignCallEnded {
            workspace_id,
            call_id,
            end,
        } => {
            let end = match end {
                Some(end) => Some(end),
                // Queued before jobs carried the end: from the call.
                None => network
                    .calls
                    .get(&workspace_id, &call_id)
                    .await?
                    .and_then(|call| calls::campaign_end(&call.value)),
            };
            if let Some(end) = end {
                state.dialer.call_ended(&workspace_id, &call_id, &end).await?;
            }
        }
        CallJob::Overdue {
            workspace_id,
            call_id,
            due_at,
        } => {
            let providers = state.providers.as_ref();
            calls::end_if_overdue(network.book(), providers, &workspace_id, &call_id, due_at, now).await?
        }
        CallJob::PostCall { workspace_id, call_id } => {
            let (calls, agents) = (network.calls.as_ref(), network.agents.as_ref());
            calls::finish(&network.engine, calls, agents, &workspace_id, &call_id, now).await?;
            let telephony = state.providers.telephony(&workspace_id).await?;
            let recorder = calls::Recorder {
                telephony: telephony.as_ref(),
                recordings: state.recordings.as_ref(),
                accounts: state.accounts.as_ref(),
            };
            calls::keep_recording(recorder, calls, agents, &workspace_id, &call_id, now).await?
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
