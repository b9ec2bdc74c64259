//! The `calls` Lambda function.

use switchboard_core::config::Env;
use switchboard_runtime::config::{HttpConfig, TelephonyConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::telemetry::init();
    let mut env = Env::process();
    let http = HttpConfig::read(&mut env);
    let telephony = TelephonyConfig::read(&mut env);
    env.finish()?;
    let (sdk, store, platform) = switchboard_runtime::http_platform(&http).await?;
    let jobs = switchboard_runtime::queue(&sdk, &telephony.call_queue_url);
    let (provider, twilio) = switchboard_runtime::telephony(&sdk, &telephony, jobs.clone()).await?;
    switchboard_runtime::serve(calls::service(platform, &store, provider, jobs, twilio)).await
}
