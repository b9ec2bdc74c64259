//! The `webhook-dispatcher` Lambda function (SQS).

use switchboard::config::{Env, WebhookConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    switchboard::telemetry::init();
    let mut env = Env::process();
    let table_name = env.required("TABLE_NAME");
    let config = WebhookConfig::read(&mut env);
    env.finish()?;
    let sdk = switchboard::aws::sdk_config().await;
    let store = switchboard::aws::store(&sdk, &table_name);
    let dispatcher = switchboard::aws::dispatcher(&sdk, &store, &config).await?;
    let dispatcher = &dispatcher;
    switchboard::worker::run(|message| webhook_dispatcher::handle(dispatcher, message)).await
}
