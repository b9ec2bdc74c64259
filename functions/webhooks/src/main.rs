//! The `webhooks` Lambda function.

use std::sync::Arc;

use switchboard::config::{Env, HttpConfig, WebhookConfig};
use switchboard::http::Service;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard::telemetry::init();
    let mut env = Env::process();
    let http = HttpConfig::read(&mut env);
    let webhooks = WebhookConfig::read(&mut env);
    env.finish()?;
    let (sdk, store, platform) = switchboard::aws::http_platform(&http).await?;
    let state = webhooks::State {
        endpoints: Arc::new(store.clone()),
        deliveries: Arc::new(store.clone()),
        dispatcher: switchboard::aws::dispatcher(&sdk, &store, &webhooks).await?,
        mode: webhooks.mode,
    };
    switchboard::http::run(Service::new(platform, state, webhooks::routes())).await
}
