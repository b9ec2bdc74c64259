//! Test harness: an in-process Switchboard whose requests go through each function's real
//! `Service` (routing, auth, rate limits, idempotency, handlers) against DynamoDB Local and the
//! moto server that `scripts/test` starts.
//!
//! Every [`TestApp`] has its own clock, DynamoDB operation log, client IP and mail queue, and
//! every test its own workspaces, so tests run in parallel on one table.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aws_lambda_events::apigw::{ApiGatewayV2httpRequestContext, ApiGatewayV2httpRequestContextHttpDescription};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_types::SdkConfig;
use call_relay::Relay;
use chrono::{DateTime, Utc};
use http::{HeaderMap, Method};
use lambda_http::request::RequestContext;
use serde_json::{Value, json};
use switchboard_apigw::ApiGatewayConnections;
use switchboard_core::clock::Clock;
use switchboard_core::config::DeploymentMode;
use switchboard_core::model::Plan;
use switchboard_core::ports::{
    CallJob, DeliveryJob, DeliveryQueue, DialerJob, DialerQueue, LiveCalls, Llm, Telephony, WorkflowJob, WorkflowQueue,
};
use switchboard_domain::campaigns::Dialer;
use switchboard_domain::providers::PlatformProviders;
use switchboard_domain::webhooks::RetrySchedule;
use switchboard_domain::webhooks::delivery::{self, Dispatcher};
use switchboard_http::jwt::JwtKeys;
use switchboard_http::openapi::RouteInfo;
use switchboard_http::{Route, Service};
use switchboard_llm::offline::Offline;
use switchboard_runtime::config::WebhookConfig;
use switchboard_runtime::providers::{Deployment, ProviderConfig};
use switchboard_sqs::{SqsMailer, SqsQueue};
use switchboard_store::DynamoStore;
use switchboard_telephony::simulator::Simulator;
use switchboard_telephony::twilio::{self, relay::Voice};

pub mod fake;

pub use serde_json;

/// An SDK configuration as the functions make theirs (endpoints from `AWS_ENDPOINT_URL_*`, set
/// by `scripts/test`). One per test: its HTTP client's connections belong to the test's runtime.
pub async fn sdk() -> SdkConfig {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok() && std::env::var("TABLE_NAME").is_ok(),
        "these tests need DynamoDB Local and moto: run them with scripts/test"
    );
    switchboard_runtime::sdk_config().await
}

pub fn table_name() -> String {
    std::env::var("TABLE_NAME").expect("TABLE_NAME is set by scripts/test")
}

/// Every DynamoDB operation a client sent, in order (retries count again).
#[derive(Debug, Clone, Default)]
pub struct OperationLog(Arc<Mutex<Log>>);

#[derive(Debug, Default)]
struct Log {
    operations: Vec<Operation>,
    /// Operations taken before the first of `operations`.
    taken: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// `GetItem`, `TransactWriteItems`...; a PutItem of a new audit entry alone is
    /// `PutItem (audit entry)`.
    pub name: String,
    /// Items a transaction writes or checks (1 for other operations).
    pub items: usize,
    /// Whether it writes an audit entry.
    pub audit: bool,
    /// From sending the request to its answer (`None` until answered).
    pub latency: Option<std::time::Duration>,
}

/// Which operation of the log a request is (counting those taken), and when it was sent.
#[derive(Debug, Clone)]
struct Sent(usize, std::time::Instant);

impl aws_smithy_types::config_bag::Storable for Sent {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

impl OperationLog {
    /// The names of the operations sent since the last take.
    pub fn take(&self) -> Vec<String> {
        self.take_operations().into_iter().map(|op| op.name).collect()
    }

    pub fn take_operations(&self) -> Vec<Operation> {
        let mut log = self.0.lock().unwrap();
        log.taken += log.operations.len();
        std::mem::take(&mut log.operations)
    }
}

impl Intercept for OperationLog {
    fn name(&self) -> &'static str {
        "OperationLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut name = cfg.load::<Metadata>().map(|m| m.name().to_owned()).unwrap_or_default();
        let body = context.request().body().bytes().unwrap_or_default();
        let audit = String::from_utf8_lossy(body).contains("#AUDIT\"");
        let items = match name.as_str() {
            "TransactWriteItems" => serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|b| b["TransactItems"].as_array().map(Vec::len))
                .unwrap_or(0),
            _ => 1,
        };
        if name == "PutItem" && audit {
            // A new entry alone; an erasure's rewrite of an old one is not.
            name.push_str(if String::from_utf8_lossy(body).contains("attribute_not_exists") {
                " (audit entry)"
            } else {
                " (audit entry rewritten)"
            });
        }
        let mut log = self.0.lock().unwrap();
        cfg.interceptor_state()
            .store_put(Sent(log.taken + log.operations.len(), std::time::Instant::now()));
        log.operations.push(Operation {
            name,
            items,
            audit,
            latency: None,
        });
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef<
            '_,
        >,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(Sent(index, at)) = cfg.load::<Sent>() {
            let mut log = self.0.lock().unwrap();
            // Taken since it was sent: no longer in the log.
            if let Some(op) = index.checked_sub(log.taken).and_then(|i| log.operations.get_mut(i)) {
                op.latency.get_or_insert(at.elapsed());
            }
        }
        Ok(())
    }
}

/// Which function serves a path, as the cargo-lambda router and the HTTP API decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Auth,
    ApiKeys,
    Team,
    Automation,
    Onboarding,
    Agents,
    Contacts,
    Appointments,
    Numbers,
    Approvals,
    Calls,
    Webhooks,
    Dnc,
    Campaigns,
    Billing,
    PaymentWebhooks,
    Compliance,
    Reports,
    Voices,
    Catalog,
}

/// Knobs of a test app.
#[derive(Debug, Clone)]
pub struct Options {
    pub signup_plan: Plan,
    pub public_rate_limit: u32,
    pub start: DateTime<Utc>,
    /// Twilio's API base URL (a fake's) to make Twilio the telephony provider; else the
    /// simulator. The same URL plays API Gateway's management API for the relay.
    pub twilio_api: Option<String>,
    /// Refuse plain http and private addresses for webhooks, as in production.
    pub production: bool,
    /// Webhook retries: none of the waits by default, so a test runs every attempt at once.
    pub webhook_schedule: RetrySchedule,
    /// Data-subject bundles larger than this many bytes go to the files bucket.
    pub dsr_inline_limit: usize,
    /// Anthropic's API base URL (a fake's) for the model workspaces bring; else the offline model.
    pub anthropic_api: Option<String>,
    /// ElevenLabs' API base URL (a fake's) for the voices workspaces bring; else offline.
    pub elevenlabs_api: Option<String>,
    /// Multiplies every plan's rate limits (`RATE_LIMIT_SCALE`).
    pub rate_limit_scale: u32,
    /// A table of the test's own (made like the shared one): for what reads the table's
    /// global lists, which other tests' items would otherwise share.
    pub own_table: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            signup_plan: Plan::Starter,
            public_rate_limit: 1000,
            start: Utc::now(),
            twilio_api: None,
            production: false,
            webhook_schedule: RetrySchedule(vec![std::time::Duration::ZERO; 4]),
            dsr_inline_limit: compliance::export::INLINE_LIMIT,
            anthropic_api: None,
            elevenlabs_api: None,
            rate_limit_scale: 1,
            own_table: false,
        }
    }
}

/// A new table with the shared table's keys and indexes; its name.
async fn table_like_the_shared_one(dynamodb: &aws_sdk_dynamodb::Client) -> String {
    let shared = dynamodb
        .describe_table()
        .table_name(table_name())
        .send()
        .await
        .expect("the shared table exists")
        .table
        .unwrap();
    let name = format!("test-own-{}", random_suffix());
    let indexes = shared.global_secondary_indexes().iter().map(|gsi| {
        aws_sdk_dynamodb::types::GlobalSecondaryIndex::builder()
            .index_name(gsi.index_name().unwrap())
            .set_key_schema(gsi.key_schema.clone())
            .set_projection(gsi.projection.clone())
            .build()
            .unwrap()
    });
    dynamodb
        .create_table()
        .table_name(&name)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .set_attribute_definitions(shared.attribute_definitions.clone())
        .set_key_schema(shared.key_schema.clone())
        .set_global_secondary_indexes(Some(indexes.collect()))
        .send()
        .await
        .expect("DynamoDB Local creates tables");
    name
}

/// The same providers for every workspace: for tests and benchmarks with scripted ones.
pub struct FixedProviders {
    pub telephony: Option<Arc<dyn Telephony>>,
    pub llm: Arc<dyn Llm>,
}

#[async_trait::async_trait]
impl switchboard_core::ports::ProviderAccounts for FixedProviders {
    async fn telephony(&self, _: &str) -> Result<Arc<dyn Telephony>, switchboard_core::Error> {
        self.telephony
            .clone()
            .ok_or_else(|| switchboard_core::Error::internal(anyhow::anyhow!("no telephony here")))
    }

    async fn llm(&self, _: &str) -> Result<Arc<dyn Llm>, switchboard_core::Error> {
        Ok(self.llm.clone())
    }

    async fn webhook_key(&self, _: &str) -> Result<Option<String>, switchboard_core::Error> {
        Ok(None)
    }

    async fn voices(&self, _: &str) -> Result<switchboard_core::ports::Voices, switchboard_core::Error> {
        Ok(Default::default())
    }

    async fn mode(&self, _: &str) -> Result<switchboard_core::model::ProviderMode, switchboard_core::Error> {
        Ok(switchboard_core::model::ProviderMode::Bundled)
    }
}

/// The Twilio account of test apps with Twilio as the provider.
pub const TWILIO_ACCOUNT_SID: &str = "AC00000000000000000000000000000001";
pub const TWILIO_AUTH_TOKEN: &str = "test-auth-token";
pub const PUBLIC_BASE_URL: &str = "https://api.switchboard.test";
pub const RELAY_URL: &str = "wss://relay.switchboard.test/live";
/// What the tests' payment provider signs its webhooks with.
pub const PAYMENT_WEBHOOK_SECRET: &str = "whsec_test_payments";

/// One in-process deployment of every HTTP function.
pub struct TestApp {
    pub clock: Clock,
    pub ops: OperationLog,
    pub store: DynamoStore,
    pub jwt: JwtKeys,
    /// What idempotency records' fingerprints are keyed with.
    pub fingerprints: switchboard_http::FingerprintKey,
    pub sqs: aws_sdk_sqs::Client,
    pub mail_queue_url: String,
    /// The call jobs (simulator steps, post-call work) this app's functions enqueue.
    pub call_queue_url: String,
    /// The call recordings, in a bucket of this app's own in moto.
    pub recordings: Arc<dyn switchboard_core::ports::Recordings>,
    pub exports: Arc<dyn switchboard_core::ports::Exports>,
    /// What seals workspaces' secrets.
    pub keys: switchboard_domain::sealing::WorkspaceKeys,
    pub s3: aws_sdk_s3::Client,
    pub files_bucket: String,
    /// The client address requests come from (unique per app, so public rate limits do not mix).
    pub ip: String,
    auth: Service<auth::State>,
    api_keys: Service<api_keys::State>,
    team: Service<team::State>,
    automation: Service<automation::State>,
    onboarding: Service<onboarding::State>,
    /// Each workspace's providers, as every function that calls them resolves them.
    pub providers: Arc<switchboard_domain::providers::Accounts>,
    agents: Service<agents::State>,
    contacts: Service<contacts::State>,
    appointments: Service<appointments::State>,
    numbers: Service<numbers::State>,
    approvals: Service<approvals::State>,
    calls: Service<calls::State>,
    webhooks: Service<webhooks::State>,
    dnc: Service<dnc::State>,
    compliance: Service<compliance::State>,
    reports: Service<reports::State>,
    voices: Service<voices::State>,
    campaigns: Service<campaigns::State>,
    billing: Service<billing::State>,
    payment_webhooks: Service<payment_webhooks::State>,
    /// Plays the deployment's payment webhook URL for the offline payment provider: what it
    /// posts waits here until [`TestApp::deliver_payments`] hands it to `payment-webhooks`.
    pub payment_outbox: fake::FakeServer,
    delivered_payments: Mutex<usize>,
    catalog: Service<catalog::State>,
    router: matchit::Router<Function>,
    /// The call worker, fed by [`TestApp::run_call_jobs`].
    pub call_worker: call_worker::State,
    /// The daily `number-renewals` job (run by [`TestApp::renew_numbers`]).
    pub number_renewals: number_renewals::State,
    /// With Twilio as the provider: the `call-relay` function.
    pub relay: Option<Relay>,
    /// The `event-router` (fed by [`TestApp::route_events`]) and the `webhook-dispatcher` (by
    /// [`TestApp::run_deliveries`]).
    pub event_router: event_router::Router,
    pub dispatcher: Dispatcher,
    pub delivery_queue_url: String,
    /// The `workflow-runner`, fed by [`TestApp::run_workflows`].
    pub workflow_runner: workflow_runner::Runner,
    pub workflow_queue_url: String,
    /// The `workflow-scheduler`: ticks with [`TestApp::tick_schedules`] (on a table of the
    /// test's own: `Options::own_table`).
    pub workflow_scheduler: workflow_scheduler::Scheduler,
    routed: Mutex<std::collections::HashSet<String>>,
    /// The `campaign-dialer`, fed by [`TestApp::run_dialing`].
    pub dialer: Dialer,
    pub dialer_queue_url: String,
    /// Scheduled ticks not due yet on the test's clock; [`TestApp::advance`] lets them go.
    timers: Mutex<Vec<DialerJob>>,
    /// Credentials that act for a customer: requests sent with one carry `Switchboard-Customer`.
    acting: Mutex<HashMap<String, String>>,
}

/// The dialer queue of tests: every job is visible at once, whatever its delay, since the
/// test's clock is not SQS's; scheduled ticks wait in [`TestApp::advance`]'s timers instead.
struct AtOnce(SqsQueue);

#[async_trait::async_trait]
impl DialerQueue for AtOnce {
    async fn enqueue(&self, jobs: &[DialerJob], _delay: std::time::Duration) -> anyhow::Result<()> {
        self.0.send(jobs, std::time::Duration::ZERO).await
    }
}

/// Workflow jobs are visible at once too: the runner puts off those not yet due on the test's
/// clock, and [`TestApp::run_workflows`] stops when only such are left.
#[async_trait::async_trait]
impl WorkflowQueue for AtOnce {
    async fn enqueue(&self, jobs: &[WorkflowJob], _delay: std::time::Duration) -> anyhow::Result<()> {
        self.0.send(jobs, std::time::Duration::ZERO).await
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::with(Options::default()).await
    }

    /// An app whose sign-ups get the plan without quotas: for tests that make one of everything.
    pub async fn unlimited() -> Self {
        Self::with(Options {
            signup_plan: switchboard_core::model::Plan::Enterprise,
            ..Options::default()
        })
        .await
    }

    pub async fn with(options: Options) -> Self {
        switchboard_runtime::telemetry::init();
        let sdk = &sdk().await;
        let ops = OperationLog::default();
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(sdk)
                .interceptor(ops.clone())
                .build(),
        );
        let table = match options.own_table {
            true => table_like_the_shared_one(&dynamodb).await,
            false => table_name(),
        };
        let store = DynamoStore::new(dynamodb, table)
            .with_pseudonyms(switchboard_store::PseudonymKey::derive(&rand::random::<[u8; 32]>()))
            .with_rate_limit_scale(options.rate_limit_scale);
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let queue = format!("test-mail-{}", random_suffix());
        let mail_queue_url = sqs
            .create_queue()
            .queue_name(queue)
            .send()
            .await
            .expect("moto creates queues")
            .queue_url
            .unwrap();
        let call_queue_url = sqs
            .create_queue()
            .queue_name(format!("test-calls-{}", random_suffix()))
            .send()
            .await
            .expect("moto creates queues")
            .queue_url
            .unwrap();
        let delivery_queue_url = sqs
            .create_queue()
            .queue_name(format!("test-deliveries-{}", random_suffix()))
            .send()
            .await
            .expect("moto creates queues")
            .queue_url
            .unwrap();
        let workflow_queue_url = sqs
            .create_queue()
            .queue_name(format!("test-workflows-{}", random_suffix()))
            .send()
            .await
            .expect("moto creates queues")
            .queue_url
            .unwrap();
        // The functions' own SQS adapter, at the endpoint the environment names, as they compose it.
        let sqs_endpoint = switchboard_runtime::endpoint_url("SQS");
        let queue = |url: &str| SqsQueue::new(sdk, sqs_endpoint.as_deref(), url);
        let workflow_queue: Arc<dyn WorkflowQueue> = Arc::new(AtOnce(queue(&workflow_queue_url)));
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build());
        let files_bucket = format!("test-recordings-{}", random_suffix());
        s3.create_bucket()
            .bucket(&files_bucket)
            .send()
            .await
            .expect("moto creates buckets");
        let files = switchboard_runtime::files(sdk, &files_bucket);
        let recordings: Arc<dyn switchboard_core::ports::Recordings> = files.clone();
        let secret: [u8; 32] = rand::random();
        let clock = Clock::manual(options.start);
        let platform = switchboard_runtime::platform(&store, &secret, clock.clone(), options.public_rate_limit);
        let jwt = platform.jwt.clone();
        let fingerprints = platform.fingerprint_key.clone();
        let llm: Arc<dyn Llm> = Arc::new(Offline);
        let jobs = Arc::new(queue(&call_queue_url));
        // Recorded calls are spoken offline, as under scripts/dev.
        let simulator: Arc<dyn Telephony> =
            Arc::new(Simulator::new(jobs.clone()).recording_with(Arc::new(switchboard_speech::offline::Espeak)));
        let (telephony, twilio): (Arc<dyn Telephony>, _) = match &options.twilio_api {
            None => (simulator.clone(), None),
            Some(api_base) => {
                let hooks = twilio::Webhooks {
                    auth_token: TWILIO_AUTH_TOKEN.into(),
                    callbacks: twilio::Callbacks {
                        public_base_url: PUBLIC_BASE_URL.into(),
                        relay_url: RELAY_URL.into(),
                        workspace_id: None,
                    },
                };
                let client =
                    twilio::Twilio::new(api_base, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, hooks.callbacks.clone());
                (Arc::new(client), Some(hooks))
            }
        };
        let dialer_queue_url = sqs
            .create_queue()
            .queue_name(format!("test-dialer-{}", random_suffix()))
            .send()
            .await
            .expect("moto creates queues")
            .queue_url
            .unwrap();
        let dialer_jobs: Arc<dyn DialerQueue> = Arc::new(AtOnce(queue(&dialer_queue_url)));
        let deliveries: Arc<dyn DeliveryQueue> = Arc::new(queue(&delivery_queue_url));
        let webhook_config = WebhookConfig {
            key_secret_id: String::new(),
            queue_url: delivery_queue_url.clone(),
            schedule: options.webhook_schedule.clone(),
            mode: if options.production {
                DeploymentMode::Production
            } else {
                DeploymentMode::Local
            },
        };
        let dispatcher =
            || webhook_dispatcher::dispatcher(&store, deliveries.clone(), &secret, &webhook_config, clock.clone());
        // The API Gateway management API of the relay is played by the fake Twilio.
        let voice = options.twilio_api.as_ref().map(|url| Voice {
            sessions: Arc::new(store.clone()),
            connections: Arc::new(ApiGatewayConnections::new(sdk, url)),
        });
        let mail_links = switchboard_runtime::config::MailConfig {
            mail_queue_url: mail_queue_url.clone(),
            public_base_url: Some("http://switchboard.test".into()),
        };
        let mailer: Arc<dyn switchboard_core::ports::Mailer> =
            Arc::new(SqsMailer::new(sdk, sqs_endpoint.as_deref(), &mail_queue_url));
        let auth_config = auth::AuthConfig {
            mail: mail_links.clone(),
            signup_plan: options.signup_plan,
        };
        let auth = auth::service(platform.clone(), &store, mailer.clone(), &auth_config);
        let keys = switchboard_domain::sealing::WorkspaceKeys::new(&rand::random::<[u8; 32]>());
        let team = team::service(platform.clone(), &store, mailer, mail_links, keys.clone());
        let deployment = Arc::new(Deployment::new(
            ProviderConfig {
                twilio_api_base: options.twilio_api.clone(),
                anthropic: options
                    .anthropic_api
                    .clone()
                    .map(|base| (base, "claude-test".to_owned())),
                elevenlabs_base_url: options.elevenlabs_api.clone(),
                sealing_key_secret_id: String::new(),
            },
            Some(telephony.clone()),
            twilio.as_ref().map(|hooks| hooks.callbacks.clone()),
        ));
        let providers = Arc::new(switchboard_domain::providers::Accounts::new(
            Arc::new(store.clone()),
            Arc::new(keys.clone()),
            deployment.clone(),
            PlatformProviders {
                telephony: Some(telephony.clone()),
                llm: Some(llm.clone()),
                test_telephony: Some(simulator),
                test_llm: Some(llm.clone()),
                // Previews speak offline, as under scripts/dev.
                speech: Some(Arc::new(switchboard_speech::offline::Espeak)),
            },
            clock.clone(),
        ));
        let automation = automation::service(
            platform.clone(),
            &store,
            switchboard_runtime::outbound_http(DeploymentMode::Local),
            workflow_queue.clone(),
            keys.clone(),
            providers.clone(),
        );
        let workflow_runner = workflow_runner::runner(
            &store,
            workflow_queue.clone(),
            switchboard_runtime::outbound_http(DeploymentMode::Local),
            keys.clone(),
            clock.clone(),
            providers.clone(),
            jobs.clone(),
        );
        let workflow_scheduler = workflow_scheduler::scheduler(&store, workflow_queue.clone());
        let onboarding = onboarding::service(platform.clone(), &store, deployment, keys.clone());
        let api_keys = api_keys::service(platform.clone(), &store);
        let agents = agents::service(platform.clone(), &store, providers.clone());
        let contacts = contacts::service(platform.clone(), &store);
        let appointments = appointments::service(platform.clone(), &store);
        let numbers = numbers::service(platform.clone(), &store, providers.clone());
        let number_renewals = number_renewals::state(&store, providers.clone());
        let approvals = approvals::service(
            platform.clone(),
            &store,
            providers.clone(),
            voice.clone().map(|v| Arc::new(v) as Arc<dyn LiveCalls>),
        );
        let calls = calls::service(
            platform.clone(),
            &store,
            providers.clone(),
            jobs.clone(),
            recordings.clone(),
            twilio,
        );
        let new_dialer = || {
            campaign_dialer::dialer(
                &store,
                providers.clone(),
                jobs.clone(),
                dialer_jobs.clone(),
                clock.clone(),
            )
        };
        let campaigns = campaigns::service(platform.clone(), &store, providers.clone(), new_dialer());
        let webhooks = webhooks::service(platform.clone(), &store, dispatcher());
        let dnc = dnc::service(platform.clone(), &store);
        let compliance = Service::new(
            platform.clone(),
            compliance::State {
                inline_limit: options.dsr_inline_limit,
                ..compliance::State::of(&store, recordings.clone(), files.clone())
            },
            compliance::routes(),
        );
        let reports = reports::service(platform.clone(), &store);
        let voices = voices::service(
            platform.clone(),
            &store,
            Arc::new(switchboard_speech::offline::Espeak),
            providers.clone(),
        );
        let payment_outbox = fake::FakeServer::start(|_, _| (200, "application/json", "{}".into())).await;
        let payments: Arc<dyn switchboard_core::ports::Payments> =
            Arc::new(switchboard_payments::offline::OfflinePayments::new(
                format!("{}{}", payment_outbox.url, payment_webhooks::PATH),
                PAYMENT_WEBHOOK_SECRET,
            ));
        let billing = billing::service(platform.clone(), &store, payments.clone());
        let payment_webhooks = payment_webhooks::service(platform.clone(), &store, PAYMENT_WEBHOOK_SECRET.into());
        let catalog = catalog::service(
            platform,
            &store,
            catalog::Providers::read(&mut switchboard_core::config::Env::from_fn(|name| {
                (name == "TTS_PROVIDER").then(|| "offline".to_owned())
            })),
        );
        let relay = voice.map(|voice| {
            call_relay::relay(
                &store,
                providers.clone(),
                voice,
                TWILIO_AUTH_TOKEN.into(),
                RELAY_URL.into(),
                clock.clone(),
            )
        });
        let dialer = new_dialer();
        let worker_providers = call_worker::Providers {
            accounts: providers.clone(),
            recordings: recordings.clone(),
        };
        let call_worker = call_worker::state(&store, worker_providers, jobs.clone(), 0.0, new_dialer(), clock.clone());
        let event_router = event_router::router(&store, deliveries.clone(), workflow_queue.clone(), payments.clone());
        let dispatcher = dispatcher();
        let mut router = matchit::Router::new();
        let mut add = |paths: Vec<&'static str>, function| {
            for path in paths {
                let _ = router.insert(path, function);
            }
        };
        add(paths(auth.routes()), Function::Auth);
        add(paths(api_keys.routes()), Function::ApiKeys);
        add(paths(team.routes()), Function::Team);
        add(paths(automation.routes()), Function::Automation);
        add(paths(onboarding.routes()), Function::Onboarding);
        add(paths(agents.routes()), Function::Agents);
        add(paths(contacts.routes()), Function::Contacts);
        add(paths(appointments.routes()), Function::Appointments);
        add(paths(numbers.routes()), Function::Numbers);
        add(paths(approvals.routes()), Function::Approvals);
        add(paths(calls.routes()), Function::Calls);
        add(paths(webhooks.routes()), Function::Webhooks);
        add(paths(dnc.routes()), Function::Dnc);
        add(paths(compliance.routes()), Function::Compliance);
        add(paths(reports.routes()), Function::Reports);
        add(paths(voices.routes()), Function::Voices);
        add(paths(campaigns.routes()), Function::Campaigns);
        add(paths(billing.routes()), Function::Billing);
        add(paths(payment_webhooks.routes()), Function::PaymentWebhooks);
        add(paths(catalog.routes()), Function::Catalog);
        let ip = format!(
            "10.{}.{}.{}",
            rand::random::<u8>(),
            rand::random::<u8>(),
            rand::random::<u8>()
        );
        Self {
            clock,
            ops,
            store,
            jwt,
            fingerprints,
            sqs,
            mail_queue_url,
            call_queue_url,
            recordings,
            exports: files,
            keys,
            s3,
            files_bucket,
            ip,
            auth,
            team,
            automation,
            onboarding,
            providers,
            api_keys,
            agents,
            contacts,
            appointments,
            numbers,
            approvals,
            calls,
            webhooks,
            dnc,
            compliance,
            reports,
            voices,
            campaigns,
            billing,
            payment_webhooks,
            payment_outbox,
            delivered_payments: Mutex::default(),
            catalog,
            router,
            call_worker,
            number_renewals,
            relay,
            event_router,
            dispatcher,
            delivery_queue_url,
            workflow_runner,
            workflow_queue_url,
            workflow_scheduler,
            routed: Mutex::default(),
            dialer,
            dialer_queue_url,
            timers: Mutex::default(),
            acting: Mutex::default(),
        }
    }

    /// The function whose routes include `path`; `None` when only the catch-all would answer.
    pub fn routes_to(&self, path: &str) -> Option<Function> {
        self.router.at(path).ok().map(|m| *m.value)
    }

    pub fn request(&self, method: Method, path: &str) -> Req<'_> {
        Req {
            app: self,
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
            ip: self.ip.clone(),
        }
    }

    pub fn get(&self, path: &str) -> Req<'_> {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Req<'_> {
        self.request(Method::POST, path)
    }

    pub fn patch(&self, path: &str) -> Req<'_> {
        self.request(Method::PATCH, path)
    }

    pub fn put(&self, path: &str) -> Req<'_> {
        self.request(Method::PUT, path)
    }

    pub fn delete(&self, path: &str) -> Req<'_> {
        self.request(Method::DELETE, path)
    }

    /// Sends a request built elsewhere (e.g. from a sample event) to its function.
    pub async fn dispatch_raw(&self, request: lambda_http::Request) -> Res {
        Res::from(self.dispatch(request).await)
    }

    async fn dispatch(&self, request: lambda_http::Request) -> http::Response<lambda_http::Body> {
        match self.routes_to(request.uri().path()).unwrap_or(Function::Catalog) {
            Function::Auth => self.auth.handle(request).await,
            Function::ApiKeys => self.api_keys.handle(request).await,
            Function::Team => self.team.handle(request).await,
            Function::Automation => self.automation.handle(request).await,
            Function::Onboarding => self.onboarding.handle(request).await,
            Function::Agents => self.agents.handle(request).await,
            Function::Contacts => self.contacts.handle(request).await,
            Function::Appointments => self.appointments.handle(request).await,
            Function::Numbers => self.numbers.handle(request).await,
            Function::Approvals => self.approvals.handle(request).await,
            Function::Calls => self.calls.handle(request).await,
            Function::Webhooks => self.webhooks.handle(request).await,
            Function::Dnc => self.dnc.handle(request).await,
            Function::Compliance => self.compliance.handle(request).await,
            Function::Reports => self.reports.handle(request).await,
            Function::Voices => self.voices.handle(request).await,
            Function::Campaigns => self.campaigns.handle(request).await,
            Function::Billing => self.billing.handle(request).await,
            Function::PaymentWebhooks => self.payment_webhooks.handle(request).await,
            Function::Catalog => self.catalog.handle(request).await,
        }
    }

    /// A new workspace with its owner signed in and an admin API key, and $1,000 on its wallet.
    pub async fn tenant(&self) -> Tenant {
        let tenant = self.trial_tenant().await;
        self.fund(&tenant, 100_000).await;
        tenant
    }

    /// Hands what the offline payment provider posted since the last call to `payment-webhooks`,
    /// as the provider's webhook would arrive; the answers, in order.
    pub async fn deliver_payments(&self) -> Vec<Res> {
        let posted = self.payment_outbox.requests();
        let new: Vec<_> = {
            let mut delivered = self.delivered_payments.lock().unwrap();
            let new = posted[*delivered..].to_vec();
            *delivered = posted.len();
            new
        };
        let mut answers = Vec::new();
        for request in new {
            let mut req = self.post(&request.path).raw("application/json", request.body.clone());
            if let Some(signature) = request.header(switchboard_payments::SIGNATURE_HEADER) {
                req = req.header(switchboard_payments::SIGNATURE_HEADER, signature);
            }
            answers.push(req.send().await);
        }
        answers
    }

    /// Credits the tenant's wallet as a paid top-up would.
    pub async fn fund(&self, tenant: &Tenant, amount_minor: i64) {
        use switchboard_core::ids::{self, prefix};
        use switchboard_core::ports::{Credit, Wallets};
        let credit = Credit {
            kind: switchboard_core::model::LedgerKind::TopUp,
            amount_minor,
            entry_id: ids::new_id_at(prefix::LEDGER_ENTRY, self.clock.now()),
            description: "Test top-up".into(),
            payment_id: format!("test_{}", random_suffix()),
            customer: None,
            at: self.clock.now(),
        };
        assert!(self.store.credit(&tenant.workspace_id, &credit, &[]).await.unwrap());
    }

    /// A new workspace with its owner signed in and an admin API key, on its trial credit.
    pub async fn trial_tenant(&self) -> Tenant {
        // Live telephony needs an owner whose email is verified.
        self.signed_up(self.relay.is_some()).await
    }

    /// A funded workspace whose owner has not verified their email.
    pub async fn unverified_tenant(&self) -> Tenant {
        let tenant = self.signed_up(false).await;
        self.fund(&tenant, 100_000).await;
        tenant
    }

    async fn signed_up(&self, verified: bool) -> Tenant {
        let email = format!("owner-{}@example.com", random_suffix());
        let password = "correct horse battery staple".to_owned();
        let signup = self
            .post("/v1/auth/signup")
            .json(json!({"email": email, "password": password, "country": "US"}))
            .send()
            .await;
        assert_eq!(signup.status, 201, "{}", signup.text);
        let login = self.login(&email, &password).await;
        let token = login.body["token"].as_str().unwrap().to_owned();
        let key = self
            .post("/v1/api-keys")
            .bearer(&token)
            .json(json!({"name": "tests", "scope": "admin"}))
            .send()
            .await;
        assert_eq!(key.status, 201, "{}", key.text);
        if verified {
            self.verify_email(&email).await;
        }
        Tenant {
            workspace_id: signup.body["workspace"]["id"].as_str().unwrap().to_owned(),
            user_id: signup.body["user"]["id"].as_str().unwrap().to_owned(),
            email,
            password,
            token,
            key: key.body["secret"].as_str().unwrap().to_owned(),
            key_id: key.body["id"].as_str().unwrap().to_owned(),
        }
    }

    /// A new customer of `agency` with $1,000 on its wallet, as a tenant whose credentials (a
    /// session and an admin API key of the agency's) act for the customer: every request sent
    /// with them names it in `Switchboard-Customer`, so any helper taking a tenant works in
    /// its workspace.
    pub async fn customer(&self, agency: &Tenant) -> Tenant {
        let customer = self.unfunded_customer(agency).await;
        self.fund(&customer, 100_000).await;
        customer
    }

    /// A new customer of `agency` as [`TestApp::customer`] makes it, its wallet empty.
    pub async fn unfunded_customer(&self, agency: &Tenant) -> Tenant {
        let created = self
            .post("/v1/customers")
            .bearer(&agency.key)
            .json(json!({"name": format!("Customer {}", random_suffix())}))
            .send()
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        let customer_id = created.id().to_owned();
        let token = self.login(&agency.email, &agency.password).await.body["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let key = self
            .post("/v1/api-keys")
            .bearer(&token)
            .json(json!({"name": "acting", "scope": "admin"}))
            .send()
            .await;
        assert_eq!(key.status, 201, "{}", key.text);
        let secret = key.body["secret"].as_str().unwrap().to_owned();
        let mut acting = self.acting.lock().unwrap();
        acting.insert(token.clone(), customer_id.clone());
        acting.insert(secret.clone(), customer_id.clone());
        Tenant {
            workspace_id: customer_id,
            user_id: agency.user_id.clone(),
            email: agency.email.clone(),
            password: agency.password.clone(),
            token,
            key: secret,
            key_id: key.id().to_owned(),
        }
    }

    pub async fn login(&self, email: &str, password: &str) -> Res {
        let login = self
            .post("/v1/auth/login")
            .json(json!({"email": email, "password": password}))
            .send()
            .await;
        assert_eq!(login.status, 200, "{}", login.text);
        login
    }

    /// A new API key of `scope` in the tenant's workspace.
    pub async fn key(&self, tenant: &Tenant, scope: &str) -> String {
        let res = self
            .post("/v1/api-keys")
            .bearer(&tenant.token)
            .json(json!({"name": scope, "scope": scope}))
            .send()
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
        res.body["secret"].as_str().unwrap().to_owned()
    }

    /// The owner attests the campaign's consent (`PUT /compliance`, a session-only call).
    pub async fn attest(&self, tenant: &Tenant, campaign: &str) {
        self.request(Method::PUT, &format!("/v1/campaigns/{campaign}/compliance"))
            .bearer(&tenant.token)
            .json(json!({"consent_statement": "Everyone opted in to reminder calls."}))
            .send()
            .await
            .expect(200);
    }

    /// An agent and a number it answers and calls from: `(agent_id, number_id, number)`.
    pub async fn phone_line(&self, tenant: &Tenant) -> (String, String, String) {
        let agent = self
            .create(
                tenant,
                "/v1/agents",
                json!({"name": "Sarah", "system_prompt": "You are Sarah, the receptionist of Acme Dental. Be brief.",
                       "first_message": "Hi, this is Sarah from Acme Dental."}),
            )
            .await;
        let number = unique_phone();
        let number_id = self
            .create_at(
                tenant,
                "/v1/numbers/import",
                json!({"phone_number": number, "agent_id": agent}),
            )
            .await;
        (agent, number_id, number)
    }

    /// Changes the agent as `patch` says (`PATCH /v1/agents/{id}`).
    pub async fn set_agent(&self, tenant: &Tenant, agent: &str, patch: Value) {
        let res = self
            .patch(&format!("/v1/agents/{agent}"))
            .bearer(&tenant.key)
            .json(patch)
            .send()
            .await;
        assert_eq!(res.status, 200, "PATCH /v1/agents/{agent}: {}", res.text);
    }

    /// Creates a resource through the API and returns its id.
    pub async fn create(&self, tenant: &Tenant, path: &str, body: Value) -> String {
        self.create_at(tenant, path, body).await
    }

    /// Like [`create`](Self::create), for creating routes that are not the collection's own path.
    pub async fn create_at(&self, tenant: &Tenant, path: &str, body: Value) -> String {
        let res = self.post(path).bearer(&tenant.key).json(body).send().await;
        assert_eq!(res.status, 201, "POST {path}: {}", res.text);
        res.body["id"].as_str().unwrap().to_owned()
    }

    /// Every item of a workspace except sessions (whose rate-limit state changes with each
    /// request): what "nothing was written" is checked against.
    pub async fn snapshot(&self, workspace_id: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for suffix in switchboard_store::keys::WORKSPACE_PARTITIONS
            .iter()
            .filter(|s| **s != "#SESSION")
        {
            let mut start = None;
            loop {
                let page = self
                    .store
                    .client()
                    .query()
                    .table_name(self.store.table())
                    .key_condition_expression("PK = :pk")
                    .expression_attribute_values(":pk", AttributeValue::S(format!("{workspace_id}{suffix}")))
                    .set_exclusive_start_key(start)
                    .consistent_read(true)
                    .send()
                    .await
                    .unwrap();
                for item in page.items.unwrap_or_default() {
                    // The workspace's rate buckets change with the requests themselves.
                    if item.get("entity").and_then(|e| e.as_s().ok()).map(String::as_str) == Some("workspace_rate") {
                        continue;
                    }
                    let key = format!("{}|{}", item["PK"].as_s().unwrap(), item["SK"].as_s().unwrap());
                    let value: Value = serde_dynamo::from_item(item).unwrap();
                    out.insert(key, value.to_string());
                }
                match page.last_evaluated_key {
                    Some(k) if !k.is_empty() => start = Some(k),
                    _ => break,
                }
            }
        }
        out
    }

    /// The item at `pk`, `sk`, as stored (read consistently).
    pub async fn raw_item(&self, pk: &str, sk: &str) -> Option<std::collections::HashMap<String, AttributeValue>> {
        self.store
            .client()
            .get_item()
            .table_name(self.store.table())
            .key("PK", AttributeValue::S(pk.to_owned()))
            .key("SK", AttributeValue::S(sk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }

    /// Every item of the table, of every workspace, each as JSON text: what tests look through
    /// for what must be nowhere.
    pub async fn whole_table(&self) -> Vec<String> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .store
                .client()
                .scan()
                .table_name(self.store.table())
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            for item in page.items.unwrap_or_default() {
                items.push(serde_dynamo::from_item::<_, Value>(item).unwrap().to_string());
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return items,
            }
        }
    }

    /// The items of a workspace's event log (test events too), oldest first.
    async fn event_items(&self, workspace_id: &str) -> Vec<std::collections::HashMap<String, AttributeValue>> {
        self.store
            .client()
            .query()
            .table_name(self.store.table())
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("{workspace_id}#EVENT")))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .items
            .unwrap_or_default()
    }

    /// The events a workspace has recorded, oldest first.
    pub async fn events(&self, workspace_id: &str) -> Vec<Value> {
        self.event_items(workspace_id)
            .await
            .into_iter()
            .filter(|item| item["entity"].as_s().is_ok_and(|e| e == "event"))
            .map(|item| serde_dynamo::from_item(item).unwrap())
            .collect()
    }

    /// The types of a workspace's events, oldest first.
    pub async fn event_types(&self, workspace_id: &str) -> Vec<String> {
        self.events(workspace_id)
            .await
            .iter()
            .map(|e| e["event"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The call jobs queued so far (simulator steps, post-call work), without running them.
    pub async fn queued_call_jobs(&self) -> Vec<CallJob> {
        self.receive_call_jobs().await.into_iter().map(|(job, _)| job).collect()
    }

    async fn receive_call_jobs(&self) -> Vec<(CallJob, String)> {
        self.receive(&self.call_queue_url).await
    }

    /// Up to 10 messages of `queue_url`, decoded, with their receipts; hidden from the next
    /// receives while the test works on them.
    async fn receive<T: serde::de::DeserializeOwned>(&self, queue_url: &str) -> Vec<(T, String)> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .send()
            .await
            .unwrap();
        out.messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let job = serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
                (job, m.receipt_handle.unwrap())
            })
            .collect()
    }

    /// Deletes a message that was handled.
    async fn delete_message(&self, queue_url: &str, receipt: String) {
        self.sqs
            .delete_message()
            .queue_url(queue_url)
            .receipt_handle(receipt)
            .send()
            .await
            .unwrap();
    }

    /// Runs the queued call jobs, and those they queue, in order, until none is left (the
    /// simulator's delays are 0 here); returns how many ran. A job that fails fails the test.
    pub async fn run_call_jobs(&self) -> usize {
        let mut ran = 0;
        loop {
            let batch = self.receive_call_jobs().await;
            if batch.is_empty() {
                return ran;
            }
            for (job, receipt) in batch {
                call_worker::run(&self.call_worker, job.clone())
                    .await
                    .unwrap_or_else(|e| panic!("call job {job:?} failed: {e:#}"));
                self.delete_message(&self.call_queue_url, receipt).await;
                ran += 1;
                assert!(ran < 500, "call jobs do not stop");
            }
        }
    }

    /// Runs call jobs, waiting for delayed ones, until the call `call_id` has its analysis
    /// (or it ended without a conversation); fails after 30 s.
    pub async fn run_call_jobs_until_final(&self, tenant: &Tenant, call_id: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            self.run_call_jobs().await;
            let call = self
                .get(&format!("/v1/calls/{call_id}"))
                .bearer(&tenant.key)
                .send()
                .await;
            let body = &call.body;
            let status = body["status"]
                .as_str()
                .and_then(switchboard_core::model::CallStatus::parse);
            if status.is_some_and(|s| s.is_final())
                && (body["conversation_id"].is_null() || body["summary"].is_string())
            {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "call {call_id} did not end: {}",
                call.text
            );
            // Waits (long polling) for a delayed job to become visible.
            let _ = self
                .sqs
                .receive_message()
                .queue_url(&self.call_queue_url)
                .wait_time_seconds(1)
                .visibility_timeout(0)
                .send()
                .await;
        }
    }

    /// Runs dialer jobs and call jobs, in turns, until both queues are empty; ticks scheduled
    /// for later on the test's clock wait for [`TestApp::advance`]. After every job, `watch`
    /// sees the app (to check counters while the campaign runs).
    pub async fn run_dialing_watched(&self, watch: impl AsyncFnMut(&TestApp)) {
        self.run_dialer_queue(true, watch).await;
    }

    /// Runs the dialer's jobs until its queue is empty, leaving the calls' jobs queued (calls
    /// placed but never progressing).
    pub async fn run_dialer_jobs(&self) {
        self.run_dialer_queue(false, async |_| {}).await;
    }

    async fn run_dialer_queue(&self, with_calls: bool, mut watch: impl AsyncFnMut(&TestApp)) {
        let mut ran = 0;
        loop {
            let messages: Vec<(DialerJob, String)> = self.receive(&self.dialer_queue_url).await;
            let calls = if messages.is_empty() && with_calls {
                self.run_call_jobs().await
            } else {
                0
            };
            if messages.is_empty() && calls == 0 {
                return;
            }
            for (job, receipt) in messages {
                let later =
                    matches!(&job, DialerJob::Tick { not_before, .. } if *not_before > self.clock.now().timestamp());
                if later {
                    self.timers.lock().unwrap().push(job);
                } else {
                    self.dialer
                        .run(&job)
                        .await
                        .unwrap_or_else(|e| panic!("dialer job {job:?} failed: {e:?}"));
                }
                self.delete_message(&self.dialer_queue_url, receipt).await;
                watch(self).await;
                ran += 1;
                assert!(ran < 20_000, "dialing does not stop");
            }
        }
    }

    /// Runs the dialer and the calls until nothing is left to do now.
    pub async fn run_dialing(&self) {
        self.run_dialing_watched(async |_| {}).await;
    }

    /// Moves the test's clock on, lets the ticks due by then go, and runs them.
    pub async fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
        let now = self.clock.now().timestamp();
        let due: Vec<DialerJob> = {
            let mut timers = self.timers.lock().unwrap();
            let (due, later) = timers
                .drain(..)
                .partition(|job| matches!(job, DialerJob::Tick { not_before, .. } if *not_before <= now));
            *timers = later;
            due
        };
        self.dialer.jobs.enqueue(&due, std::time::Duration::ZERO).await.unwrap();
        self.run_dialing().await;
    }

    /// Hands the workspace's events that were not routed yet to the `event-router`, as stream
    /// records of their inserts, the way the table's stream does.
    pub async fn route_events(&self, workspace_id: &str) {
        let mut batch = aws_lambda_events::event::dynamodb::Event::default();
        let mut ids = Vec::new();
        for item in self.event_items(workspace_id).await {
            let id = item["SK"].as_s().unwrap().clone();
            if self.routed.lock().unwrap().contains(&id) {
                continue;
            }
            let mut record = aws_lambda_events::event::dynamodb::EventRecord::default();
            record.event_name = "INSERT".into();
            record.change.sequence_number = Some(id.clone());
            record.change.new_image = serde_dynamo::Item::from(item);
            batch.records.push(record);
            ids.push(id);
        }
        let response = event_router::route_batch(&self.event_router, &self.clock, batch).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "events not routed: {response:?}"
        );
        self.routed.lock().unwrap().extend(ids);
    }

    /// Runs the queued deliveries, and the retries they queue that are due, until none is left;
    /// returns what each did.
    pub async fn run_deliveries(&self) -> Vec<delivery::Outcome> {
        let mut outcomes = Vec::new();
        loop {
            let messages: Vec<(DeliveryJob, String)> = self.receive(&self.delivery_queue_url).await;
            if messages.is_empty() {
                return outcomes;
            }
            for (job, receipt) in messages {
                outcomes.push(self.dispatcher.run(&job).await.unwrap());
                self.delete_message(&self.delivery_queue_url, receipt).await;
                assert!(outcomes.len() < 1000, "deliveries do not stop");
            }
        }
    }

    /// Runs the workflow jobs queued, and those they queue, until none is due on the test's
    /// clock; what each came to, in order.
    pub async fn run_workflows(&self) -> Vec<workflow_runner::Ran> {
        let mut ran = Vec::new();
        loop {
            let batch = self.run_workflow_batch().await;
            let progressed = batch.iter().any(|outcome| *outcome != workflow_runner::Ran::NotDue);
            ran.extend(batch);
            assert!(ran.len() < 1000, "workflow jobs do not stop");
            if !progressed {
                return ran;
            }
        }
    }

    /// One batch of the workflow queue run, as one runner instance takes it; what each job came to.
    pub async fn run_workflow_batch(&self) -> Vec<workflow_runner::Ran> {
        let mut ran = Vec::new();
        let messages: Vec<(WorkflowJob, String)> = self.receive(&self.workflow_queue_url).await;
        for (job, receipt) in messages {
            ran.push(self.workflow_runner.run(&job).await.unwrap());
            self.delete_message(&self.workflow_queue_url, receipt).await;
        }
        ran
    }

    /// The workflow scheduler's ticks at the test clock's time, as many as it takes to read
    /// up to that minute; what they did together.
    pub async fn tick_schedules(&self) -> workflow_scheduler::Ticked {
        let mut total = workflow_scheduler::Ticked::default();
        loop {
            let ticked = self.workflow_scheduler.tick(self.clock.now()).await.unwrap();
            total.minutes_read += ticked.minutes_read;
            total.started += ticked.started;
            total.skipped += ticked.skipped;
            if ticked.minutes_read < workflow_scheduler::MAX_MINUTES_PER_TICK {
                return total;
            }
        }
    }

    /// Runs the daily number renewals at the test clock's time, for the numbers of `tenant`
    /// (tests share the table, and each runs its own clock).
    pub async fn renew_numbers(&self, tenant: &Tenant) -> number_renewals::Renewals {
        let now = self.clock.now();
        let mut due = number_renewals::due(&self.number_renewals, now).await.unwrap();
        due.retain(|(ws, _)| *ws == tenant.workspace_id);
        number_renewals::renew_due(&self.number_renewals, due, now)
            .await
            .unwrap()
    }

    /// A draft campaign of `agent` on `number` calling `phones`, `max_concurrent_calls` at once,
    /// with everything it needs to start.
    pub async fn ready_campaign(
        &self,
        tenant: &Tenant,
        (agent, number): (&str, &str),
        max_concurrent_calls: u32,
        phones: &[String],
    ) -> String {
        let campaign = draft_campaign(
            self,
            tenant,
            json!({"agent_id": agent, "phone_number_id": number,
                   "max_concurrent_calls": max_concurrent_calls, "timezone": afternoon_zone()}),
        )
        .await;
        let rows: Vec<Value> = phones.iter().map(|p| json!({"phone": p})).collect();
        self.post(&format!("/v1/campaigns/{campaign}/audience"))
            .bearer(&tenant.key)
            .json(json!({"rows": rows}))
            .send()
            .await
            .expect(201);
        self.attest(tenant, &campaign).await;
        campaign
    }

    /// Asserts that the campaign paused itself for `reason` after placing `calls` calls, and that
    /// resuming it is refused for that reason again (with `status`).
    pub async fn assert_paused_for(&self, tenant: &Tenant, campaign: &str, reason: &str, calls: usize, status: u16) {
        let paused = self
            .get(&format!("/v1/campaigns/{campaign}"))
            .bearer(&tenant.key)
            .send()
            .await;
        assert_eq!(
            (&paused.body["status"], &paused.body["paused_reason"]),
            (&json!("paused"), &json!(reason)),
            "{}",
            paused.text
        );
        let placed = self
            .get(&format!("/v1/calls?campaign_id={campaign}"))
            .bearer(&tenant.key)
            .send()
            .await;
        assert_eq!(placed.body["data"].as_array().unwrap().len(), calls, "{}", placed.text);
        self.post(&format!("/v1/campaigns/{campaign}/resume"))
            .bearer(&tenant.key)
            .send()
            .await
            .expect_error(status, reason);
    }

    /// Sends each body to `method path` as `key`, and checks each is refused with its status,
    /// code and param.
    pub async fn expect_refusals(&self, method: Method, path: &str, key: &str, cases: &[(Value, u16, &str, &str)]) {
        for (body, status, code, param) in cases {
            let res = self
                .request(method.clone(), path)
                .bearer(key)
                .json(body.clone())
                .send()
                .await;
            res.expect_error(*status, code);
            assert_eq!(res.param(), *param, "{body}");
        }
    }

    /// Every target of the campaign `id`, from the store.
    pub async fn targets(&self, tenant: &Tenant, id: &str) -> Vec<switchboard_core::model::Target> {
        use switchboard_core::ports::CampaignStore;
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .targets(
                    &tenant.workspace_id,
                    id,
                    None,
                    switchboard_core::ports::PageRequest { limit: 200, after },
                )
                .await
                .unwrap();
            all.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => return all,
            }
        }
    }

    /// Follows the verification link mailed to `email`.
    pub async fn verify_email(&self, email: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let link = self.mails().await.into_iter().find(|m| m.to == email).and_then(|m| {
                m.text
                    .lines()
                    .find_map(|l| l.strip_prefix("http://switchboard.test").map(str::to_owned))
            });
            if let Some(path) = link {
                let res = self.get(&path).send().await;
                assert_eq!(res.status, 200, "{}", res.text);
                return;
            }
            assert!(std::time::Instant::now() < deadline, "no verification mail to {email}");
        }
    }

    /// The items authentication updates for the workspace's credentials: its sessions and its
    /// API keys' lookups.
    pub async fn credential_items(&self, workspace_id: &str) -> Vec<HashMap<String, AttributeValue>> {
        let query = |pk: String| {
            self.store
                .client()
                .query()
                .table_name(self.store.table())
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(pk))
                .send()
        };
        let mut items = query(format!("{workspace_id}#SESSION"))
            .await
            .unwrap()
            .items
            .unwrap_or_default();
        let rows = query(workspace_id.to_owned()).await.unwrap().items.unwrap_or_default();
        for hash in rows
            .iter()
            .filter_map(|row| row.get("secret_hash").and_then(|h| h.as_s().ok()))
        {
            items.extend(query(format!("APIKEY#{hash}")).await.unwrap().items.unwrap_or_default());
        }
        items
    }

    /// Invites a new person into the tenant's workspace with `role` (a built-in role's name or
    /// a custom role's id), accepts from the emailed token, and returns them signed in.
    pub async fn invite_member(&self, tenant: &Tenant, role: &str) -> Member {
        use switchboard_core::ports::AccountStore;
        // Inviting needs a verified inviter.
        self.store
            .mark_email_verified(&tenant.workspace_id, &tenant.user_id, self.clock.now())
            .await
            .unwrap();
        let email = format!("member-{}@example.com", random_suffix());
        self.post("/v1/users/invite")
            .bearer(&tenant.token)
            .json(json!({"email": email, "role": role}))
            .send()
            .await
            .expect(201);
        let token = self.invitation_token(&email).await;
        let password = "a member's long password".to_owned();
        let res = self
            .post("/v1/auth/accept-invitation")
            .json(json!({"token": token, "password": password}))
            .send()
            .await;
        res.expect(200);
        Member {
            user_id: res.body["user"]["id"].as_str().unwrap().to_owned(),
            token: res.body["token"].as_str().unwrap().to_owned(),
            email,
            password,
        }
    }

    /// The token of the newest invitation mailed to `email`.
    pub async fn invitation_token(&self, email: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let token = self
                .mails()
                .await
                .into_iter()
                .rfind(|m| m.to == email && m.kind == "invitation")
                .and_then(|m| {
                    let (_, rest) = m.text.split_once("\"token\": \"")?;
                    Some(rest.split('"').next()?.to_owned())
                });
            if let Some(token) = token {
                return token;
            }
            assert!(std::time::Instant::now() < deadline, "no invitation mailed to {email}");
        }
    }

    /// The mails queued since the last call (the auth function's outbox).
    pub async fn mails(&self) -> Vec<switchboard_core::ports::Mail> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.mail_queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        out.messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| serde_json::from_str(m.body.as_deref().unwrap()).unwrap())
            .collect()
    }
}

fn paths<S: Send + Sync + 'static>(routes: &[Route<S>]) -> Vec<&'static str> {
    let mut paths: Vec<&'static str> = routes.iter().map(|r| r.path).collect();
    paths.dedup();
    paths
}

/// Every route of every HTTP function, as documented, by function (binary) name.
pub fn all_routes() -> Vec<(&'static str, Vec<RouteInfo>)> {
    fn infos<S: Send + Sync + 'static>(routes: Vec<Route<S>>) -> Vec<RouteInfo> {
        routes.iter().map(Route::info).collect()
    }
    vec![
        ("auth", infos(auth::routes())),
        ("api-keys", infos(api_keys::routes())),
        ("team", infos(team::routes())),
        ("automation", infos(automation::routes())),
        ("onboarding", infos(onboarding::routes())),
        ("agents", infos(agents::routes())),
        ("contacts", infos(contacts::routes())),
        ("appointments", infos(appointments::routes())),
        ("numbers", infos(numbers::routes())),
        ("approvals", infos(approvals::routes())),
        ("calls", infos(calls::routes())),
        ("webhooks", infos(webhooks::routes())),
        ("dnc", infos(dnc::routes())),
        ("compliance", infos(compliance::routes())),
        ("reports", infos(reports::routes())),
        ("voices", infos(voices::routes())),
        ("campaigns", infos(campaigns::routes())),
        ("billing", infos(billing::routes())),
        ("payment-webhooks", infos(payment_webhooks::routes())),
        ("catalog", infos(catalog::routes())),
    ]
}

/// The OpenAPI document the route tables make, as `docs/openapi.json` keeps it (and the
/// `catalog` function serves it).
pub fn openapi_document() -> String {
    let routes: Vec<RouteInfo> = all_routes().into_iter().flat_map(|(_, r)| r).collect();
    let mut text = serde_json::to_string_pretty(&switchboard_http::openapi::document(&routes))
        .expect("the OpenAPI document serialises");
    text.push('\n');
    text
}

/// An IANA zone where it is early afternoon now, so that a campaign's 08:00–21:00 window
/// stays open for a test's or a benchmark's run whenever it starts.
pub fn afternoon_zone() -> String {
    use chrono::Timelike;
    // `Etc/GMT+N` is N hours behind UTC; N runs from -12 to +11 here.
    match (chrono::Utc::now().hour() as i32 - 13 + 36) % 24 - 12 {
        0 => "Etc/GMT".to_owned(),
        behind if behind > 0 => format!("Etc/GMT+{behind}"),
        ahead => format!("Etc/GMT{ahead}"),
    }
}

/// A draft campaign of a new agent and number, its settings overridden by `overrides`.
pub async fn draft_campaign(app: &TestApp, tenant: &Tenant, overrides: Value) -> String {
    let (agent, number, _) = app.phone_line(tenant).await;
    let mut body = json!({"name": "Check-ups", "agent_id": agent, "phone_number_id": number, "timezone": "America/New_York",
                          "call_window": {"start": "08:00", "end": "21:00"}, "max_concurrent_calls": 3});
    for (key, value) in overrides.as_object().unwrap() {
        body[key] = value.clone();
    }
    app.create(tenant, "/v1/campaigns", body).await
}

/// A US phone number ending in `last4` (the simulator's fate of a call to it) that other
/// tests are unlikely to use.
pub fn phone_ending(last4: &str) -> String {
    format!("+1415{}{last4}", 200 + rand::random::<u16>() % 800)
}

/// `n` different numbers that end in `last4` (which picks the simulator's outcome).
pub fn phones_ending(last4: &str, n: usize) -> Vec<String> {
    assert!(n <= 800, "only 800 exchanges");
    let mut phones = std::collections::BTreeSet::new();
    while phones.len() < n {
        phones.insert(phone_ending(last4));
    }
    phones.into_iter().collect()
}

/// A US phone number no other test is likely to use.
pub fn unique_phone() -> String {
    phone_ending(&format!("{:04}", 1000 + rand::random::<u16>() % 9000))
}

pub fn random_suffix() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// A benchmark's command line (`cargo bench` adds `--bench`, which is left out).
pub struct BenchArgs(Vec<String>);

impl BenchArgs {
    pub fn from_env() -> Self {
        Self(std::env::args().skip(1).filter(|a| a != "--bench").collect())
    }

    /// The first argument: what to run.
    pub fn command(&self) -> Option<&str> {
        self.0.first().map(String::as_str)
    }

    /// The number after `--name`, or `default`.
    pub fn number(&self, name: &str, default: usize) -> usize {
        self.0
            .iter()
            .position(|a| a == name)
            .and_then(|i| self.0.get(i + 1))
            .map_or(default, |v| {
                v.parse().unwrap_or_else(|_| panic!("{name} takes a number"))
            })
    }
}

/// Runs `work` over `0..n`, `concurrency` at a time: each one's latency (ms, sorted) and the
/// whole run's time.
pub async fn timed<F, Fut>(n: usize, concurrency: usize, work: F) -> (Vec<f64>, std::time::Duration)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures::stream::{self, StreamExt};
    let started = std::time::Instant::now();
    let mut latencies: Vec<f64> = stream::iter(0..n)
        .map(|i| {
            let run = work(i);
            async move {
                let at = std::time::Instant::now();
                run.await;
                at.elapsed().as_secs_f64() * 1000.0
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    latencies.sort_by(f64::total_cmp);
    (latencies, elapsed)
}

/// Operations per second.
pub fn rate(n: usize, elapsed: &std::time::Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

/// One benchmark line: rate and latency percentiles of a [`timed`] run.
pub fn print_rate(what: &str, n: usize, (latencies, elapsed): &(Vec<f64>, std::time::Duration)) {
    let pct = |p: f64| latencies[((p / 100.0 * latencies.len() as f64) as usize).min(latencies.len() - 1)];
    println!(
        "  {what}: {:.0}/s   latency p50 {:.1} ms   p99 {:.1} ms",
        rate(n, elapsed),
        pct(50.0),
        pct(99.0)
    );
}

/// A workspace, its signed-in owner and an admin key.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub workspace_id: String,
    pub user_id: String,
    pub email: String,
    pub password: String,
    /// The owner's session JWT.
    pub token: String,
    /// An admin API key.
    pub key: String,
    pub key_id: String,
}

/// An item's size as DynamoDB bills it (names and values, UTF-8; numbers about one byte per
/// two digits), for checking what a write costs.
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    fn value_size(value: &AttributeValue) -> usize {
        match value {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.len().div_ceil(2) + 1,
            AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
            AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
            AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| 1 + k.len() + value_size(v)).sum::<usize>(),
            AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
            AttributeValue::Ns(set) => set.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
            _ => 0,
        }
    }
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

/// A person invited into a tenant's workspace, signed in.
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub password: String,
    /// Their session JWT.
    pub token: String,
}

/// A request being built.
pub struct Req<'a> {
    app: &'a TestApp,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    ip: String,
}

impl Req<'_> {
    pub fn bearer(self, credential: &str) -> Self {
        self.header("authorization", &format!("Bearer {credential}"))
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn json(self, body: Value) -> Self {
        self.raw("application/json", serde_json::to_vec(&body).unwrap())
    }

    pub fn raw(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self.header("content-type", content_type)
    }

    pub fn from_ip(mut self, ip: &str) -> Self {
        self.ip = ip.to_owned();
        self
    }

    pub async fn send(self) -> Res {
        let app = self.app;
        let request = self.into_request();
        Res::from(app.dispatch(request).await)
    }

    /// Sends it to `service` rather than to the app's function of its path: a function built
    /// over a port of the test's own.
    pub async fn send_to<S: Send + Sync + 'static>(self, service: &Service<S>) -> Res {
        Res::from(service.handle(self.into_request()).await)
    }

    fn into_request(mut self) -> lambda_http::Request {
        let named = |name: &str| self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name));
        let acting_for = named("authorization")
            .and_then(|(_, value)| value.strip_prefix("Bearer "))
            .and_then(|credential| self.app.acting.lock().unwrap().get(credential).cloned())
            .filter(|_| named(switchboard_core::model::CUSTOMER_HEADER).is_none());
        if let Some(customer) = acting_for {
            self.headers
                .push((switchboard_core::model::CUSTOMER_HEADER.to_owned(), customer));
        }
        let mut builder = http::Request::builder().method(self.method.clone()).uri(&self.path);
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        let body = match self.body {
            None => lambda_http::Body::Empty,
            Some(bytes) => match String::from_utf8(bytes) {
                Ok(text) => lambda_http::Body::Text(text),
                Err(e) => lambda_http::Body::Binary(e.into_bytes()),
            },
        };
        let mut request = builder.body(body).unwrap();
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.domain_name = Some("switchboard.test".into());
        let mut description = ApiGatewayV2httpRequestContextHttpDescription::default();
        description.method = self.method;
        description.source_ip = Some(self.ip);
        context.http = description;
        request.extensions_mut().insert(RequestContext::ApiGatewayV2(context));
        request
    }
}

/// A response, with its body decoded as a client would (gzip) and parsed when it is JSON.
#[derive(Debug, Clone)]
pub struct Res {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
    /// The body (decoded), for the binary ones.
    pub bytes: Vec<u8>,
    /// Bytes of the body as sent, before decoding.
    pub wire_len: usize,
}

impl From<http::Response<lambda_http::Body>> for Res {
    fn from(response: http::Response<lambda_http::Body>) -> Self {
        use std::io::Read;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut bytes = match response.into_body() {
            lambda_http::Body::Text(t) => t.into_bytes(),
            lambda_http::Body::Binary(b) => b,
            _ => Vec::new(),
        };
        let wire_len = bytes.len();
        if headers.get(http::header::CONTENT_ENCODING).is_some_and(|v| v == "gzip") {
            let mut decoded = Vec::new();
            flate2::read::GzDecoder::new(bytes.as_slice())
                .read_to_end(&mut decoded)
                .expect("a gzip body");
            bytes = decoded;
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            text,
            body,
            bytes,
            wire_len,
        }
    }
}

impl Res {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The error code of an error response.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn param(&self) -> &str {
        self.body["error"]["param"].as_str().unwrap_or("")
    }

    pub fn id(&self) -> &str {
        self.body["id"].as_str().unwrap_or("")
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "unexpected answer: {}", self.text);
        self
    }

    /// Asserts an error status and code.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> &Self {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "unexpected answer: {}",
            self.text
        );
        self
    }
}
