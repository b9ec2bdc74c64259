//! The `call-worker` Lambda function (SQS).

use std::sync::Arc;

use switchboard::clock::Clock;
use switchboard::config::{Env, LlmConfig, TelephonyConfig};
use switchboard::telephony::simulator::Network;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    switchboard::telemetry::init();
    let mut env = Env::process();
    let table_name = env.required("TABLE_NAME");
    let dialer_queue_url = env.required("DIALER_QUEUE_URL");
    let telephony = TelephonyConfig::read(&mut env);
    let llm = LlmConfig::read(&mut env);
    env.finish()?;
    let sdk = switchboard::aws::sdk_config().await;
    let store = switchboard::aws::store(&sdk, &table_name);
    let state = call_worker::State {
        network: Network {
            engine: switchboard::aws::engine(&store, switchboard::aws::llm(&sdk, &llm).await?),
            calls: Arc::new(store.clone()),
            agents: Arc::new(store.clone()),
            jobs: switchboard::aws::call_queue(&sdk, &telephony),
            time_scale: telephony.time_scale,
        },
        dialer: switchboard::aws::dialer(&sdk, &store, &telephony, &dialer_queue_url).await?,
        clock: Clock::System,
    };
    let state = &state;
    switchboard::worker::run(|message| call_worker::handle(state, message)).await
}
