//! The `numbers` Lambda function.

use switchboard_runtime::config::TelephonyConfig;
use switchboard_runtime::providers::ProviderConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let read = |env: &mut _| (TelephonyConfig::read(env), ProviderConfig::read(env));
    switchboard_runtime::http_function(read, async |parts, (config, providers)| {
        let jobs = switchboard_runtime::queue(&parts.sdk, &config.call_queue_url);
        let telephony = switchboard_runtime::telephony(&parts.sdk, &config, jobs, None).await?;
        let accounts = switchboard_runtime::providers::accounts(&parts.sdk, &parts.store, providers, telephony, None);
        Ok(numbers::service(parts.platform, &parts.store, accounts))
    })
    .await
}
