//! The `number-renewals` Lambda function (EventBridge Scheduler, daily).

use switchboard_core::config::Env;
use switchboard_runtime::Parts;
use switchboard_runtime::config::TelephonyConfig;
use switchboard_runtime::providers::ProviderConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let read = |env: &mut Env| (TelephonyConfig::read(env), ProviderConfig::read(env));
    let compose = async |parts: Parts, (telephony_config, provider_config): (TelephonyConfig, ProviderConfig)| {
        let jobs = switchboard_runtime::queue(&parts.sdk, &telephony_config.call_queue_url);
        let telephony = switchboard_runtime::telephony(&parts.sdk, &telephony_config, jobs, None).await?;
        let accounts =
            switchboard_runtime::providers::accounts(&parts.sdk, &parts.store, provider_config, telephony, None);
        Ok(number_renewals::state(&parts.store, accounts))
    };
    switchboard_runtime::scheduled_function(read, compose, number_renewals::run).await
}
