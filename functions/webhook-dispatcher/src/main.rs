//! The `webhook-dispatcher` Lambda function (SQS).

use switchboard_core::clock::Clock;
use switchboard_core::config::Env;
use switchboard_runtime::config::WebhookConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    switchboard_runtime::telemetry::init();
    let mut env = Env::process();
    let table_name = env.required("TABLE_NAME");
    let config = WebhookConfig::read(&mut env);
    env.finish()?;
    let sdk = switchboard_runtime::sdk_config().await;
    let store = switchboard_runtime::store(&sdk, &table_name);
    let key = switchboard_runtime::key_material(&sdk, &config.key_secret_id).await?;
    let queue = switchboard_runtime::queue(&sdk, &config.queue_url);
    let dispatcher = switchboard_runtime::dispatcher(&store, queue, key.as_bytes(), &config, Clock::System);
    let dispatcher = &dispatcher;
    switchboard_runtime::worker::run(|message| webhook_dispatcher::handle(dispatcher, message)).await
}
