//! The `voices` Lambda function.

use switchboard_core::config::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::telemetry::init();
    let mut env = Env::process();
    let table_name = env.required("TABLE_NAME");
    let provider = switchboard_runtime::config::tts_provider(&mut env);
    let public_rate_limit = switchboard_runtime::config::public_rate_limit(&mut env);
    env.finish()?;
    let sdk = switchboard_runtime::sdk_config().await;
    let store = switchboard_runtime::store(&sdk, &table_name);
    let speech = switchboard_runtime::speech(&sdk, &provider);
    let platform = switchboard_runtime::public_platform(&store, public_rate_limit);
    switchboard_http::run(voices::service(platform, speech)).await
}
