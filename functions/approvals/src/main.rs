//! The `approvals` Lambda function.

use std::sync::Arc;

use switchboard_core::ports::LiveCalls;
use switchboard_runtime::config::{LlmConfig, TwilioConfig};
use switchboard_runtime::providers::ProviderConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::http_function(
        |env| (LlmConfig::read(env), TwilioConfig::read(env), ProviderConfig::read(env)),
        async |parts, (llm, twilio, providers)| {
            let llm = switchboard_runtime::llm(&parts.sdk, &llm).await?;
            let models = switchboard_runtime::providers::model_accounts(&parts.sdk, &parts.store, providers, llm);
            let live_calls = twilio.map(|account| {
                Arc::new(switchboard_runtime::voice(&parts.sdk, &parts.store, &account)) as Arc<dyn LiveCalls>
            });
            Ok(approvals::service(parts.platform, &parts.store, models, live_calls))
        },
    )
    .await
}
