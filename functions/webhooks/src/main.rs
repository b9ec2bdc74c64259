//! The `webhooks` Lambda function.

use switchboard_core::clock::Clock;
use switchboard_core::config::Env;
use switchboard_runtime::config::{HttpConfig, WebhookConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::telemetry::init();
    let mut env = Env::process();
    let http = HttpConfig::read(&mut env);
    let config = WebhookConfig::read(&mut env);
    env.finish()?;
    let (sdk, store, platform) = switchboard_runtime::http_platform(&http).await?;
    let key = switchboard_runtime::key_material(&sdk, &config.key_secret_id).await?;
    let queue = switchboard_runtime::queue(&sdk, &config.queue_url);
    let dispatcher = switchboard_runtime::dispatcher(&store, queue, key.as_bytes(), &config, Clock::System);
    switchboard_runtime::serve(webhooks::service(platform, &store, dispatcher)).await
}
