//! The `numbers` Lambda function.

use switchboard_runtime::config::TelephonyConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::http_function(TelephonyConfig::read, async |parts, config| {
        let jobs = switchboard_runtime::queue(&parts.sdk, &config.call_queue_url);
        let (provider, _) = switchboard_runtime::telephony(&parts.sdk, &config, jobs, None).await?;
        Ok(numbers::service(parts.platform, &parts.store, provider))
    })
    .await
}
