//! The `call-relay` Lambda function: Twilio ConversationRelay sessions, behind the relay
//! WebSocket API (see `relay`).

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{LambdaEvent, service_fn};
use std::sync::Arc;
use switchboard_core::clock::Clock;
use switchboard_core::config::Env;

use switchboard_domain::providers::PlatformProviders;
use switchboard_runtime::config::{LlmConfig, TwilioConfig};
use switchboard_runtime::providers::ProviderConfig;
use switchboard_telephony::twilio;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    switchboard_runtime::init();
    let mut env = Env::process();
    let table_name = env.required("TABLE_NAME");
    let pseudonym_key_secret_id = env.optional(switchboard_runtime::config::PSEUDONYM_KEY_SECRET_ID);
    let twilio = TwilioConfig::read(&mut env);
    let llm = LlmConfig::read(&mut env);
    let providers = ProviderConfig::read(&mut env);
    env.finish()?;
    let account = twilio.ok_or("the relay serves Twilio calls: set TELEPHONY_PROVIDER=twilio")?;
    let sdk = switchboard_runtime::sdk_config().await;
    let store = switchboard_runtime::table(&sdk, &table_name, pseudonym_key_secret_id.as_deref()).await?;
    let llm = switchboard_runtime::llm(&sdk, &llm).await?;
    let voice = switchboard_runtime::voice(&sdk, &store, &account);
    let auth_token = switchboard_runtime::twilio_auth_token(&sdk, &account).await?;
    let callbacks = twilio::Callbacks {
        public_base_url: account.public_base_url.clone(),
        relay_url: account.relay_url.clone(),
        workspace_id: None,
    };
    let platform = PlatformProviders {
        telephony: Some(Arc::new(twilio::Twilio::new(
            &account.api_base,
            &account.account_sid,
            &auth_token,
            callbacks.clone(),
        ))),
        llm: Some(llm),
        ..PlatformProviders::default()
    };
    let accounts = switchboard_runtime::providers::accounts_with(&sdk, &store, providers, platform, Some(callbacks));
    let relay = call_relay::relay(&store, accounts, voice, auth_token, account.relay_url, Clock::System);
    let relay = &relay;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, lambda_runtime::Error>(relay.handle(event.payload).await)
        },
    ))
    .await
}
