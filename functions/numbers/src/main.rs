//! The `numbers` Lambda function.

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
    let (provider, _) = switchboard_runtime::telephony(&sdk, &telephony, jobs).await?;
    switchboard_runtime::serve(numbers::service(platform, &store, provider)).await
}
