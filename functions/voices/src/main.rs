//! The `voices` Lambda function.

use std::sync::Arc;

use switchboard_core::config::Env;
use switchboard_core::ports::TextToSpeech;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::telemetry::init();
    let mut env = Env::process();
    let table_name = env.required("TABLE_NAME");
    let provider = env.one_of("TTS_PROVIDER", "polly", &["polly", "offline"]);
    let public_rate_limit = switchboard_runtime::config::public_rate_limit(&mut env);
    env.finish()?;
    let sdk = switchboard_runtime::sdk_config().await;
    let store = switchboard_runtime::store(&sdk, &table_name);
    let speech: Arc<dyn TextToSpeech> = match provider.as_str() {
        "offline" => Arc::new(switchboard_speech::offline::Espeak),
        _ => Arc::new(switchboard_speech::polly::Polly::new(aws_sdk_polly::Client::new(&sdk))),
    };
    let platform = switchboard_runtime::public_platform(&store, public_rate_limit);
    switchboard_http::run(voices::service(platform, speech)).await
}
