//! Each workspace's own provider accounts (`byok`): what this deployment makes them with, and
//! how it checks the credentials workspaces bring. A deployment on the simulator and the
//! offline model reaches no provider: those take test credentials only, as a provider takes
//! only its own accounts' keys.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use aws_types::SdkConfig;
use switchboard_core::clock::Clock;
use switchboard_core::config::Env;
use switchboard_core::error::ProviderError;
use switchboard_core::model::ProviderCredential;
use switchboard_core::ports::{Llm, ProviderChecks, ProviderFactory, Telephony, TextToSpeech};
use switchboard_domain::providers::{Accounts, PlatformProviders};
use switchboard_domain::sealing::{KeySource, WorkspaceKeys};
use switchboard_llm::{anthropic::Anthropic, offline::Offline};
use switchboard_speech::elevenlabs::ElevenLabs;
use switchboard_store::DynamoStore;
use switchboard_telephony::{simulator::Simulator, twilio};

/// Which providers this deployment reaches for the accounts workspaces bring.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Twilio's API, when the deployment's telephony is Twilio (else the simulator).
    pub twilio_api_base: Option<String>,
    /// Anthropic's API and model, when the deployment's model is Anthropic's (else offline).
    pub anthropic: Option<(String, String)>,
    /// ElevenLabs' API, unless the deployment's voices are offline.
    pub elevenlabs_base_url: Option<String>,
    /// The Secrets Manager secret of the key material workspaces' keys derive from.
    pub sealing_key_secret_id: String,
}

impl ProviderConfig {
    pub fn read(env: &mut Env) -> Self {
        let twilio = env.one_of("TELEPHONY_PROVIDER", "simulator", &["simulator", "twilio"]) == "twilio";
        let anthropic = env.one_of("LLM_PROVIDER", "offline", &["offline", "anthropic"]) == "anthropic";
        let voices = crate::config::tts_provider(env) != "offline";
        let or = |value: Option<String>, default: &str| value.unwrap_or_else(|| default.to_owned());
        Self {
            twilio_api_base: twilio.then(|| or(env.optional("TWILIO_API_BASE"), twilio::DEFAULT_API_BASE)),
            anthropic: anthropic.then(|| {
                (
                    or(
                        env.optional("ANTHROPIC_BASE_URL"),
                        switchboard_llm::anthropic::DEFAULT_BASE_URL,
                    ),
                    or(env.optional("ANTHROPIC_MODEL"), crate::config::DEFAULT_ANTHROPIC_MODEL),
                )
            }),
            elevenlabs_base_url: voices.then(|| {
                or(
                    env.optional("ELEVENLABS_BASE_URL"),
                    switchboard_speech::elevenlabs::DEFAULT_BASE_URL,
                )
            }),
            sealing_key_secret_id: env.required("SEALING_KEY_SECRET_ID"),
        }
    }
}

/// What checks the credentials workspaces bring and makes their adapters, in this deployment.
pub struct Deployment {
    config: ProviderConfig,
    /// The platform's telephony (the simulator, when it is the deployment's).
    telephony: Option<Arc<dyn Telephony>>,
    /// Where Twilio reaches us, with Twilio.
    callbacks: Option<twilio::Callbacks>,
}

impl Deployment {
    pub fn new(
        config: ProviderConfig,
        telephony: Option<Arc<dyn Telephony>>,
        callbacks: Option<twilio::Callbacks>,
    ) -> Self {
        Self {
            config,
            telephony,
            callbacks,
        }
    }
}

#[async_trait]
impl ProviderChecks for Deployment {
    async fn check(&self, credential: &ProviderCredential) -> Result<(), ProviderError> {
        match credential {
            ProviderCredential::Twilio {
                account_sid,
                auth_token,
            } => match &self.config.twilio_api_base {
                Some(base) => {
                    let callbacks = twilio::Callbacks {
                        public_base_url: String::new(),
                        relay_url: String::new(),
                        workspace_id: None,
                    };
                    twilio::Twilio::new(base, account_sid, auth_token, callbacks)
                        .check_account()
                        .await
                }
                None => Simulator::check_credential(auth_token),
            },
            ProviderCredential::Anthropic { api_key } => match &self.config.anthropic {
                Some((base, model)) => Anthropic::new(base, api_key, model).check_key().await,
                None => Offline::check_key(api_key),
            },
            ProviderCredential::Elevenlabs { api_key, voices } => match &self.config.elevenlabs_base_url {
                Some(base) => {
                    let account = ElevenLabs::new(base, api_key, HashMap::new());
                    account.check_key().await?;
                    account.check_voices(voices.values()).await
                }
                None => switchboard_speech::offline::check_key(api_key),
            },
        }
    }
}

impl ProviderFactory for Deployment {
    fn telephony(
        &self,
        workspace_id: &str,
        account_sid: &str,
        auth_token: &str,
    ) -> Option<(Arc<dyn Telephony>, Option<String>)> {
        match (&self.config.twilio_api_base, &self.callbacks) {
            (Some(base), Some(callbacks)) => {
                let callbacks = twilio::Callbacks {
                    workspace_id: Some(workspace_id.to_owned()),
                    ..callbacks.clone()
                };
                let account = twilio::Twilio::new(base, account_sid, auth_token, callbacks);
                Some((Arc::new(account), Some(auth_token.to_owned())))
            }
            _ => self.telephony.clone().map(|simulator| (simulator, None)),
        }
    }

    fn llm(&self, api_key: &str) -> Arc<dyn Llm> {
        model(&self.config, api_key)
    }

    fn speech(&self, api_key: &str, voices: &BTreeMap<String, String>) -> Option<Arc<dyn TextToSpeech>> {
        Some(match &self.config.elevenlabs_base_url {
            Some(base) => {
                let voices = voices
                    .iter()
                    .map(|(persona, id)| (persona.clone(), id.clone()))
                    .collect();
                Arc::new(ElevenLabs::new(base, api_key, voices))
            }
            None => Arc::new(switchboard_speech::offline::Espeak),
        })
    }
}

/// A workspace's model through its own account.
fn model(config: &ProviderConfig, api_key: &str) -> Arc<dyn Llm> {
    match &config.anthropic {
        Some((base, model)) => Arc::new(Anthropic::new(base, api_key, model)),
        None => Arc::new(Offline),
    }
}

/// Makes workspaces' models alone, for functions that ask for nothing else: unlike
/// [`Deployment`], it keeps the telephony and voice adapters out of their binaries.
struct Models(ProviderConfig);

impl ProviderFactory for Models {
    fn telephony(&self, _: &str, _: &str, _: &str) -> Option<(Arc<dyn Telephony>, Option<String>)> {
        None
    }

    fn llm(&self, api_key: &str) -> Arc<dyn Llm> {
        model(&self.0, api_key)
    }

    fn speech(&self, _: &str, _: &BTreeMap<String, String>) -> Option<Arc<dyn TextToSpeech>> {
        None
    }
}

/// The deployment's key material, read from Secrets Manager the first time a workspace's
/// credential is opened: functions whose workspaces all use the platform's accounts never ask.
struct LazyKeys {
    sdk: SdkConfig,
    secret_id: String,
    keys: tokio::sync::OnceCell<WorkspaceKeys>,
}

#[async_trait]
impl KeySource for LazyKeys {
    async fn keys(&self) -> anyhow::Result<WorkspaceKeys> {
        self.keys
            .get_or_try_init(|| async {
                let material = crate::key_material(&self.sdk, &self.secret_id).await?;
                Ok(WorkspaceKeys::new(material.as_bytes()))
            })
            .await
            .cloned()
    }
}

/// Each workspace's providers, for a function whose own are `telephony` and `llm` (`None`
/// where it uses no model). Test-mode requests go through the simulator and the offline model.
pub fn accounts(
    sdk: &SdkConfig,
    store: &DynamoStore,
    config: ProviderConfig,
    telephony: crate::PlatformTelephony,
    llm: Option<Arc<dyn Llm>>,
) -> Arc<Accounts> {
    let callbacks = telephony.webhooks.map(|hooks| hooks.callbacks);
    let platform = PlatformProviders {
        test_llm: llm.as_ref().map(|_| Arc::new(Offline) as Arc<dyn Llm>),
        telephony: Some(telephony.telephony),
        llm,
        test_telephony: Some(telephony.simulator),
        speech: None,
    };
    accounts_with(sdk, store, config, platform, callbacks)
}

/// Each workspace's model, for a function whose only provider is its model `llm`: test-mode
/// requests go to the offline model.
pub fn model_accounts(
    sdk: &SdkConfig,
    store: &DynamoStore,
    config: ProviderConfig,
    llm: Arc<dyn Llm>,
) -> Arc<Accounts> {
    let platform = PlatformProviders {
        test_llm: Some(Arc::new(Offline)),
        llm: Some(llm),
        telephony: None,
        test_telephony: None,
        speech: None,
    };
    let secret_id = config.sealing_key_secret_id.clone();
    assemble(sdk, store, secret_id, Arc::new(Models(config)), platform)
}

/// [`accounts`] over adapters made elsewhere (the relay's: Twilio's alone, since test-mode
/// calls never reach it).
pub fn accounts_with(
    sdk: &SdkConfig,
    store: &DynamoStore,
    config: ProviderConfig,
    platform: PlatformProviders,
    callbacks: Option<twilio::Callbacks>,
) -> Arc<Accounts> {
    let secret_id = config.sealing_key_secret_id.clone();
    let factory = Arc::new(Deployment::new(config, platform.telephony.clone(), callbacks));
    assemble(sdk, store, secret_id, factory, platform)
}

fn assemble(
    sdk: &SdkConfig,
    store: &DynamoStore,
    secret_id: String,
    factory: Arc<dyn ProviderFactory>,
    platform: PlatformProviders,
) -> Arc<Accounts> {
    let keys = Arc::new(LazyKeys {
        sdk: sdk.clone(),
        secret_id,
        keys: tokio::sync::OnceCell::new(),
    });
    Arc::new(Accounts::new(
        Arc::new(store.clone()),
        keys,
        factory,
        platform,
        Clock::System,
    ))
}
