//! The `workflow-scheduler` Lambda function (EventBridge Scheduler, every minute).

use lambda_runtime::{LambdaEvent, service_fn};
use switchboard_core::clock::Clock;
use switchboard_core::config::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    switchboard_runtime::init();
    let mut env = Env::process();
    let table_name = env.required("TABLE_NAME");
    let queue_url = env.required("WORKFLOW_QUEUE_URL");
    env.finish()?;
    let sdk = switchboard_runtime::sdk_config().await;
    let store = switchboard_runtime::store(&sdk, &table_name);
    let scheduler = workflow_scheduler::scheduler(&store, switchboard_runtime::queue(&sdk, &queue_url));
    let scheduler = &scheduler;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| async move {
        let ticked = scheduler.tick(Clock::System.now()).await?;
        tracing::info!(
            minutes_read = ticked.minutes_read,
            started = ticked.started,
            skipped = ticked.skipped,
            "schedules ticked"
        );
        Ok::<_, lambda_runtime::Error>(ticked)
    }))
    .await
}
