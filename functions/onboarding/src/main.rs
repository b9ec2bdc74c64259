//! The `onboarding` Lambda function.

use switchboard_domain::sealing::WorkspaceKeys;
use switchboard_runtime::providers::{Deployment, ProviderConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::http_function(ProviderConfig::read, async |parts, config: ProviderConfig| {
        let material = switchboard_runtime::key_material(&parts.sdk, &config.sealing_key_secret_id).await?;
        let keys = WorkspaceKeys::new(material.as_bytes());
        let checks = Deployment::new(config, None, None);
        Ok(onboarding::service(
            parts.platform,
            &parts.store,
            std::sync::Arc::new(checks),
            keys,
        ))
    })
    .await
}
