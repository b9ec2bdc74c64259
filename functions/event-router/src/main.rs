//! The `event-router` Lambda function (DynamoDB Stream of the table).

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use switchboard_core::clock::Clock;
use switchboard_core::config::Env;
use switchboard_runtime::config::PaymentsConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    switchboard_runtime::init();
    let mut env = Env::process();
    let table_name = env.required("TABLE_NAME");
    let queue_url = env.required("WEBHOOK_QUEUE_URL");
    let workflow_queue_url = env.required("WORKFLOW_QUEUE_URL");
    let payments_config = PaymentsConfig::read(&mut env);
    env.finish()?;
    let sdk = switchboard_runtime::sdk_config().await;
    let store = switchboard_runtime::store(&sdk, &table_name);
    let payments = switchboard_runtime::payments(&sdk, &payments_config).await?;
    let router = event_router::router(
        &store,
        switchboard_runtime::queue(&sdk, &queue_url),
        switchboard_runtime::queue(&sdk, &workflow_queue_url),
        payments,
    );
    let (router, clock) = (&router, &Clock::System);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<StreamEvent>| async move {
        Ok::<_, lambda_runtime::Error>(event_router::route_batch(router, clock, event.payload).await)
    }))
    .await
}
