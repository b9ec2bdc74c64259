//! AWS clients, built once per cold start. Endpoints come from the standard
//! `AWS_ENDPOINT_URL*` variables, so the same code reaches DynamoDB Local and the moto server.

use std::sync::Arc;

use anyhow::Context;
use aws_config::SdkConfig;

use crate::auth::jwt::JwtKeys;
use crate::clock::Clock;
use crate::config::{HttpConfig, LlmConfig, TelephonyConfig, TwilioConfig, WebhookConfig};
use crate::engine::Engine;
use crate::http::{CursorKey, Platform};
use crate::llm::anthropic::Anthropic;
use crate::llm::offline::Offline;
use crate::ports::{Llm, Telephony};
use crate::queue::SqsQueue;
use crate::service::campaigns::{Dialer, DialerQueue};
use crate::store::DynamoStore;
use crate::telephony::CallQueue;
use crate::telephony::relay::{ApiGatewayConnections, Voice};
use crate::telephony::simulator::Simulator;
use crate::telephony::twilio;
use crate::webhooks::DeliveryQueue;
use crate::webhooks::dispatch::{self, Dispatcher};
use crate::webhooks::secrets::SecretBox;

pub async fn sdk_config() -> SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The secret string of a Secrets Manager secret.
pub async fn secret_string(config: &SdkConfig, secret_id: &str) -> anyhow::Result<String> {
    let client = aws_sdk_secretsmanager::Client::new(config);
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .with_context(|| format!("reading secret {secret_id}"))?;
    let secret = out
        .secret_string
        .with_context(|| format!("secret {secret_id} has no string value"))?;
    Ok(secret)
}

/// The language model the configuration names.
pub async fn llm(sdk: &SdkConfig, config: &LlmConfig) -> anyhow::Result<Arc<dyn Llm>> {
    Ok(match (config.provider.as_str(), &config.anthropic_secret_id) {
        ("anthropic", Some(secret_id)) => {
            let key = secret_string(sdk, secret_id).await?;
            Arc::new(Anthropic::new(
                &config.anthropic_base_url,
                key.trim(),
                &config.anthropic_model,
            ))
        }
        _ => Arc::new(Offline),
    })
}

/// The conversation engine over the store.
pub fn engine(store: &DynamoStore, llm: Arc<dyn Llm>) -> Engine {
    Engine {
        llm,
        conversations: Arc::new(store.clone()),
        appointments: Arc::new(store.clone()),
        contacts: Arc::new(store.clone()),
        approvals: Arc::new(store.clone()),
        dnc: Arc::new(store.clone()),
    }
}

/// The queue of call jobs.
pub fn call_queue(sdk: &SdkConfig, config: &TelephonyConfig) -> Arc<dyn CallQueue> {
    Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(sdk), &config.call_queue_url))
}

/// The telephony adapter the configuration names, and with Twilio what checks its webhooks.
pub async fn telephony(
    sdk: &SdkConfig,
    config: &TelephonyConfig,
) -> anyhow::Result<(Arc<dyn Telephony>, Option<twilio::Webhooks>)> {
    let Some(account) = &config.twilio else {
        return Ok((Arc::new(Simulator::new(call_queue(sdk, config))), None));
    };
    let webhooks = twilio::Webhooks {
        auth_token: twilio_auth_token(sdk, account).await?,
        callbacks: twilio::Callbacks {
            public_base_url: account.public_base_url.clone(),
            relay_url: account.relay_url.clone(),
        },
    };
    let client = twilio::Twilio::new(
        &account.api_base,
        &account.account_sid,
        &webhooks.auth_token,
        webhooks.callbacks.clone(),
    );
    Ok((Arc::new(client), Some(webhooks)))
}

/// The table, through a DynamoDB client of `sdk`.
pub fn store(sdk: &SdkConfig, table_name: &str) -> DynamoStore {
    DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), table_name)
}

/// The dialer: what campaigns' ticks and their calls' ends run.
pub async fn dialer(
    sdk: &SdkConfig,
    store: &DynamoStore,
    telephony_config: &TelephonyConfig,
    dialer_queue_url: &str,
) -> anyhow::Result<Dialer> {
    Ok(dialer_over(
        store,
        telephony(sdk, telephony_config).await?.0,
        call_queue(sdk, telephony_config),
        Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(sdk), dialer_queue_url)),
        Clock::System,
    ))
}

/// A dialer whose records are all in `store`'s table.
pub fn dialer_over(
    store: &DynamoStore,
    telephony: Arc<dyn Telephony>,
    call_jobs: Arc<dyn CallQueue>,
    jobs: Arc<dyn DialerQueue>,
    clock: Clock,
) -> Dialer {
    Dialer {
        campaigns: Arc::new(store.clone()),
        store: Arc::new(store.clone()),
        agents: Arc::new(store.clone()),
        numbers: Arc::new(store.clone()),
        accounts: Arc::new(store.clone()),
        dnc: Arc::new(store.clone()),
        calls: Arc::new(store.clone()),
        telephony,
        call_jobs,
        jobs,
        clock,
    }
}

/// The Twilio account's auth token, from Secrets Manager.
pub async fn twilio_auth_token(sdk: &SdkConfig, account: &TwilioConfig) -> anyhow::Result<String> {
    Ok(secret_string(sdk, &account.auth_token_secret_id)
        .await?
        .trim()
        .to_owned())
}

/// What speaks into live Twilio calls through the relay WebSocket API.
pub fn voice(sdk: &SdkConfig, store: &DynamoStore, account: &TwilioConfig) -> Voice {
    Voice {
        sessions: Arc::new(store.clone()),
        connections: Arc::new(ApiGatewayConnections::new(sdk, &account.relay_callback_url)),
    }
}

/// What sends deliveries (and seals secrets), per the configuration.
pub async fn dispatcher(sdk: &SdkConfig, store: &DynamoStore, config: &WebhookConfig) -> anyhow::Result<Dispatcher> {
    let key = secret_string(sdk, &config.key_secret_id).await?;
    anyhow::ensure!(
        key.len() >= 32,
        "the webhook key {} is shorter than 32 bytes",
        config.key_secret_id
    );
    Ok(Dispatcher {
        endpoints: Arc::new(store.clone()),
        deliveries: Arc::new(store.clone()),
        events: Arc::new(store.clone()),
        queue: delivery_queue(sdk, &config.queue_url),
        secrets: SecretBox::derive(key.as_bytes()),
        http: dispatch::http_client(config.mode),
        mode: config.mode,
        schedule: config.schedule.clone(),
        clock: Clock::System,
    })
}

/// The queue of webhook deliveries.
pub fn delivery_queue(sdk: &SdkConfig, queue_url: &str) -> Arc<dyn DeliveryQueue> {
    Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(sdk), queue_url))
}

/// The store and pipeline of a function whose routes are all public: no credential is ever
/// checked, so it does not read the signing key (and is not allowed to).
pub fn public_platform(sdk: &SdkConfig, table_name: &str) -> (DynamoStore, Arc<Platform>) {
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), table_name);
    let mut unused_key = [0u8; 32];
    rand::fill(&mut unused_key);
    let platform = Arc::new(Platform {
        credentials: Arc::new(store.clone()),
        idempotency: Arc::new(store.clone()),
        jwt: JwtKeys::new(&unused_key),
        cursor_key: Arc::new(CursorKey::derive(&unused_key)),
        clock: Clock::System,
        public_rate_limit: 0,
    });
    (store, platform)
}

/// The store and the request pipeline of an HTTP function.
pub async fn http_platform(config: &HttpConfig) -> anyhow::Result<(SdkConfig, DynamoStore, Arc<Platform>)> {
    let sdk = sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table_name);
    let secret = secret_string(&sdk, &config.jwt_secret_id).await?;
    anyhow::ensure!(
        secret.len() >= 32,
        "the signing key {} is shorter than 32 bytes",
        config.jwt_secret_id
    );
    let platform = Arc::new(Platform {
        credentials: Arc::new(store.clone()),
        idempotency: Arc::new(store.clone()),
        jwt: JwtKeys::new(secret.as_bytes()),
        cursor_key: Arc::new(CursorKey::derive(secret.as_bytes())),
        clock: Clock::System,
        public_rate_limit: config.public_rate_limit,
    });
    Ok((sdk, store, platform))
}
