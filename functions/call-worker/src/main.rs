//! The `call-worker` Lambda function (SQS).

use switchboard_core::clock::Clock;
use switchboard_core::config::Env;
use switchboard_runtime::Parts;
use switchboard_runtime::config::{LlmConfig, TelephonyConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let read = |env: &mut Env| {
        (
            env.required("DIALER_QUEUE_URL"),
            TelephonyConfig::read(env),
            LlmConfig::read(env),
        )
    };
    let compose = async |parts: Parts, (dialer_queue_url, telephony, llm): (String, TelephonyConfig, LlmConfig)| {
        let llm = switchboard_runtime::llm(&parts.sdk, &llm).await?;
        let call_jobs = switchboard_runtime::queue(&parts.sdk, &telephony.call_queue_url);
        let (provider, _) = switchboard_runtime::telephony(&parts.sdk, &telephony, call_jobs.clone()).await?;
        let dialer_jobs = switchboard_runtime::queue(&parts.sdk, &dialer_queue_url);
        let dialer = switchboard_runtime::dialer(&parts.store, provider, call_jobs.clone(), dialer_jobs, Clock::System);
        Ok(call_worker::state(
            &parts.store,
            llm,
            call_jobs,
            telephony.time_scale,
            dialer,
            Clock::System,
        ))
    };
    switchboard_runtime::sqs_function(read, compose, call_worker::handle).await
}
