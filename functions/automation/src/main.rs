//! The `automation` Lambda function.

use switchboard_core::config::{DeploymentMode, Env};
use switchboard_domain::sealing::WorkspaceKeys;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let read = |env: &mut Env| {
        (
            env.required("SEALING_KEY_SECRET_ID"),
            env.parsed_or("DEPLOYMENT_MODE", DeploymentMode::Production),
        )
    };
    switchboard_runtime::http_function(read, async |parts, (sealing_key, mode): (String, DeploymentMode)| {
        let keys = WorkspaceKeys::new(
            switchboard_runtime::key_material(&parts.sdk, &sealing_key)
                .await?
                .as_bytes(),
        );
        let http = switchboard_runtime::outbound_http(mode);
        Ok(automation::service(parts.platform, &parts.store, http, keys))
    })
    .await
}
