//! The `agents` Lambda function.

use switchboard_core::config::Env;
use switchboard_runtime::config::{HttpConfig, LlmConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::telemetry::init();
    let mut env = Env::process();
    let http = HttpConfig::read(&mut env);
    let llm = LlmConfig::read(&mut env);
    env.finish()?;
    let (sdk, store, platform) = switchboard_runtime::http_platform(&http).await?;
    let llm = switchboard_runtime::llm(&sdk, &llm).await?;
    switchboard_runtime::serve(agents::service(platform, &store, llm)).await
}
