//! The `campaigns` Lambda function.

use switchboard::config::{Env, HttpConfig, LlmConfig, TelephonyConfig};
use switchboard::http::Service;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard::telemetry::init();
    let mut env = Env::process();
    let http = HttpConfig::read(&mut env);
    let telephony = TelephonyConfig::read(&mut env);
    let llm = LlmConfig::read(&mut env);
    let dialer_queue_url = env.required("DIALER_QUEUE_URL");
    env.finish()?;
    let (sdk, store, platform) = switchboard::aws::http_platform(&http).await?;
    let state = campaigns::State {
        dialer: switchboard::aws::dialer(&sdk, &store, &telephony, &dialer_queue_url).await?,
        llm: switchboard::aws::llm(&sdk, &llm).await?,
    };
    switchboard::http::run(Service::new(platform, state, campaigns::routes())).await
}
