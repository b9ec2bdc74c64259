//! The `approvals` Lambda function.

use std::sync::Arc;

use switchboard_core::config::Env;
use switchboard_core::ports::LiveCalls;
use switchboard_runtime::config::{HttpConfig, LlmConfig, TwilioConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::telemetry::init();
    let mut env = Env::process();
    let http = HttpConfig::read(&mut env);
    let llm = LlmConfig::read(&mut env);
    let twilio = TwilioConfig::read(&mut env);
    env.finish()?;
    let (sdk, store, platform) = switchboard_runtime::http_platform(&http).await?;
    let llm = switchboard_runtime::llm(&sdk, &llm).await?;
    let live_calls =
        twilio.map(|account| Arc::new(switchboard_runtime::voice(&sdk, &store, &account)) as Arc<dyn LiveCalls>);
    switchboard_runtime::serve(approvals::service(platform, &store, llm, live_calls)).await
}
