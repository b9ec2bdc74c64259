//! The `automation` Lambda function.

use switchboard_core::config::{DeploymentMode, Env};
use switchboard_domain::sealing::WorkspaceKeys;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let read = |env: &mut Env| {
        (
            env.required("SEALING_KEY_SECRET_ID"),
            env.required("WORKFLOW_QUEUE_URL"),
            env.parsed_or("DEPLOYMENT_MODE", DeploymentMode::Production),
        )
    };
    let compose = async |parts: switchboard_runtime::HttpParts,
                         (sealing_key, queue_url, mode): (String, String, DeploymentMode)| {
        let keys = WorkspaceKeys::new(
            switchboard_runtime::key_material(&parts.sdk, &sealing_key)
                .await?
                .as_bytes(),
        );
        let http = switchboard_runtime::outbound_http(mode);
        let queue = switchboard_runtime::queue(&parts.sdk, &queue_url);
        Ok(automation::service(parts.platform, &parts.store, http, queue, keys))
    };
    switchboard_runtime::http_function(read, compose).await
}
