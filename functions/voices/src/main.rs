//! The `voices` Lambda function.

use switchboard_domain::providers::PlatformProviders;
use switchboard_runtime::providers::ProviderConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let read = |env: &mut _| {
        let providers = ProviderConfig::read(env);
        (switchboard_runtime::config::tts_provider(env), providers)
    };
    switchboard_runtime::http_function(read, async |parts, (tts_provider, providers)| {
        let speech = switchboard_runtime::speech(&parts.sdk, &tts_provider);
        let platform = PlatformProviders {
            speech: Some(speech.clone()),
            ..Default::default()
        };
        let accounts =
            switchboard_runtime::providers::accounts_with(&parts.sdk, &parts.store, providers, platform, None);
        Ok(voices::service(parts.platform, &parts.store, speech, accounts))
    })
    .await
}
