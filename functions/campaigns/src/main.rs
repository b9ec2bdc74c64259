//! The `campaigns` Lambda function.

use switchboard_core::clock::Clock;
use switchboard_runtime::config::{LlmConfig, TelephonyConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::http_function(
        |env| {
            (
                TelephonyConfig::read(env),
                LlmConfig::read(env),
                env.required("DIALER_QUEUE_URL"),
            )
        },
        async |parts, (telephony, llm, dialer_queue_url)| {
            let llm = switchboard_runtime::llm(&parts.sdk, &llm).await?;
            let call_jobs = switchboard_runtime::queue(&parts.sdk, &telephony.call_queue_url);
            let (provider, _) = switchboard_runtime::telephony(&parts.sdk, &telephony, call_jobs.clone(), None).await?;
            let dialer_jobs = switchboard_runtime::queue(&parts.sdk, &dialer_queue_url);
            let dialer = switchboard_runtime::dialer(&parts.store, provider, call_jobs, dialer_jobs, Clock::System);
            Ok(campaigns::service(parts.platform, &parts.store, llm, dialer))
        },
    )
    .await
}
