//! The `campaign-dialer` Lambda function (SQS).

use switchboard_core::clock::Clock;
use switchboard_core::config::Env;
use switchboard_runtime::config::TelephonyConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    switchboard_runtime::telemetry::init();
    let mut env = Env::process();
    let table_name = env.required("TABLE_NAME");
    let telephony = TelephonyConfig::read(&mut env);
    let dialer_queue_url = env.required("DIALER_QUEUE_URL");
    env.finish()?;
    let sdk = switchboard_runtime::sdk_config().await;
    let store = switchboard_runtime::store(&sdk, &table_name);
    let call_jobs = switchboard_runtime::queue(&sdk, &telephony.call_queue_url);
    let (provider, _) = switchboard_runtime::telephony(&sdk, &telephony, call_jobs.clone()).await?;
    let jobs = switchboard_runtime::queue(&sdk, &dialer_queue_url);
    let dialer = campaign_dialer::dialer(&store, provider, call_jobs, jobs, Clock::System);
    let dialer = &dialer;
    switchboard_runtime::worker::run(|message| campaign_dialer::handle(dialer, message)).await
}
