//! The `calls` Lambda function.

use switchboard_core::config::Env;
use switchboard_runtime::config::TelephonyConfig;
use switchboard_runtime::providers::ProviderConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let read = |env: &mut Env| {
        (
            TelephonyConfig::read(env),
            ProviderConfig::read(env),
            env.required("FILES_BUCKET"),
        )
    };
    switchboard_runtime::http_function(read, async |parts, (config, providers, bucket)| {
        let jobs = switchboard_runtime::queue(&parts.sdk, &config.call_queue_url);
        let telephony = switchboard_runtime::telephony(&parts.sdk, &config, jobs.clone(), None).await?;
        let twilio = telephony.webhooks.clone();
        let accounts = switchboard_runtime::providers::accounts(&parts.sdk, &parts.store, providers, telephony, None);
        let recordings = switchboard_runtime::files(&parts.sdk, &bucket);
        Ok(calls::service(
            parts.platform,
            &parts.store,
            accounts,
            jobs,
            recordings,
            twilio,
        ))
    })
    .await
}
