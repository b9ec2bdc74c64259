//! The provider accounts each workspace's work goes through, chosen per workspace at run time:
//! the platform's in `bundled` mode, in `byok` mode the workspace's own, made from the
//! credentials it brought (opened here, never stored or logged in clear).
//!
//! What a warm instance opened is kept for [`CACHE_FOR`] at most (and for at most
//! [`CACHE_ENTRIES`] workspaces), so a credential rotated or a mode switched is used within
//! that time by every instance, without reading and opening credentials on every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use switchboard_core::clock::Clock;
use switchboard_core::error::ProviderError;
use switchboard_core::model::{
    AvailableNumber, Call, CredentialState, OnboardingProvider, PhoneNumber, ProviderCredential, ProviderMode,
    StoredCredential, Voice, is_test_workspace,
};
use switchboard_core::ports::{
    Llm, LlmReply, LlmRequest, NumberSearch, OnboardingStore, OutboundCall, ProviderAccounts, ProviderCall,
    ProviderFactory, Speech, Telephony, TextToSpeech, Voices,
};
use switchboard_core::{Error, ErrorCode};

use crate::sealing::{KeySource, WorkspaceKeys};

/// How long a warm instance uses what it read of a workspace's providers.
pub const CACHE_FOR: Duration = Duration::seconds(60);
/// Workspaces a warm instance keeps; past this it starts over.
pub const CACHE_ENTRIES: usize = 1_000;

/// The platform's own adapters a function uses (`None`: the function never needs that kind).
#[derive(Clone, Default)]
pub struct PlatformProviders {
    pub telephony: Option<Arc<dyn Telephony>>,
    pub llm: Option<Arc<dyn Llm>>,
    /// What test-mode requests go through, whatever the workspace's mode: the simulator and
    /// the offline model (needed where `telephony` and `llm` are).
    pub test_telephony: Option<Arc<dyn Telephony>>,
    pub test_llm: Option<Arc<dyn Llm>>,
    /// The platform's voices, where the function speaks itself (previews).
    pub speech: Option<Arc<dyn TextToSpeech>>,
}

pub struct Accounts {
    store: Arc<dyn OnboardingStore>,
    keys: Arc<dyn KeySource>,
    factory: Arc<dyn ProviderFactory>,
    platform: PlatformProviders,
    clock: Clock,
    cache: Arc<Cache>,
}

type Cache = Mutex<HashMap<String, (DateTime<Utc>, Arc<Resolved>)>>;

/// A provider of a workspace: its adapter, or why it has none (the refusal to answer).
type Chosen<T> = Result<T, String>;

/// A workspace's telephony, and the key its webhooks are signed with (`None`: the platform's).
type SignedTelephony = (Arc<dyn Telephony>, Option<String>);

/// A workspace's providers of each kind the function uses (`None`: it uses none of that kind).
struct Resolved {
    mode: ProviderMode,
    telephony: Option<Chosen<SignedTelephony>>,
    llm: Option<Chosen<Arc<dyn Llm>>>,
    voices: Voices,
}

impl Accounts {
    pub fn new(
        store: Arc<dyn OnboardingStore>,
        keys: Arc<dyn KeySource>,
        factory: Arc<dyn ProviderFactory>,
        platform: PlatformProviders,
        clock: Clock,
    ) -> Self {
        Self {
            store,
            keys,
            factory,
            platform,
            clock,
            cache: Arc::default(),
        }
    }

    async fn resolved(&self, workspace_id: &str) -> Result<Arc<Resolved>, Error> {
        let now = self.clock.now();
        if let Some((until, resolved)) = self.cache.lock().expect("cache lock").get(workspace_id)
            && *until > now
        {
            return Ok(resolved.clone());
        }
        let resolved = Arc::new(self.resolve(workspace_id).await?);
        let mut cache = self.cache.lock().expect("cache lock");
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(workspace_id.to_owned(), (now + CACHE_FOR, resolved.clone()));
        Ok(resolved)
    }

    async fn resolve(&self, workspace_id: &str) -> Result<Resolved, Error> {
        if is_test_workspace(workspace_id) {
            return self.test_mode();
        }
        let onboarding = self.store.onboarding(workspace_id).await?;
        if onboarding.settings.mode == ProviderMode::Bundled {
            return Ok(Resolved {
                mode: ProviderMode::Bundled,
                telephony: self.platform.telephony.clone().map(|t| Ok((t, None))),
                llm: self.platform.llm.clone().map(Ok),
                voices: self.platform_voices(),
            });
        }
        let keys = self.keys.keys().await.map_err(Error::Unavailable)?;
        // The valid credential of `provider`, opened, and what watches its adapters; else why
        // there is none.
        let usable = |provider: &str| -> Result<Chosen<(ProviderCredential, Watch)>, Error> {
            let about = OnboardingProvider::find(provider).expect("a catalogued provider");
            let Some(stored) = onboarding.credential(provider) else {
                return Ok(Err(missing(about, None)));
            };
            if stored.state != CredentialState::Valid {
                return Ok(Err(missing(about, stored.reason.as_deref())));
            }
            let watch = Watch {
                workspace_id: workspace_id.to_owned(),
                provider: about.id,
                updated_at: stored.updated_at,
                store: self.store.clone(),
                cache: Arc::downgrade(&self.cache),
                clock: self.clock.clone(),
            };
            Ok(Ok((open(&keys, workspace_id, stored)?, watch)))
        };
        let telephony = match &self.platform.telephony {
            None => None,
            Some(_) => Some(match usable("twilio")? {
                Ok((
                    ProviderCredential::Twilio {
                        account_sid,
                        auth_token,
                    },
                    watch,
                )) => {
                    let Some((own, key)) = self.factory.telephony(workspace_id, &account_sid, &auth_token) else {
                        return Err(not_configured("telephony"));
                    };
                    Ok((Arc::new(Watched { inner: own, watch }) as Arc<dyn Telephony>, key))
                }
                Ok(_) => return Err(Error::internal(anyhow::anyhow!("a Twilio credential of another shape"))),
                Err(why) => Err(why),
            }),
        };
        let llm = match &self.platform.llm {
            None => None,
            Some(_) => Some(match usable("anthropic")? {
                Ok((ProviderCredential::Anthropic { api_key }, watch)) => {
                    let own = self.factory.llm(&api_key);
                    Ok(Arc::new(Watched { inner: own, watch }) as Arc<dyn Llm>)
                }
                Ok(_) => {
                    return Err(Error::internal(anyhow::anyhow!(
                        "an Anthropic credential of another shape"
                    )));
                }
                Err(why) => Err(why),
            }),
        };
        // Voices of its own are optional: without a valid credential, the platform's speak.
        let voices = match usable("elevenlabs")? {
            Ok((ProviderCredential::Elevenlabs { api_key, voices }, watch)) => {
                let speech = self.platform.speech.as_ref().and_then(|platform| {
                    let own = self.factory.speech(&api_key, &voices)?;
                    Some(Arc::new(PersonaSpeech {
                        own: Arc::new(Watched { inner: own, watch }),
                        personas: voices.keys().cloned().collect(),
                        platform: platform.clone(),
                    }) as Arc<dyn TextToSpeech>)
                });
                Voices { own: voices, speech }
            }
            Ok(_) => {
                return Err(Error::internal(anyhow::anyhow!(
                    "an ElevenLabs credential of another shape"
                )));
            }
            Err(_) => self.platform_voices(),
        };
        Ok(Resolved {
            mode: ProviderMode::Byok,
            telephony,
            llm,
            voices,
        })
    }

    fn platform_voices(&self) -> Voices {
        Voices {
            own: Default::default(),
            speech: self.platform.speech.clone(),
        }
    }
}

impl Accounts {
    /// A test-mode twin's providers: never a real provider, so its calls cost nothing real.
    fn test_mode(&self) -> Result<Resolved, Error> {
        let PlatformProviders {
            telephony,
            llm,
            test_telephony,
            test_llm,
            speech: _,
        } = &self.platform;
        let telephony = match (telephony, test_telephony) {
            (None, _) => None,
            (Some(_), Some(simulator)) => Some(Ok((simulator.clone(), None))),
            (Some(_), None) => return Err(not_configured("test-mode telephony")),
        };
        let llm = match (llm, test_llm) {
            (None, _) => None,
            (Some(_), Some(offline)) => Some(Ok(offline.clone())),
            (Some(_), None) => return Err(not_configured("test-mode language model")),
        };
        Ok(Resolved {
            mode: ProviderMode::Bundled,
            telephony,
            llm,
            voices: self.platform_voices(),
        })
    }
}

/// What watches the adapters made from a workspace's credential: when the provider refuses
/// the credential itself, it is marked invalid with the provider's reason (unless it was
/// replaced meanwhile), and this instance resolves the workspace again on its next request.
struct Watch {
    workspace_id: String,
    provider: &'static str,
    updated_at: DateTime<Utc>,
    store: Arc<dyn OnboardingStore>,
    /// Weak: the cache holds the adapters that hold this.
    cache: Weak<Cache>,
    clock: Clock,
}

impl Watch {
    async fn seen<T>(&self, answer: Result<T, ProviderError>) -> Result<T, ProviderError> {
        if let Err(ProviderError::Unauthorized(reason)) = &answer {
            let (ws, provider, now) = (&self.workspace_id, self.provider, self.clock.now());
            // Not the change the request makes: its audit entry waits for that one.
            let marked = crate::audit::set_aside(self.store.mark_credential_invalid(
                ws,
                provider,
                self.updated_at,
                reason,
                switchboard_core::clock::api_time(now),
            ))
            .await;
            match marked {
                Ok(_) => tracing::warn!(
                    workspace_id = ws,
                    provider,
                    "the provider refused the workspace's credential"
                ),
                Err(e) => tracing::error!(workspace_id = ws, provider, error = %e, "a refused credential not marked"),
            }
            if let Some(cache) = self.cache.upgrade() {
                cache.lock().expect("cache lock").remove(ws);
            }
        }
        answer
    }
}

/// A workspace's own adapter, watched.
struct Watched<T: ?Sized> {
    inner: Arc<T>,
    watch: Watch,
}

#[async_trait]
impl Telephony for Watched<dyn Telephony> {
    fn provider(&self) -> &'static str {
        self.inner.provider()
    }

    fn call_id_for(&self, call_id: &str) -> Option<String> {
        self.inner.call_id_for(call_id)
    }

    fn is_live(&self) -> bool {
        self.inner.is_live()
    }

    async fn attach_number(&self, phone_e164: &str) -> Result<Option<String>, ProviderError> {
        self.watch.seen(self.inner.attach_number(phone_e164).await).await
    }

    async fn search_numbers(&self, search: &NumberSearch) -> Result<Vec<AvailableNumber>, ProviderError> {
        self.watch.seen(self.inner.search_numbers(search).await).await
    }

    async fn provision_number(&self, phone_e164: &str) -> Result<Option<String>, ProviderError> {
        self.watch.seen(self.inner.provision_number(phone_e164).await).await
    }

    async fn release_number(&self, number: &PhoneNumber) -> Result<(), ProviderError> {
        self.watch.seen(self.inner.release_number(number).await).await
    }

    async fn place_call(&self, call: &OutboundCall) -> Result<String, ProviderError> {
        self.watch.seen(self.inner.place_call(call).await).await
    }

    async fn hang_up(&self, provider_call_id: &str) -> Result<(), ProviderError> {
        self.watch.seen(self.inner.hang_up(provider_call_id).await).await
    }

    async fn fetch_call(&self, provider_call_id: &str) -> Result<Option<ProviderCall>, ProviderError> {
        self.watch.seen(self.inner.fetch_call(provider_call_id).await).await
    }

    async fn recording(&self, call: &Call, voice: &Voice) -> Result<Option<Speech>, ProviderError> {
        self.watch.seen(self.inner.recording(call, voice).await).await
    }

    async fn discard_recording(&self, call: &Call) -> Result<(), ProviderError> {
        self.watch.seen(self.inner.discard_recording(call).await).await
    }
}

#[async_trait]
impl Llm for Watched<dyn Llm> {
    fn provider(&self) -> &'static str {
        self.inner.provider()
    }

    async fn complete(&self, request: &LlmRequest) -> Result<LlmReply, ProviderError> {
        self.watch.seen(self.inner.complete(request).await).await
    }
}

#[async_trait]
impl TextToSpeech for Watched<dyn TextToSpeech> {
    async fn speak(&self, voice: &Voice, text: &str) -> Result<Speech, ProviderError> {
        self.watch.seen(self.inner.speak(voice, text).await).await
    }
}

/// A workspace's speech: its own account for the personas it gave voices to, the platform's
/// for the others.
struct PersonaSpeech {
    own: Arc<dyn TextToSpeech>,
    personas: std::collections::BTreeSet<String>,
    platform: Arc<dyn TextToSpeech>,
}

#[async_trait]
impl TextToSpeech for PersonaSpeech {
    async fn speak(&self, voice: &Voice, text: &str) -> Result<Speech, ProviderError> {
        if self.personas.contains(voice.id) {
            self.own.speak(voice, text).await
        } else {
            self.platform.speak(voice, text).await
        }
    }
}

/// Opens a stored credential with the workspace's key.
pub fn open(keys: &WorkspaceKeys, workspace_id: &str, stored: &StoredCredential) -> Result<ProviderCredential, Error> {
    let json = keys
        .of(workspace_id)
        .open(&stored.sealed)
        .map_err(|e| Error::internal(e.context("a stored credential does not open")))?;
    serde_json::from_str(&json).map_err(|e| Error::internal(anyhow::anyhow!("a stored credential is malformed: {e}")))
}

/// Seals a credential with the workspace's key, as JSON.
pub fn seal(keys: &WorkspaceKeys, workspace_id: &str, credential: &ProviderCredential) -> String {
    let json = serde_json::to_string(credential).expect("a credential serialises");
    keys.of(workspace_id).seal(&json)
}

/// Why a `byok` workspace cannot use `provider`: it brought no credential, or the provider
/// refused it (`refused`: the provider's reason).
fn missing(provider: &OnboardingProvider, refused: Option<&str>) -> String {
    let state = match refused {
        None => format!("has no {} credential", provider.name),
        Some(reason) => format!(
            "has a {} credential {} refused ({reason})",
            provider.name, provider.name
        ),
    };
    format!(
        "This workspace brings its own accounts (mode `byok`) and {state}: set one with PUT \
         /v1/onboarding/credentials/{}, or switch to the platform's accounts with PUT /v1/onboarding/mode.",
        provider.id
    )
}

/// A kind of provider the function was built without.
fn not_configured(kind: &str) -> Error {
    Error::internal(anyhow::anyhow!("this function has no {kind} provider"))
}

#[async_trait]
impl ProviderAccounts for Accounts {
    async fn telephony(&self, workspace_id: &str) -> Result<Arc<dyn Telephony>, Error> {
        match &self.resolved(workspace_id).await?.telephony {
            Some(Ok((telephony, _))) => Ok(telephony.clone()),
            Some(Err(why)) => Err(Error::refused(ErrorCode::ProviderCredentialMissing, why.clone())),
            None => Err(not_configured("telephony")),
        }
    }

    async fn llm(&self, workspace_id: &str) -> Result<Arc<dyn Llm>, Error> {
        match &self.resolved(workspace_id).await?.llm {
            Some(Ok(llm)) => Ok(llm.clone()),
            Some(Err(why)) => Err(Error::refused(ErrorCode::ProviderCredentialMissing, why.clone())),
            None => Err(not_configured("language model")),
        }
    }

    async fn webhook_key(&self, workspace_id: &str) -> Result<Option<String>, Error> {
        match &self.resolved(workspace_id).await?.telephony {
            Some(Ok((_, key))) => Ok(key.clone()),
            Some(Err(why)) => Err(Error::refused(ErrorCode::ProviderCredentialMissing, why.clone())),
            None => Err(not_configured("telephony")),
        }
    }

    async fn voices(&self, workspace_id: &str) -> Result<Voices, Error> {
        Ok(self.resolved(workspace_id).await?.voices.clone())
    }

    async fn mode(&self, workspace_id: &str) -> Result<ProviderMode, Error> {
        Ok(self.resolved(workspace_id).await?.mode)
    }
}
