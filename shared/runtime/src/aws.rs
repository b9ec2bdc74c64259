//! The SDK configuration, secrets, and the adapters of the ports built from them.

use std::sync::Arc;

use anyhow::Context;
use aws_lambda_events::event::sqs::SqsMessage;
use aws_types::SdkConfig;
use switchboard_core::clock::Clock;
use switchboard_core::config::Env;
use switchboard_core::ports::{CallQueue, DialerQueue, ProviderAccounts};
use switchboard_domain::campaigns::Dialer;
use switchboard_domain::conversation::Engine;
use switchboard_store::DynamoStore;

#[allow(unused_imports)]
use crate::config;

/// The SDK configuration of a function, from the variables Lambda sets: `AWS_REGION`, the
/// execution role's `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, and
/// the endpoint overrides `AWS_ENDPOINT_URL_<SERVICE>` (else `AWS_ENDPOINT_URL`) through which
/// the local stack reaches DynamoDB Local and moto. A function needs nothing else of what
/// `aws-config` would load (profile files, SSO, web identity, container and instance metadata),
/// and links none of it.
pub async fn sdk_config() -> SdkConfig {
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
    use aws_smithy_types::retry::RetryConfig;
    use aws_smithy_types::timeout::TimeoutConfig;
    use aws_types::region::Region;

    let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")).map(Region::new))
        .retry_config(RetryConfig::standard())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(switchboard_https::AWS_CONNECT_TIMEOUT)
                .build(),
        )
        .time_source(aws_smithy_async::time::SharedTimeSource::default())
        .sleep_impl(aws_smithy_async::rt::sleep::default_async_sleep().expect("the tokio sleep"))
        .http_client(switchboard_https::sdk::http_client())
        .service_config(EndpointsFromEnv);
    if let (Some(id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        let credentials = Credentials::new(id, secret, var("AWS_SESSION_TOKEN"), None, "Environment");
        config = config.credentials_provider(SharedCredentialsProvider::new(credentials));
    }
    config.build()
}

/// Each client's endpoint: `AWS_ENDPOINT_URL_<SERVICE>` (its id upper-cased, spaces as `_`:
/// `DYNAMODB`, `SQS`, `SECRETS_MANAGER`), else `AWS_ENDPOINT_URL`, else the service's own.
#[derive(Debug)]
struct EndpointsFromEnv;

impl aws_types::service_config::LoadServiceConfig for EndpointsFromEnv {
    fn load_config(&self, key: aws_types::service_config::ServiceConfigKey<'_>) -> Option<String> {
        service_variable(key.env(), key.service_id())
    }
}

/// The endpoint the environment names for a service (by its SDK id: `S3`, `Polly`, `SQS`,
/// `Secrets Manager`), if any.
pub fn endpoint_url(service_id: &str) -> Option<String> {
    service_variable("AWS_ENDPOINT_URL", service_id)
}

/// `<variable>_<SERVICE>` (the service's SDK id upper-cased, spaces as `_`: `S3`, `POLLY`,
/// `SECRETS_MANAGER`), else `<variable>`, as the SDK's clients read them.
fn service_variable(variable: &str, service_id: &str) -> Option<String> {
    let service = service_id.to_uppercase().replace(' ', "_");
    [format!("{variable}_{service}"), variable.to_owned()]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
}

/// The secret string of a Secrets Manager secret (its current version).
pub async fn secret_string(config: &SdkConfig, secret_id: &str) -> anyhow::Result<String> {
    let endpoint = endpoint_url("Secrets Manager");
    let api = switchboard_https::aws::AwsApi::new(
        config,
        "secretsmanager",
        endpoint.as_deref(),
        std::time::Duration::from_secs(10),
    );
    let request = serde_json::json!({ "SecretId": secret_id });
    let secret = api
        .call("1.1", "secretsmanager.GetSecretValue", &request)
        .await
        .with_context(|| format!("reading secret {secret_id}"))?;
    secret["SecretString"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("secret {secret_id} has no string value"))
}

/// Key material of at least 32 bytes, from Secrets Manager.
pub async fn key_material(config: &SdkConfig, secret_id: &str) -> anyhow::Result<String> {
    let key = secret_string(config, secret_id).await?;
    anyhow::ensure!(key.len() >= 32, "the key {secret_id} is shorter than 32 bytes");
    Ok(key)
}

/// The table, through a DynamoDB client of `sdk`.
pub fn store(sdk: &SdkConfig, table_name: &str) -> DynamoStore {
    DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), table_name)
}

/// The table, with the pseudonym key the phone lists need when the function names its secret.
pub async fn table(
    sdk: &SdkConfig,
    table_name: &str,
    pseudonym_key_secret_id: Option<&str>,
) -> anyhow::Result<DynamoStore> {
    let store = store(sdk, table_name);
    Ok(match pseudonym_key_secret_id {
        Some(secret_id) => {
            let key = key_material(sdk, secret_id).await?;
            store.with_pseudonyms(switchboard_store::PseudonymKey::derive(key.as_bytes()))
        }
        None => store,
    })
}

/// The conversation engine over the store, each workspace's model chosen by `models`.
pub fn engine(store: &DynamoStore, models: Arc<dyn ProviderAccounts>) -> Engine {
    Engine {
        models,
        conversations: Arc::new(store.clone()),
        appointments: Arc::new(store.clone()),
        contacts: Arc::new(store.clone()),
        approvals: Arc::new(store.clone()),
        dnc: Arc::new(store.clone()),
    }
}

/// The dialer over the store: what campaigns' ticks and their calls' ends run.
pub fn dialer(
    store: &DynamoStore,
    providers: Arc<dyn ProviderAccounts>,
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
        wallets: Arc::new(store.clone()),
        providers,
        call_jobs,
        jobs,
        clock,
        seen: Default::default(),
        refilling: Default::default(),
    }
}

/// An SQS queue of jobs.
#[cfg(feature = "sqs")]
pub fn queue(sdk: &SdkConfig, url: &str) -> Arc<switchboard_sqs::SqsQueue> {
    Arc::new(switchboard_sqs::SqsQueue::new(sdk, endpoint_url("SQS").as_deref(), url))
}

/// The mail queue the `mailer` worker delivers from.
#[cfg(feature = "sqs")]
pub fn mail_queue(sdk: &SdkConfig, url: &str) -> Arc<dyn switchboard_core::ports::Mailer> {
    Arc::new(switchboard_sqs::SqsMailer::new(
        sdk,
        endpoint_url("SQS").as_deref(),
        url,
    ))
}

/// The language model the configuration names.
#[cfg(feature = "llm")]
pub async fn llm(sdk: &SdkConfig, config: &config::LlmConfig) -> anyhow::Result<Arc<dyn switchboard_core::ports::Llm>> {
    use switchboard_llm::{anthropic::Anthropic, offline::Offline};
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

/// The platform's telephony: the adapter the configuration names, the simulator test-mode
/// calls go through, and with Twilio what checks its webhooks.
#[cfg(feature = "telephony")]
pub struct PlatformTelephony {
    pub telephony: Arc<dyn switchboard_core::ports::Telephony>,
    pub simulator: Arc<dyn switchboard_core::ports::Telephony>,
    pub webhooks: Option<switchboard_telephony::twilio::Webhooks>,
}

/// The platform's telephony as the configuration names it.
#[cfg(feature = "telephony")]
pub async fn telephony(
    sdk: &SdkConfig,
    config: &config::TelephonyConfig,
    call_jobs: Arc<dyn CallQueue>,
    recording_speech: Option<Arc<dyn switchboard_core::ports::TextToSpeech>>,
) -> anyhow::Result<PlatformTelephony> {
    use switchboard_core::ports::Telephony;
    use switchboard_telephony::{simulator::Simulator, twilio};
    let simulator: Arc<dyn Telephony> = Arc::new(match recording_speech {
        Some(speech) => Simulator::new(call_jobs).recording_with(speech),
        None => Simulator::new(call_jobs),
    });
    let Some(account) = &config.twilio else {
        return Ok(PlatformTelephony {
            telephony: simulator.clone(),
            simulator,
            webhooks: None,
        });
    };
    let webhooks = twilio::Webhooks {
        auth_token: twilio_auth_token(sdk, account).await?,
        callbacks: twilio::Callbacks {
            public_base_url: account.public_base_url.clone(),
            relay_url: account.relay_url.clone(),
            workspace_id: None,
        },
    };
    let client = twilio::Twilio::new(
        &account.api_base,
        &account.account_sid,
        &webhooks.auth_token,
        webhooks.callbacks.clone(),
    );
    Ok(PlatformTelephony {
        telephony: Arc::new(client),
        simulator,
        webhooks: Some(webhooks),
    })
}

/// The text-to-speech service `TTS_PROVIDER` names: Amazon Polly, or espeak-ng offline.
#[cfg(feature = "speech")]
pub fn speech(sdk: &SdkConfig, provider: &str) -> Arc<dyn switchboard_core::ports::TextToSpeech> {
    match provider {
        "offline" => Arc::new(switchboard_speech::offline::Espeak),
        _ => Arc::new(switchboard_speech::polly::Polly::new(
            sdk,
            endpoint_url("Polly").as_deref(),
        )),
    }
}

/// The mail transport the configuration names.
#[cfg(feature = "mail")]
pub fn mail_transport(
    sdk: &SdkConfig,
    config: switchboard_mail::MailConfig,
) -> Arc<dyn switchboard_core::ports::Mailer> {
    use switchboard_mail::{MailConfig, OutboxMailer, SesMailer};
    match config {
        MailConfig::Outbox(dir) => Arc::new(OutboxMailer::new(dir)),
        MailConfig::Ses {
            from,
            configuration_set,
        } => Arc::new(SesMailer::new(aws_sdk_sesv2::Client::new(sdk), from, configuration_set)),
    }
}

/// The files bucket: call recordings and large exports.
#[cfg(feature = "files")]
pub fn files(sdk: &SdkConfig, bucket: &str) -> Arc<switchboard_s3::S3Files> {
    Arc::new(switchboard_s3::S3Files::new(sdk, bucket, endpoint_url("S3").as_deref()))
}

/// The Twilio account's auth token, from Secrets Manager.
#[cfg(feature = "telephony")]
pub async fn twilio_auth_token(sdk: &SdkConfig, account: &config::TwilioConfig) -> anyhow::Result<String> {
    Ok(secret_string(sdk, &account.auth_token_secret_id)
        .await?
        .trim()
        .to_owned())
}

/// What speaks into live Twilio calls through the relay WebSocket API.
#[cfg(all(feature = "telephony", feature = "apigw"))]
pub fn voice(
    sdk: &SdkConfig,
    store: &DynamoStore,
    account: &config::TwilioConfig,
) -> switchboard_telephony::twilio::relay::Voice {
    switchboard_telephony::twilio::relay::Voice {
        sessions: Arc::new(store.clone()),
        connections: Arc::new(switchboard_apigw::ApiGatewayConnections::new(
            sdk,
            &account.relay_callback_url,
        )),
    }
}

/// The payment provider the configuration names.
#[cfg(feature = "payments")]
pub async fn payments(
    sdk: &SdkConfig,
    config: &config::PaymentsConfig,
) -> anyhow::Result<Arc<dyn switchboard_core::ports::Payments>> {
    use switchboard_payments::{ByMode, offline::OfflinePayments, stripe::StripePayments};
    Ok(
        match (&config.stripe_secret_id, &config.return_url, &config.webhook_url) {
            (Some(secret_id), Some(return_url), Some(webhook_url)) if config.provider == "stripe" => {
                let key = secret_string(sdk, secret_id).await?;
                Arc::new(ByMode {
                    live: Arc::new(StripePayments::new(&config.stripe_api_base, key.trim(), return_url)),
                    test: Arc::new(OfflinePayments::new(
                        webhook_url,
                        payment_webhook_secret(sdk, config).await?,
                    )),
                })
            }
            (_, _, Some(webhook_url)) => Arc::new(OfflinePayments::new(
                webhook_url,
                payment_webhook_secret(sdk, config).await?,
            )),
            _ => anyhow::bail!("the payments configuration names no provider it can build"),
        },
    )
}

/// The secret payment webhooks are signed with.
#[cfg(feature = "payments")]
pub async fn payment_webhook_secret(sdk: &SdkConfig, config: &config::PaymentsConfig) -> anyhow::Result<String> {
    Ok(secret_string(sdk, &config.webhook_secret_id).await?.trim().to_owned())
}

/// Webhook delivery over the store: what sends deliveries (and seals secrets).
#[cfg(feature = "webhooks")]
pub fn dispatcher(
    store: &DynamoStore,
    queue: Arc<dyn switchboard_core::ports::DeliveryQueue>,
    key_material: &[u8],
    config: &config::WebhookConfig,
    clock: Clock,
) -> switchboard_domain::webhooks::delivery::Dispatcher {
    switchboard_domain::webhooks::delivery::Dispatcher {
        endpoints: Arc::new(store.clone()),
        deliveries: Arc::new(store.clone()),
        events: Arc::new(store.clone()),
        queue,
        secrets: switchboard_domain::webhooks::secrets::SecretBox::derive(key_material),
        transport: Arc::new(switchboard_webhook_sender::HttpTransport::new(config.mode)),
        schedule: config.schedule.clone(),
        clock,
    }
}

/// Requests to outside APIs (workflow steps, connection tests), behind the webhooks' address guard.
#[cfg(feature = "webhooks")]
pub fn outbound_http(mode: switchboard_core::config::DeploymentMode) -> Arc<dyn switchboard_core::ports::OutboundHttp> {
    Arc::new(switchboard_webhook_sender::HttpTransport::new(mode))
}

/// The store and the request pipeline of an HTTP function: the pipeline's stores and the key
/// that signs session JWTs and list cursors.
#[cfg(feature = "http")]
pub async fn http_platform(
    config: &config::HttpConfig,
) -> anyhow::Result<(SdkConfig, DynamoStore, Arc<switchboard_http::Platform>)> {
    let sdk = sdk_config().await;
    let (store, key) = futures::try_join!(
        table(&sdk, &config.table_name, config.pseudonym_key_secret_id.as_deref()),
        key_material(&sdk, &config.jwt_secret_id)
    )?;
    let store = store.with_rate_limit_scale(config.rate_limit_scale);
    let platform = platform(&store, key.as_bytes(), Clock::System, config.public_rate_limit);
    Ok((sdk, store, platform))
}

/// The request pipeline over the store, signing with `key`.
#[cfg(feature = "http")]
pub fn platform(
    store: &DynamoStore,
    key: &[u8],
    clock: Clock,
    public_rate_limit: u32,
) -> Arc<switchboard_http::Platform> {
    Arc::new(switchboard_http::Platform {
        credentials: Arc::new(store.clone()),
        idempotency: Arc::new(store.clone()),
        audit: Arc::new(store.clone()),
        jwt: switchboard_http::jwt::JwtKeys::new(key),
        cursor_key: Arc::new(switchboard_http::CursorKey::derive(key)),
        fingerprint_key: switchboard_http::FingerprintKey::derive(key),
        clock,
        public_rate_limit,
    })
}

/// The pipeline of a function whose routes are all public: no credential is ever checked, so
/// it does not read the signing key (and is not allowed to).
#[cfg(feature = "http")]
pub fn public_platform(store: &DynamoStore, public_rate_limit: u32) -> Arc<switchboard_http::Platform> {
    let mut unused_key = [0u8; 32];
    rand::fill(&mut unused_key);
    platform(store, &unused_key, Clock::System, public_rate_limit)
}

/// What a function is made of: the SDK configuration and the table.
pub struct Parts {
    pub sdk: SdkConfig,
    pub store: DynamoStore,
}

/// What an HTTP function is made of: the SDK configuration, the table and the request pipeline.
#[cfg(feature = "http")]
pub struct HttpParts {
    pub sdk: SdkConfig,
    pub store: DynamoStore,
    pub platform: Arc<switchboard_http::Platform>,
}

/// The `main` of an HTTP function: logging; the pipeline's configuration and the function's
/// own (`read`), every problem reported at once; the clients; then it serves what `compose`
/// makes of them behind API Gateway.
#[cfg(feature = "http")]
pub async fn http_function<C, S: Send + Sync + 'static>(
    read: impl FnOnce(&mut Env) -> C,
    compose: impl AsyncFnOnce(HttpParts, C) -> anyhow::Result<switchboard_http::Service<S>>,
) -> Result<(), lambda_http::Error> {
    crate::init();
    let mut env = Env::process();
    let http = config::HttpConfig::read(&mut env);
    let own = read(&mut env);
    env.finish()?;
    let (sdk, store, platform) = http_platform(&http).await?;
    let service = compose(HttpParts { sdk, store, platform }, own).await?;
    switchboard_http::run(service).await
}

/// The `main` of an HTTP function made of the table alone.
#[cfg(feature = "http")]
pub async fn table_http_function<S: Send + Sync + 'static>(
    service: fn(Arc<switchboard_http::Platform>, &DynamoStore) -> switchboard_http::Service<S>,
) -> Result<(), lambda_http::Error> {
    http_function(|_| (), async |parts, ()| Ok(service(parts.platform, &parts.store))).await
}

/// The `main` of a worker fed by SQS: logging; the table's name and the function's own
/// configuration (`read`); the clients; then each message goes to `handle` with the state
/// `compose` makes of them.
pub async fn sqs_function<C, S>(
    read: impl FnOnce(&mut Env) -> C,
    compose: impl AsyncFnOnce(Parts, C) -> anyhow::Result<S>,
    handle: impl AsyncFn(&S, SqsMessage) -> anyhow::Result<()>,
) -> Result<(), lambda_runtime::Error> {
    let state = worker_state(read, compose).await?;
    crate::worker::run(|message| handle(&state, message)).await
}

/// The `main` of a function the scheduler starts, made like a worker's: each invocation runs
/// `run` at the time it starts, logs what it did and answers with it.
pub async fn scheduled_function<C, S, Done: serde::Serialize + std::fmt::Debug>(
    read: impl FnOnce(&mut Env) -> C,
    compose: impl AsyncFnOnce(Parts, C) -> anyhow::Result<S>,
    run: impl AsyncFn(&S, chrono::DateTime<chrono::Utc>) -> anyhow::Result<Done>,
) -> Result<(), lambda_runtime::Error> {
    let state = worker_state(read, compose).await?;
    let (state, run) = (&state, &run);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |_: lambda_runtime::LambdaEvent<serde::de::IgnoredAny>| async move {
            let done = run(state, Clock::System.now()).await?;
            tracing::info!(?done, "scheduled run finished");
            Ok::<_, lambda_runtime::Error>(done)
        },
    ))
    .await
}

/// Logging; the table's name and the function's own configuration (`read`), every problem
/// reported at once; the clients; the state `compose` makes of them.
async fn worker_state<C, S>(
    read: impl FnOnce(&mut Env) -> C,
    compose: impl AsyncFnOnce(Parts, C) -> anyhow::Result<S>,
) -> Result<S, lambda_runtime::Error> {
    crate::init();
    let mut env = Env::process();
    let table_name = env.required("TABLE_NAME");
    let pseudonym_key_secret_id = env.optional(config::PSEUDONYM_KEY_SECRET_ID);
    let own = read(&mut env);
    env.finish()?;
    let sdk = sdk_config().await;
    let store = table(&sdk, &table_name, pseudonym_key_secret_id.as_deref()).await?;
    Ok(compose(Parts { sdk, store }, own).await?)
}
