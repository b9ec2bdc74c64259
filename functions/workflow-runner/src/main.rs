//! The `workflow-runner` Lambda function (SQS).

use switchboard_core::clock::Clock;
use switchboard_core::config::{DeploymentMode, Env};
use switchboard_domain::sealing::WorkspaceKeys;
use switchboard_runtime::Parts;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let read = |env: &mut Env| {
        let time_scale = env.parsed_or("WORKFLOW_TIME_SCALE", 1.0);
        if !(0.0..=1.0).contains(&time_scale) {
            env.problem("WORKFLOW_TIME_SCALE", "must be between 0 and 1");
        }
        (
            env.required("WORKFLOW_QUEUE_URL"),
            env.required("SEALING_KEY_SECRET_ID"),
            env.parsed_or("DEPLOYMENT_MODE", DeploymentMode::Production),
            time_scale,
        )
    };
    let compose =
        async |parts: Parts, (queue_url, sealing_key, mode, time_scale): (String, String, DeploymentMode, f64)| {
            let keys = WorkspaceKeys::new(
                switchboard_runtime::key_material(&parts.sdk, &sealing_key)
                    .await?
                    .as_bytes(),
            );
            let queue = switchboard_runtime::queue(&parts.sdk, &queue_url);
            let mut runner = workflow_runner::runner(
                &parts.store,
                queue,
                switchboard_runtime::outbound_http(mode),
                keys,
                Clock::System,
            );
            runner.time_scale = time_scale;
            Ok(runner)
        };
    switchboard_runtime::sqs_function(read, compose, workflow_runner::handle).await
}
