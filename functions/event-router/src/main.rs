//! The `event-router` Lambda function (DynamoDB Stream of the table).

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use switchboard::clock::Clock;
use switchboard::config::Env;
use switchboard::webhooks::router::Router;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    switchboard::telemetry::init();
    let mut env = Env::process();
    let table_name = env.required("TABLE_NAME");
    let queue_url = env.required("WEBHOOK_QUEUE_URL");
    env.finish()?;
    let sdk = switchboard::aws::sdk_config().await;
    let store = switchboard::aws::store(&sdk, &table_name);
    let router = Router {
        endpoints: Arc::new(store.clone()),
        deliveries: Arc::new(store),
        queue: switchboard::aws::delivery_queue(&sdk, &queue_url),
    };
    let (router, clock) = (&router, &Clock::System);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<StreamEvent>| async move {
        Ok::<_, lambda_runtime::Error>(event_router::route_batch(router, clock, event.payload).await)
    }))
    .await
}
