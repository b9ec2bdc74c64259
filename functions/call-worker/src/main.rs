//! The `call-worker` Lambda function (SQS).

use switchboard_core::clock::Clock;
use switchboard_core::config::Env;
use switchboard_runtime::Parts;
use switchboard_runtime::config::{LlmConfig, TelephonyConfig};
use switchboard_runtime::providers::ProviderConfig;

struct Config {
    dialer_queue_url: String,
    files_bucket: String,
    tts_provider: String,
    telephony: TelephonyConfig,
    llm: LlmConfig,
    providers: ProviderConfig,
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let read = |env: &mut Env| Config {
        dialer_queue_url: env.required("DIALER_QUEUE_URL"),
        files_bucket: env.required("FILES_BUCKET"),
        tts_provider: switchboard_runtime::config::tts_provider(env),
        telephony: TelephonyConfig::read(env),
        llm: LlmConfig::read(env),
        providers: ProviderConfig::read(env),
    };
    let compose = async |parts: Parts, config: Config| {
        let llm = switchboard_runtime::llm(&parts.sdk, &config.llm).await?;
        let call_jobs = switchboard_runtime::queue(&parts.sdk, &config.telephony.call_queue_url);
        // The simulator records its calls by speaking them.
        let speech = switchboard_runtime::speech(&parts.sdk, &config.tts_provider);
        let telephony =
            switchboard_runtime::telephony(&parts.sdk, &config.telephony, call_jobs.clone(), Some(speech)).await?;
        let accounts =
            switchboard_runtime::providers::accounts(&parts.sdk, &parts.store, config.providers, telephony, Some(llm));
        let dialer_jobs = switchboard_runtime::queue(&parts.sdk, &config.dialer_queue_url);
        let dialer = switchboard_runtime::dialer(
            &parts.store,
            accounts.clone(),
            call_jobs.clone(),
            dialer_jobs,
            Clock::System,
        );
        let providers = call_worker::Providers {
            accounts,
            recordings: switchboard_runtime::files(&parts.sdk, &config.files_bucket),
        };
        Ok(call_worker::state(
            &parts.store,
            providers,
            call_jobs,
            config.telephony.time_scale,
            dialer,
            Clock::System,
        ))
    };
    switchboard_runtime::sqs_function(read, compose, call_worker::handle).await
}
