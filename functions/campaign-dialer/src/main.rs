//! The `campaign-dialer` Lambda function (SQS).

use switchboard_core::clock::Clock;
use switchboard_core::config::Env;
use switchboard_runtime::Parts;
use switchboard_runtime::config::TelephonyConfig;
use switchboard_runtime::providers::ProviderConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let read = |env: &mut Env| {
        (
            TelephonyConfig::read(env),
            ProviderConfig::read(env),
            env.required("DIALER_QUEUE_URL"),
        )
    };
    let compose =
        async |parts: Parts, (telephony, providers, dialer_queue_url): (TelephonyConfig, ProviderConfig, String)| {
            let call_jobs = switchboard_runtime::queue(&parts.sdk, &telephony.call_queue_url);
            let telephony = switchboard_runtime::telephony(&parts.sdk, &telephony, call_jobs.clone(), None).await?;
            let accounts =
                switchboard_runtime::providers::accounts(&parts.sdk, &parts.store, providers, telephony, None);
            let jobs = switchboard_runtime::queue(&parts.sdk, &dialer_queue_url);
            Ok(campaign_dialer::dialer(
                &parts.store,
                accounts,
                call_jobs,
                jobs,
                Clock::System,
            ))
        };
    switchboard_runtime::sqs_function(read, compose, campaign_dialer::handle).await
}
