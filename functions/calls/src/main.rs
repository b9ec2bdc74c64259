//! The `calls` Lambda function.

use switchboard_core::config::Env;
use switchboard_runtime::config::TelephonyConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let read = |env: &mut Env| (TelephonyConfig::read(env), env.required("FILES_BUCKET"));
    switchboard_runtime::http_function(read, async |parts, (config, bucket): (TelephonyConfig, String)| {
        let jobs = switchboard_runtime::queue(&parts.sdk, &config.call_queue_url);
        let (provider, twilio) = switchboard_runtime::telephony(&parts.sdk, &config, jobs.clone(), None).await?;
        let recordings = switchboard_runtime::files(&parts.sdk, &bucket);
        Ok(calls::service(
            parts.platform,
            &parts.store,
            provider,
            jobs,
            recordings,
            twilio,
        ))
    })
    .await
}
