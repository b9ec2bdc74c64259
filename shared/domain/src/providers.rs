//! The provider accounts each workspace's work goes through, chosen per workspace at run time:
//! the platform's in `bundled` mode, in `byok` mode the workspace's own, made from the
//! credentials it brought (opened here, never stored or logged in clear).
//!
//! What a warm instance opened is kept for [`CACHE_FOR`] at most (and for at most
//! [`CACHE_ENTRIES`] workspaces), so a credential rotated or a mode switched is used within
//! that time by every instance, without reading and opening credentials on every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use switchboard_core::clock::Clock;
use switchboard_core::model::{
    CredentialState, OnboardingProvider, ProviderCredential, ProviderMode, StoredCredential,
};
use switchboard_core::ports::{Llm, OnboardingStore, ProviderAccounts, ProviderFactory, Telephony};
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
}

pub struct Accounts {
    store: Arc<dyn OnboardingStore>,
    keys: Arc<dyn KeySource>,
    factory: Arc<dyn ProviderFactory>,
    platform: PlatformProviders,
    clock: Clock,
    cache: Mutex<HashMap<String, (DateTime<Utc>, Arc<Resolved>)>>,
}

/// A provider of a workspace: its adapter, or why it has none.
type Chosen<T> = Result<T, &'static OnboardingProvider>;

/// A workspace's providers of each kind the function uses (`None`: it uses none of that kind).
struct Resolved {
    mode: ProviderMode,
    telephony: Option<Chosen<(Arc<dyn Telephony>, Option<String>)>>,
    llm: Option<Chosen<Arc<dyn Llm>>>,
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
            cache: Mutex::default(),
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
        let onboarding = self.store.onboarding(workspace_id).await?;
        if onboarding.settings.mode == ProviderMode::Bundled {
            return Ok(Resolved {
                mode: ProviderMode::Bundled,
                telephony: self.platform.telephony.clone().map(|t| Ok((t, None))),
                llm: self.platform.llm.clone().map(Ok),
            });
        }
        let keys = self.keys.keys().await.map_err(Error::Unavailable)?;
        let open = |provider: &str| -> Result<Option<ProviderCredential>, Error> {
            onboarding
                .credential(provider)
                .filter(|c| c.state == CredentialState::Valid)
                .map(|stored| open(&keys, workspace_id, stored))
                .transpose()
        };
        let needed = |provider: &str| OnboardingProvider::find(provider).expect("a catalogued provider");
        let telephony = match (&self.platform.telephony, open("twilio")?) {
            (None, _) => None,
            (
                Some(_),
                Some(ProviderCredential::Twilio {
                    account_sid,
                    auth_token,
                }),
            ) => self.factory.telephony(workspace_id, &account_sid, &auth_token).map(Ok),
            _ => Some(Err(needed("twilio"))),
        };
        let llm = match (&self.platform.llm, open("anthropic")?) {
            (None, _) => None,
            (Some(_), Some(ProviderCredential::Anthropic { api_key })) => Some(Ok(self.factory.llm(&api_key))),
            _ => Some(Err(needed("anthropic"))),
        };
        Ok(Resolved {
            mode: ProviderMode::Byok,
            telephony,
            llm,
        })
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

fn missing(provider: &OnboardingProvider) -> Error {
    Error::refused(
        ErrorCode::ProviderCredentialMissing,
        format!(
            "This workspace brings its own accounts (mode `byok`) and has no valid {} credential: set one with PUT \
             /v1/onboarding/credentials/{}, or switch to the platform's accounts with PUT /v1/onboarding/mode.",
            provider.name, provider.id
        ),
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
            Some(Err(provider)) => Err(missing(provider)),
            None => Err(not_configured("telephony")),
        }
    }

    async fn llm(&self, workspace_id: &str) -> Result<Arc<dyn Llm>, Error> {
        match &self.resolved(workspace_id).await?.llm {
            Some(Ok(llm)) => Ok(llm.clone()),
            Some(Err(provider)) => Err(missing(provider)),
            None => Err(not_configured("language model")),
        }
    }

    async fn webhook_key(&self, workspace_id: &str) -> Result<Option<String>, Error> {
        match &self.resolved(workspace_id).await?.telephony {
            Some(Ok((_, key))) => Ok(key.clone()),
            Some(Err(provider)) => Err(missing(provider)),
            None => Err(not_configured("telephony")),
        }
    }

    async fn mode(&self, workspace_id: &str) -> Result<ProviderMode, Error> {
        Ok(self.resolved(workspace_id).await?.mode)
    }
}
