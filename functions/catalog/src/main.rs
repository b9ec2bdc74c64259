//! The `catalog` Lambda function.

use std::sync::Arc;

use switchboard::config::{Env, Providers};
use switchboard::http::Service;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard::telemetry::init();
    let mut env = Env::process();
    let table_name = env.required("TABLE_NAME");
    let providers = Providers::read(&mut env);
    env.finish()?;
    let sdk = switchboard::aws::sdk_config().await;
    let (store, platform) = switchboard::aws::public_platform(&sdk, &table_name);
    let state = catalog::State {
        store: Arc::new(store),
        providers,
    };
    switchboard::http::run(Service::new(platform, state, catalog::routes())).await
}
