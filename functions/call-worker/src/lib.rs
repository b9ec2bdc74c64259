//! `call-worker`: the background work of calls, fed by the call queue. It takes the steps of
//! simulated calls and, once any call has ended, stores its transcript and analysis. A job
//! that fails is retried by SQS and ends in the dead-letter queue; it never blocks the others.

use anyhow::Context;
use aws_lambda_events::event::sqs::SqsMessage;
use switchboard::clock::Clock;
use switchboard::service::calls;
use switchboard::telephony::CallJob;
use switchboard::telephony::simulator::Network;

pub struct State {
    pub network: Network,
    pub clock: Clock,
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
