//! The `approvals` Lambda function.

use std::sync::Arc;

use switchboard_core::ports::LiveCalls;
use switchboard_runtime::config::{LlmConfig, TwilioConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::http_function(
        |env| (LlmConfig::read(env), TwilioConfig::read(env)),
        async |parts, (llm, twilio)| {
            let llm = switchboard_runtime::llm(&parts.sdk, &llm).await?;
            let live_calls = twilio.map(|account| {
                Arc::new(switchboard_runtime::voice(&parts.sdk, &parts.store, &account)) as Arc<dyn LiveCalls>
            });
            Ok(approvals::service(parts.platform, &parts.store, llm, live_calls))
        },
    )
    .await
}
