//! The `agents` Lambda function.

use switchboard_runtime::config::LlmConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::http_function(LlmConfig::read, async |parts, config| {
        let llm = switchboard_runtime::llm(&parts.sdk, &config).await?;
        Ok(agents::service(parts.platform, &parts.store, llm))
    })
    .await
}
