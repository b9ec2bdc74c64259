//! The `agents` Lambda function.

use switchboard_runtime::config::LlmConfig;
use switchboard_runtime::providers::ProviderConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let read = |env: &mut _| (LlmConfig::read(env), ProviderConfig::read(env));
    switchboard_runtime::http_function(read, async |parts, (config, providers)| {
        let llm = switchboard_runtime::llm(&parts.sdk, &config).await?;
        let models = switchboard_runtime::providers::model_accounts(&parts.sdk, &parts.store, providers, llm);
        Ok(agents::service(parts.platform, &parts.store, models))
    })
    .await
}
