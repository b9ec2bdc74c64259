//! The `campaign-dialer` Lambda function (SQS).

use switchboard::config::{Env, TelephonyConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    switchboard::telemetry::init();
    let mut env = Env::process();
    let table_name = env.required("TABLE_NAME");
    let telephony = TelephonyConfig::read(&mut env);
    let dialer_queue_url = env.required("DIALER_QUEUE_URL");
    env.finish()?;
    let sdk = switchboard::aws::sdk_config().await;
    let store = switchboard::aws::store(&sdk, &table_name);
    let dialer = switchboard::aws::dialer(&sdk, &store, &telephony, &dialer_queue_url).await?;
    let dialer = &dialer;
    switchboard::worker::run(|message| campaign_dialer::handle(dialer, message)).await
}
