//! The `workflow-runner` Lambda function (SQS).

use switchboard_core::clock::Clock;
use switchboard_core::config::{DeploymentMode, Env};
use switchboard_domain::sealing::WorkspaceKeys;
use switchboard_runtime::Parts;
use switchboard_runtime::config::{LlmConfig, TelephonyConfig};
use switchboard_runtime::providers::ProviderConfig;

/// What the environment says, read before anything is built.
struct Config {
    queue_url: String,
    sealing_key: String,
    mode: DeploymentMode,
    time_scale: f64,
    telephony: TelephonyConfig,
    llm: LlmConfig,
    providers: ProviderConfig,
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let read = |env: &mut Env| {
        let time_scale = env.parsed_or("WORKFLOW_TIME_SCALE", 1.0);
        if !(0.0..=1.0).contains(&time_scale) {
            env.problem("WORKFLOW_TIME_SCALE", "must be between 0 and 1");
        }
        Config {
            queue_url: env.required("WORKFLOW_QUEUE_URL"),
            sealing_key: env.required("SEALING_KEY_SECRET_ID"),
            mode: env.parsed_or("DEPLOYMENT_MODE", DeploymentMode::Production),
            time_scale,
            telephony: TelephonyConfig::read(env),
            llm: LlmConfig::read(env),
            providers: ProviderConfig::read(env),
        }
    };
    let compose = async |parts: Parts, config: Config| {
        let keys = WorkspaceKeys::new(
            switchboard_runtime::key_material(&parts.sdk, &config.sealing_key)
                .await?
                .as_bytes(),
        );
        let queue = switchboard_runtime::queue(&parts.sdk, &config.queue_url);
        let call_jobs = switchboard_runtime::queue(&parts.sdk, &config.telephony.call_queue_url);
        let telephony = switchboard_runtime::telephony(&parts.sdk, &config.telephony, call_jobs.clone(), None).await?;
        let llm = switchboard_runtime::llm(&parts.sdk, &config.llm).await?;
        let providers =
            switchboard_runtime::providers::accounts(&parts.sdk, &parts.store, config.providers, telephony, Some(llm));
        let mut runner = workflow_runner::runner(
            &parts.store,
            queue,
            switchboard_runtime::outbound_http(config.mode),
            keys,
            Clock::System,
            providers,
            call_jobs,
        );
        runner.time_scale = config.time_scale;
        Ok(runner)
    };
    switchboard_runtime::sqs_function(read, compose, workflow_runner::handle).await
}
