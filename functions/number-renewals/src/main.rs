//! The `number-renewals` Lambda function (EventBridge Scheduler, daily).

use lambda_runtime::{LambdaEvent, service_fn};
use switchboard_core::clock::Clock;
use switchboard_core::config::Env;
use switchboard_runtime::config::TelephonyConfig;
use switchboard_runtime::providers::ProviderConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    switchboard_runtime::init();
    let mut env = Env::process();
    let table_name = env.required("TABLE_NAME");
    let telephony_config = TelephonyConfig::read(&mut env);
    let provider_config = ProviderConfig::read(&mut env);
    env.finish()?;
    let sdk = switchboard_runtime::sdk_config().await;
    let store = switchboard_runtime::store(&sdk, &table_name);
    let jobs = switchboard_runtime::queue(&sdk, &telephony_config.call_queue_url);
    let telephony = switchboard_runtime::telephony(&sdk, &telephony_config, jobs, None).await?;
    let accounts = switchboard_runtime::providers::accounts(&sdk, &store, provider_config, Some(telephony), None);
    let renewals = number_renewals::state(&store, accounts);
    let renewals = &renewals;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| async move {
        let done = number_renewals::run(renewals, Clock::System.now()).await?;
        tracing::info!(
            charged = done.charged,
            past_due = done.past_due,
            released = done.released,
            "numbers renewed"
        );
        Ok::<_, lambda_runtime::Error>(done)
    }))
    .await
}
