//! The `workflow-scheduler` Lambda function (EventBridge Scheduler, every minute).

use switchboard_core::config::Env;
use switchboard_runtime::Parts;
use workflow_scheduler::Scheduler;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let read = |env: &mut Env| env.required("WORKFLOW_QUEUE_URL");
    let compose = async |parts: Parts, queue_url: String| {
        let queue = switchboard_runtime::queue(&parts.sdk, &queue_url);
        Ok(workflow_scheduler::scheduler(&parts.store, queue))
    };
    switchboard_runtime::scheduled_function(read, compose, Scheduler::tick).await
}
