//! Configuration read from environment variables into typed structs at cold start.
//!
//! Every missing or malformed variable is reported at once, so a bad deployment fails on its
//! first invocation with a message naming all of them.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::model::Plan;

#[derive(Debug)]
pub struct ConfigError(BTreeMap<&'static str, String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: ")?;
        for (i, (name, problem)) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, "; ")?;
            }
            write!(f, "{name} {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Where variables come from: the process, or a function in tests.
type Source = Box<dyn Fn(&str) -> Option<String>>;

/// Collects variables and their problems; `finish` fails if any were found.
pub struct Env {
    source: Source,
    problems: BTreeMap<&'static str, String>,
}

impl Env {
    pub fn process() -> Self {
        Self::from_fn(|k| std::env::var(k).ok())
    }

    pub fn from_fn(source: impl Fn(&str) -> Option<String> + 'static) -> Self {
        Self {
            source: Box::new(source),
            problems: BTreeMap::new(),
        }
    }

    fn raw(&self, name: &str) -> Option<String> {
        (self.source)(name).filter(|v| !v.trim().is_empty())
    }

    pub fn required(&mut self, name: &'static str) -> String {
        self.raw(name).unwrap_or_else(|| {
            self.problems.insert(name, "is required".into());
            String::new()
        })
    }

    pub fn optional(&self, name: &'static str) -> Option<String> {
        self.raw(name)
    }

    pub fn parsed_or<T: FromStr>(&mut self, name: &'static str, default: T) -> T
    where
        T::Err: fmt::Display,
    {
        match self.raw(name) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|e| {
                self.problems.insert(name, format!("is invalid ({e}): {v:?}"));
                default
            }),
        }
    }

    pub fn finish(self) -> Result<(), ConfigError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(self.problems))
        }
    }
}

/// Whether the deployment is a developer's machine or a real one. Production refuses
/// conveniences meant for loopback development (plain-http public URLs, insecure cookies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentMode {
    Local,
    Production,
}

impl FromStr for DeploymentMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "local" => Ok(Self::Local),
            "production" => Ok(Self::Production),
            _ => Err("expected local or production".into()),
        }
    }
}

/// The highest per-minute limit a rate-limit ring may hold.
pub const MAX_RATE_LIMIT: u32 = 1000;

/// What every HTTP function needs.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub table_name: String,
    /// Secrets Manager id (name or ARN) of the JWT signing key.
    pub jwt_secret_id: String,
    pub mode: DeploymentMode,
    /// Requests per minute per client IP on public endpoints that write (signup, login).
    pub public_rate_limit: u32,
}

impl HttpConfig {
    pub fn read(env: &mut Env) -> Self {
        let config = Self {
            table_name: env.required("TABLE_NAME"),
            jwt_secret_id: env.required("JWT_SECRET_ID"),
            mode: env.parsed_or("DEPLOYMENT_MODE", DeploymentMode::Production),
            public_rate_limit: env.parsed_or("PUBLIC_RATE_LIMIT_PER_MINUTE", 20),
        };
        // Each allowed request of the last minute is kept in the client's item (see
        // store/credentials.rs), which DynamoDB caps at 400 KB.
        if !(1..=MAX_RATE_LIMIT).contains(&config.public_rate_limit) {
            env.problems
                .insert("PUBLIC_RATE_LIMIT_PER_MINUTE", format!("must be 1 to {MAX_RATE_LIMIT}"));
        }
        config
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        let mut env = Env::process();
        let config = Self::read(&mut env);
        env.finish().map(|()| config)
    }
}

/// The auth function's extra settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub http: HttpConfig,
    pub mail_queue_url: String,
    /// Base URL users reach the API on, for links in emails; `None`: the request's domain.
    pub public_base_url: Option<String>,
    /// The plan new workspaces start on.
    pub signup_plan: Plan,
}

impl AuthConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut env = Env::process();
        let config = Self::read(&mut env);
        env.finish().map(|()| config)
    }

    pub fn read(env: &mut Env) -> Self {
        let config = Self {
            http: HttpConfig::read(env),
            mail_queue_url: env.required("MAIL_QUEUE_URL"),
            public_base_url: env.optional("PUBLIC_BASE_URL"),
            signup_plan: env.parsed_or("SIGNUP_PLAN", Plan::Starter),
        };
        // Links in emails carry secrets: outside a developer's machine they must be https.
        if config.http.mode == DeploymentMode::Production
            && config
                .public_base_url
                .as_ref()
                .is_some_and(|u| !u.starts_with("https://"))
        {
            env.problems
                .insert("PUBLIC_BASE_URL", "must be an https:// URL in production".into());
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_links_must_be_https() {
        let vars = |mode: &'static str, url: &'static str| {
            Env::from_fn(move |k| match k {
                "TABLE_NAME" | "JWT_SECRET_ID" | "MAIL_QUEUE_URL" => Some("x".into()),
                "DEPLOYMENT_MODE" => Some(mode.into()),
                "PUBLIC_BASE_URL" => Some(url.into()),
                _ => None,
            })
        };
        for (mode, url, ok) in [
            ("production", "http://api.example.com", false),
            ("production", "https://api.example.com", true),
            ("local", "http://127.0.0.1:9000", true),
        ] {
            let mut env = vars(mode, url);
            let _ = AuthConfig::read(&mut env);
            assert_eq!(env.finish().is_ok(), ok, "{mode} {url}");
        }
    }

    #[test]
    fn twilio_needs_its_account_and_public_https_urls() {
        let vars = |extra: &'static [(&'static str, &'static str)]| {
            Env::from_fn(move |k| {
                [("TELEPHONY_PROVIDER", "twilio"), ("CALL_QUEUE_URL", "q")]
                    .iter()
                    .chain(extra)
                    .find(|(name, _)| *name == k)
                    .map(|(_, v)| v.to_string())
            })
        };
        let mut env = vars(&[]);
        let _ = TelephonyConfig::read(&mut env);
        let message = env.finish().unwrap_err().to_string();
        for name in [
            "TWILIO_ACCOUNT_SID",
            "TWILIO_AUTH_TOKEN_SECRET_ID",
            "PUBLIC_BASE_URL",
            "TWILIO_RELAY_URL",
        ] {
            assert!(message.contains(&format!("{name} is required")), "{message}");
        }
        let mut env = vars(&[
            ("TWILIO_ACCOUNT_SID", "AC1"),
            ("TWILIO_AUTH_TOKEN_SECRET_ID", "s"),
            ("PUBLIC_BASE_URL", "http://api.example.com"),
            ("TWILIO_RELAY_URL", "https://relay.example.com"),
            ("RELAY_CALLBACK_URL", "https://relay.example.com/live"),
        ]);
        let _ = TelephonyConfig::read(&mut env);
        let message = env.finish().unwrap_err().to_string();
        assert!(message.contains("PUBLIC_BASE_URL must be a https:// URL"), "{message}");
        assert!(message.contains("TWILIO_RELAY_URL must be a wss:// URL"), "{message}");
        let mut env = vars(&[
            ("TWILIO_ACCOUNT_SID", "AC1"),
            ("TWILIO_AUTH_TOKEN_SECRET_ID", "s"),
            ("PUBLIC_BASE_URL", "https://api.example.com"),
            ("TWILIO_RELAY_URL", "wss://relay.example.com/live"),
            ("RELAY_CALLBACK_URL", "https://relay.example.com/live"),
        ]);
        let config = TelephonyConfig::read(&mut env);
        assert!(env.finish().is_ok());
        assert_eq!(config.twilio.unwrap().api_base, "https://api.twilio.com");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut env = Env::from_fn(|k| (k == "DEPLOYMENT_MODE").then(|| "staging".to_string()));
        let _ = HttpConfig::read(&mut env);
        let message = env.finish().unwrap_err().to_string();
        assert!(message.contains("TABLE_NAME is required"), "{message}");
        assert!(message.contains("JWT_SECRET_ID is required"), "{message}");
        assert!(message.contains("DEPLOYMENT_MODE is invalid"), "{message}");
    }
}

/// Which adapter serves each provider port; `/v1/healthz` reports them.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Providers {
    /// `simulator` (local default) or `twilio`.
    pub telephony: String,
    /// `offline` (local default) or `anthropic`.
    pub llm: String,
    /// `outbox` (local default: files in MAIL_OUTBOX_DIR).
    pub mail: String,
}

impl Providers {
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut env = Env::process();
        let providers = Self::read(&mut env);
        env.finish().map(|()| providers)
    }

    pub fn read(env: &mut Env) -> Self {
        let mut one_of = |name: &'static str, default: &str, allowed: &[&str]| {
            let value = env.optional(name).unwrap_or_else(|| default.to_owned());
            if !allowed.contains(&value.as_str()) {
                env.problems
                    .insert(name, format!("must be one of {allowed:?}, not {value:?}"));
            }
            value
        };
        Self {
            telephony: one_of("TELEPHONY_PROVIDER", "simulator", &["simulator", "twilio"]),
            llm: one_of("LLM_PROVIDER", "offline", &["offline", "anthropic"]),
            mail: one_of("MAIL_PROVIDER", "outbox", &["outbox"]),
        }
    }
}

/// Which telephony adapter places calls, and what it needs.
#[derive(Debug, Clone)]
pub struct TelephonyConfig {
    /// `simulator` (default) or `twilio`.
    pub provider: String,
    /// The queue of call jobs (the simulator's steps, post-call work).
    pub call_queue_url: String,
    /// Multiplies the simulator's delays: 1 is real time, 0 runs a call at once.
    pub time_scale: f64,
    /// With the `twilio` provider.
    pub twilio: Option<TwilioConfig>,
}

/// The Twilio account, and where Twilio reaches us.
#[derive(Debug, Clone)]
pub struct TwilioConfig {
    pub account_sid: String,
    /// Secrets Manager id of the account's auth token.
    pub auth_token_secret_id: String,
    pub api_base: String,
    /// The API's public base URL, which Twilio's webhooks call (and sign).
    pub public_base_url: String,
    /// The `wss://` URL of the relay WebSocket API.
    pub relay_url: String,
    /// The `https://` URL of the relay's stage, where messages are posted to connections.
    pub relay_callback_url: String,
}

impl TwilioConfig {
    /// The Twilio settings when `TELEPHONY_PROVIDER` is `twilio`.
    pub fn read(env: &mut Env) -> Option<Self> {
        if env.optional("TELEPHONY_PROVIDER").as_deref() != Some("twilio") {
            return None;
        }
        let config = Self {
            account_sid: env.required("TWILIO_ACCOUNT_SID"),
            auth_token_secret_id: env.required("TWILIO_AUTH_TOKEN_SECRET_ID"),
            api_base: env
                .optional("TWILIO_API_BASE")
                .unwrap_or_else(|| crate::telephony::twilio::DEFAULT_API_BASE.into()),
            public_base_url: env.required("PUBLIC_BASE_URL"),
            relay_url: env.required("TWILIO_RELAY_URL"),
            relay_callback_url: env.required("RELAY_CALLBACK_URL"),
        };
        // Twilio calls only public https URLs, and signs the URL it calls.
        for (name, value, scheme) in [
            ("PUBLIC_BASE_URL", &config.public_base_url, "https://"),
            ("TWILIO_RELAY_URL", &config.relay_url, "wss://"),
            ("RELAY_CALLBACK_URL", &config.relay_callback_url, "https://"),
        ] {
            if !value.is_empty() && !value.starts_with(scheme) {
                env.problems.insert(name, format!("must be a {scheme} URL for Twilio"));
            }
        }
        Some(config)
    }
}

impl TelephonyConfig {
    pub fn read(env: &mut Env) -> Self {
        let config = Self {
            provider: env.optional("TELEPHONY_PROVIDER").unwrap_or_else(|| "simulator".into()),
            call_queue_url: env.required("CALL_QUEUE_URL"),
            time_scale: env.parsed_or("SIMULATOR_TIME_SCALE", 1.0),
            twilio: TwilioConfig::read(env),
        };
        if !["simulator", "twilio"].contains(&config.provider.as_str()) {
            env.problems.insert(
                "TELEPHONY_PROVIDER",
                format!("must be simulator or twilio, not {:?}", config.provider),
            );
        }
        if !(0.0..=10.0).contains(&config.time_scale) {
            env.problems
                .insert("SIMULATOR_TIME_SCALE", "must be between 0 and 10".into());
        }
        config
    }
}

/// Which language model answers, and how to reach it.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// `offline` (default) or `anthropic`.
    pub provider: String,
    /// Secrets Manager id of the Anthropic API key (with `anthropic`).
    pub anthropic_secret_id: Option<String>,
    pub anthropic_model: String,
    pub anthropic_base_url: String,
}

impl LlmConfig {
    pub fn read(env: &mut Env) -> Self {
        let config = Self {
            provider: env.optional("LLM_PROVIDER").unwrap_or_else(|| "offline".into()),
            anthropic_secret_id: env.optional("ANTHROPIC_API_KEY_SECRET_ID"),
            anthropic_model: env
                .optional("ANTHROPIC_MODEL")
                .unwrap_or_else(|| "claude-sonnet-4-5".into()),
            anthropic_base_url: env
                .optional("ANTHROPIC_BASE_URL")
                .unwrap_or_else(|| crate::llm::anthropic::DEFAULT_BASE_URL.into()),
        };
        match config.provider.as_str() {
            "offline" => {}
            "anthropic" if config.anthropic_secret_id.is_none() => {
                env.problems.insert(
                    "ANTHROPIC_API_KEY_SECRET_ID",
                    "is required when LLM_PROVIDER is anthropic".into(),
                );
            }
            "anthropic" => {}
            other => {
                env.problems
                    .insert("LLM_PROVIDER", format!("must be offline or anthropic, not {other:?}"));
            }
        }
        config
    }
}

/// What webhook delivery needs.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Secrets Manager id of the key material that seals endpoints' signing secrets.
    pub key_secret_id: String,
    /// The queue of deliveries.
    pub queue_url: String,
    /// When failed attempts are retried (`WEBHOOK_RETRY_SCHEDULE`, seconds: `30,300,1800,7200`).
    pub schedule: crate::webhooks::RetrySchedule,
    /// Production refuses plain http and private addresses.
    pub mode: DeploymentMode,
}

impl WebhookConfig {
    pub fn read(env: &mut Env) -> Self {
        Self {
            key_secret_id: env.required("WEBHOOK_KEY_SECRET_ID"),
            queue_url: env.required("WEBHOOK_QUEUE_URL"),
            schedule: env.parsed_or("WEBHOOK_RETRY_SCHEDULE", crate::webhooks::RetrySchedule::default()),
            mode: env.parsed_or("DEPLOYMENT_MODE", DeploymentMode::Production),
        }
    }
}
