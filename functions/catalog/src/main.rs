//! The `catalog` Lambda function.

use catalog::Providers;
use switchboard_core::config::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::init();
    let mut env = Env::process();
    let table_name = env.required("TABLE_NAME");
    let providers = Providers::read(&mut env);
    env.finish()?;
    let store = switchboard_runtime::store(&switchboard_runtime::sdk_config().await, &table_name);
    let platform = switchboard_runtime::public_platform(&store, 1);
    switchboard_http::run(catalog::service(platform, &store, providers)).await
}
