//! The `workflow-runner` Lambda function (SQS).

use switchboard_core::clock::Clock;
use switchboard_core::config::{DeploymentMode, Env};
use switchboard_domain::sealing::WorkspaceKeys;
use switchboard_runtime::Parts;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let read = |env: &mut Env| {
        (
            env.required("WORKFLOW_QUEUE_URL"),
            env.required("SEALING_KEY_SECRET_ID"),
            env.parsed_or("DEPLOYMENT_MODE", DeploymentMode::Production),
        )
    };
    let compose = async |parts: Parts, (queue_url, sealing_key, mode): (String, String, DeploymentMode)| {
        let keys = WorkspaceKeys::new(
            switchboard_runtime::key_material(&parts.sdk, &sealing_key)
                .await?
                .as_bytes(),
        );
        let queue = switchboard_runtime::queue(&parts.sdk, &queue_url);
        Ok(workflow_runner::runner(
            &parts.store,
            queue,
            switchboard_runtime::outbound_http(mode),
            keys,
            Clock::System,
        ))
    };
    switchboard_runtime::sqs_function(read, compose, workflow_runner::handle).await
}
