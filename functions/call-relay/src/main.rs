//! The `call-relay` Lambda function: Twilio ConversationRelay sessions, behind the relay
//! WebSocket API (see `switchboard::telephony::relay`).

use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{LambdaEvent, service_fn};
use switchboard::clock::Clock;
use switchboard::config::{Env, LlmConfig, TwilioConfig};
use switchboard::telephony::relay::Relay;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    switchboard::telemetry::init();
    let mut env = Env::process();
    let table_name = env.required("TABLE_NAME");
    let twilio = TwilioConfig::read(&mut env);
    let llm = LlmConfig::read(&mut env);
    env.finish()?;
    let account = twilio.ok_or("the relay serves Twilio calls: set TELEPHONY_PROVIDER=twilio")?;
    let sdk = switchboard::aws::sdk_config().await;
    let store = switchboard::aws::store(&sdk, &table_name);
    let relay = Relay {
        engine: switchboard::aws::engine(&store, switchboard::aws::llm(&sdk, &llm).await?),
        calls: Arc::new(store.clone()),
        agents: Arc::new(store.clone()),
        voice: switchboard::aws::voice(&sdk, &store, &account),
        twilio_auth_token: switchboard::aws::twilio_auth_token(&sdk, &account).await?,
        relay_url: account.relay_url,
        clock: Clock::System,
    };
    let relay = &relay;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, lambda_runtime::Error>(relay.handle(event.payload).await)
        },
    ))
    .await
}
