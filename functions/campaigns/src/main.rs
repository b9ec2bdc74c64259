//! The `campaigns` Lambda function.

use switchboard_core::clock::Clock;
use switchboard_runtime::config::{LlmConfig, TelephonyConfig};
use switchboard_runtime::providers::ProviderConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::http_function(
        |env| {
            (
                TelephonyConfig::read(env),
                LlmConfig::read(env),
                ProviderConfig::read(env),
                env.required("DIALER_QUEUE_URL"),
            )
        },
        async |parts, (telephony, llm, providers, dialer_queue_url)| {
            let llm = switchboard_runtime::llm(&parts.sdk, &llm).await?;
            let call_jobs = switchboard_runtime::queue(&parts.sdk, &telephony.call_queue_url);
            let telephony = switchboard_runtime::telephony(&parts.sdk, &telephony, call_jobs.clone(), None).await?;
            let accounts =
                switchboard_runtime::providers::accounts(&parts.sdk, &parts.store, providers, telephony, Some(llm));
            let dialer_jobs = switchboard_runtime::queue(&parts.sdk, &dialer_queue_url);
            let dialer =
                switchboard_runtime::dialer(&parts.store, accounts.clone(), call_jobs, dialer_jobs, Clock::System);
            Ok(campaigns::service(parts.platform, &parts.store, accounts, dialer))
        },
    )
    .await
}
