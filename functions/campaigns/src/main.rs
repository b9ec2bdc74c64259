//! The `campaigns` Lambda function.

use switchboard_core::clock::Clock;
use switchboard_core::config::Env;
use switchboard_runtime::config::{HttpConfig, LlmConfig, TelephonyConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::telemetry::init();
    let mut env = Env::process();
    let http = HttpConfig::read(&mut env);
    let telephony = TelephonyConfig::read(&mut env);
    let llm = LlmConfig::read(&mut env);
    let dialer_queue_url = env.required("DIALER_QUEUE_URL");
    env.finish()?;
    let (sdk, store, platform) = switchboard_runtime::http_platform(&http).await?;
    let llm = switchboard_runtime::llm(&sdk, &llm).await?;
    let call_jobs = switchboard_runtime::queue(&sdk, &telephony.call_queue_url);
    let (provider, _) = switchboard_runtime::telephony(&sdk, &telephony, call_jobs.clone()).await?;
    let dialer_jobs = switchboard_runtime::queue(&sdk, &dialer_queue_url);
    let service = campaigns::service(platform, &store, llm, provider, call_jobs, dialer_jobs, Clock::System);
    switchboard_runtime::serve(service).await
}
