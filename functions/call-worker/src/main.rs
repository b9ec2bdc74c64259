//! The `call-worker` Lambda function (SQS).

use switchboard_core::clock::Clock;
use switchboard_core::config::Env;
use switchboard_runtime::config::{LlmConfig, TelephonyConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    switchboard_runtime::telemetry::init();
    let mut env = Env::process();
    let table_name = env.required("TABLE_NAME");
    let dialer_queue_url = env.required("DIALER_QUEUE_URL");
    let telephony = TelephonyConfig::read(&mut env);
    let llm = LlmConfig::read(&mut env);
    env.finish()?;
    let sdk = switchboard_runtime::sdk_config().await;
    let store = switchboard_runtime::store(&sdk, &table_name);
    let llm = switchboard_runtime::llm(&sdk, &llm).await?;
    let call_jobs = switchboard_runtime::queue(&sdk, &telephony.call_queue_url);
    let (provider, _) = switchboard_runtime::telephony(&sdk, &telephony, call_jobs.clone()).await?;
    let dialer_jobs = switchboard_runtime::queue(&sdk, &dialer_queue_url);
    let state = call_worker::state(
        &store,
        llm,
        provider,
        call_jobs,
        dialer_jobs,
        telephony.time_scale,
        Clock::System,
    );
    let state = &state;
    switchboard_runtime::worker::run(|message| call_worker::handle(state, message)).await
}
