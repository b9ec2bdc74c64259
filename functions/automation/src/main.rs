//! The `automation` Lambda function.

use switchboard_core::config::{DeploymentMode, Env};
use switchboard_domain::sealing::WorkspaceKeys;
use switchboard_runtime::config::LlmConfig;
use switchboard_runtime::providers::ProviderConfig;

/// What the environment says, read before anything is built.
struct Config {
    sealing_key: String,
    queue_url: String,
    mode: DeploymentMode,
    llm: LlmConfig,
    providers: ProviderConfig,
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let read = |env: &mut Env| Config {
        sealing_key: env.required("SEALING_KEY_SECRET_ID"),
        queue_url: env.required("WORKFLOW_QUEUE_URL"),
        mode: env.parsed_or("DEPLOYMENT_MODE", DeploymentMode::Production),
        llm: LlmConfig::read(env),
        providers: ProviderConfig::read(env),
    };
    let compose = async |parts: switchboard_runtime::HttpParts, config: Config| {
        let keys = WorkspaceKeys::new(
            switchboard_runtime::key_material(&parts.sdk, &config.sealing_key)
                .await?
                .as_bytes(),
        );
        let http = switchboard_runtime::outbound_http(config.mode);
        let queue = switchboard_runtime::queue(&parts.sdk, &config.queue_url);
        let llm = switchboard_runtime::llm(&parts.sdk, &config.llm).await?;
        let models = switchboard_runtime::providers::model_accounts(&parts.sdk, &parts.store, config.providers, llm);
        Ok(automation::service(
            parts.platform,
            &parts.store,
            http,
            queue,
            keys,
            models,
        ))
    };
    switchboard_runtime::http_function(read, compose).await
}
