//! The typed configuration of the adapters, read from environment variables at cold start.
//! A function's own settings live in its crate; these are the ones several functions share.

#[allow(unused_imports)]
use switchboard_core::config::{ConfigError, DeploymentMode, Env};

/// The highest per-minute limit of anonymous clients (a token every 60 ms).
pub const MAX_RATE_LIMIT: u32 = 1000;

/// The variable naming the pseudonym key's secret, read by the functions that use the phone
/// lists (`switchboard_store::PseudonymKey`).
pub const PSEUDONYM_KEY_SECRET_ID: &str = "PSEUDONYM_KEY_SECRET_ID";

/// Requests per minute per client IP on public endpoints that write or cost (signup, login,
/// voice previews): `PUBLIC_RATE_LIMIT_PER_MINUTE`, 1 to 1000, 20 by default.
pub fn public_rate_limit(env: &mut Env) -> u32 {
    let limit = env.parsed_or("PUBLIC_RATE_LIMIT_PER_MINUTE", 20);
    if !(1..=MAX_RATE_LIMIT).contains(&limit) {
        env.problem("PUBLIC_RATE_LIMIT_PER_MINUTE", format!("must be 1 to {MAX_RATE_LIMIT}"));
    }
    limit
}

/// Multiplies every plan's rate limits: `RATE_LIMIT_SCALE`, 1 to 1000, 1 by default. For load
/// tests of a deployment (the local test run's schemathesis), whose requests the plan's limits
/// would otherwise mostly refuse.
pub fn rate_limit_scale(env: &mut Env) -> u32 {
    let scale = env.parsed_or("RATE_LIMIT_SCALE", 1);
    if !(1..=1000).contains(&scale) {
        env.problem("RATE_LIMIT_SCALE", "must be 1 to 1000");
    }
    scale
}

/// What every HTTP function needs.
#[cfg(feature = "http")]
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub table_name: String,
    /// Secrets Manager id (name or ARN) of the JWT signing key.
    pub jwt_secret_id: String,
    /// Secrets Manager id of the key numbers on the phone lists are stored under (functions
    /// that use the lists).
    pub pseudonym_key_secret_id: Option<String>,
    pub mode: DeploymentMode,
    /// Requests per minute per client IP on public endpoints that write (signup, login).
    pub public_rate_limit: u32,
    pub rate_limit_scale: u32,
}

#[cfg(feature = "http")]
impl HttpConfig {
    pub fn read(env: &mut Env) -> Self {
        Self {
            table_name: env.required("TABLE_NAME"),
            jwt_secret_id: env.required("JWT_SECRET_ID"),
            pseudonym_key_secret_id: env.optional(PSEUDONYM_KEY_SECRET_ID),
            mode: env.parsed_or("DEPLOYMENT_MODE", DeploymentMode::Production),
            public_rate_limit: public_rate_limit(env),
            rate_limit_scale: rate_limit_scale(env),
        }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        let mut env = Env::process();
        let config = Self::read(&mut env);
        env.finish().map(|()| config)
    }
}

/// Where mail is queued, and the base URL the links in it point at.
#[cfg(feature = "sqs")]
#[derive(Debug, Clone)]
pub struct MailConfig {
    pub mail_queue_url: String,
    /// Base URL users reach the API on, for links in emails; `None`: the request's domain.
    pub public_base_url: Option<String>,
}

#[cfg(feature = "sqs")]
impl MailConfig {
    pub fn read(env: &mut Env) -> Self {
        let mode = env.parsed_or("DEPLOYMENT_MODE", DeploymentMode::Production);
        let config = Self {
            mail_queue_url: env.required("MAIL_QUEUE_URL"),
            public_base_url: env.optional("PUBLIC_BASE_URL"),
        };
        // Links in emails carry secrets: outside a developer's machine they must be https.
        if mode == DeploymentMode::Production
            && config
                .public_base_url
                .as_ref()
                .is_some_and(|u| !u.starts_with("https://"))
        {
            env.problem("PUBLIC_BASE_URL", "must be an https:// URL in production");
        }
        config
    }

    /// The base of links in mail: the configured URL, or the domain the request came in on.
    pub fn link_base(&self, request_domain: Option<&str>) -> anyhow::Result<String> {
        match (&self.public_base_url, request_domain) {
            (Some(base), _) => Ok(base.trim_end_matches('/').to_owned()),
            (None, Some(domain)) => Ok(format!("https://{domain}")),
            (None, None) => anyhow::bail!("PUBLIC_BASE_URL is unset and the request has no domain"),
        }
    }
}

#[cfg(all(test, feature = "sqs"))]
mod mail_tests {
    use super::*;

    #[test]
    fn production_links_must_be_https() {
        let vars = |mode: &'static str, url: &'static str| {
            Env::from_fn(move |k| match k {
                "MAIL_QUEUE_URL" => Some("x".into()),
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
            let _ = MailConfig::read(&mut env);
            assert_eq!(env.finish().is_ok(), ok, "{mode} {url}");
        }
    }
}

/// Which telephony adapter places calls, and what it needs.
#[cfg(feature = "telephony")]
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
#[cfg(feature = "telephony")]
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

#[cfg(feature = "telephony")]
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
                .unwrap_or_else(|| switchboard_telephony::twilio::DEFAULT_API_BASE.into()),
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
                env.problem(name, format!("must be a {scheme} URL for Twilio"));
            }
        }
        Some(config)
    }
}

#[cfg(feature = "telephony")]
impl TelephonyConfig {
    pub fn read(env: &mut Env) -> Self {
        let config = Self {
            provider: env.optional("TELEPHONY_PROVIDER").unwrap_or_else(|| "simulator".into()),
            call_queue_url: env.required("CALL_QUEUE_URL"),
            time_scale: env.parsed_or("SIMULATOR_TIME_SCALE", 1.0),
            twilio: TwilioConfig::read(env),
        };
        if !["simulator", "twilio"].contains(&config.provider.as_str()) {
            env.problem(
                "TELEPHONY_PROVIDER",
                format!("must be simulator or twilio, not {:?}", config.provider),
            );
        }
        if !(0.0..=10.0).contains(&config.time_scale) {
            env.problem("SIMULATOR_TIME_SCALE", "must be between 0 and 10");
        }
        config
    }
}

/// The model agents think with on Anthropic, unless `ANTHROPIC_MODEL` names another.
pub const DEFAULT_ANTHROPIC_MODEL: &str = "claude-sonnet-4-5";

/// Which language model answers, and how to reach it.
#[cfg(feature = "llm")]
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// `offline` (default) or `anthropic`.
    pub provider: String,
    /// Secrets Manager id of the Anthropic API key (with `anthropic`).
    pub anthropic_secret_id: Option<String>,
    pub anthropic_model: String,
    pub anthropic_base_url: String,
}

#[cfg(feature = "llm")]
impl LlmConfig {
    pub fn read(env: &mut Env) -> Self {
        let config = Self {
            provider: env.optional("LLM_PROVIDER").unwrap_or_else(|| "offline".into()),
            anthropic_secret_id: env.optional("ANTHROPIC_API_KEY_SECRET_ID"),
            anthropic_model: env
                .optional("ANTHROPIC_MODEL")
                .unwrap_or_else(|| DEFAULT_ANTHROPIC_MODEL.into()),
            anthropic_base_url: env
                .optional("ANTHROPIC_BASE_URL")
                .unwrap_or_else(|| switchboard_llm::anthropic::DEFAULT_BASE_URL.into()),
        };
        match config.provider.as_str() {
            "offline" => {}
            "anthropic" if config.anthropic_secret_id.is_none() => {
                env.problem(
                    "ANTHROPIC_API_KEY_SECRET_ID",
                    "is required when LLM_PROVIDER is anthropic",
                );
            }
            "anthropic" => {}
            other => {
                env.problem("LLM_PROVIDER", format!("must be offline or anthropic, not {other:?}"));
            }
        }
        config
    }
}

/// Which payment provider takes top-ups, and what it needs.
#[cfg(feature = "payments")]
#[derive(Debug, Clone)]
pub struct PaymentsConfig {
    /// `offline` (default) or `stripe`.
    pub provider: String,
    /// Secrets Manager id of the secret payment webhooks are signed with.
    pub webhook_secret_id: String,
    /// With `offline`: the deployment's `POST /v1/billing/webhooks/payment`, which it calls.
    pub webhook_url: Option<String>,
    /// With `stripe`: Secrets Manager id of the secret API key.
    pub stripe_secret_id: Option<String>,
    pub stripe_api_base: String,
    /// With `stripe`: where its checkout page returns the payer to.
    pub return_url: Option<String>,
}

#[cfg(feature = "payments")]
impl PaymentsConfig {
    pub fn read(env: &mut Env) -> Self {
        let config = Self {
            provider: env.optional("PAYMENTS_PROVIDER").unwrap_or_else(|| "offline".into()),
            webhook_secret_id: env.required("PAYMENT_WEBHOOK_SECRET_ID"),
            webhook_url: env.optional("PAYMENT_WEBHOOK_URL"),
            stripe_secret_id: env.optional("STRIPE_SECRET_KEY_SECRET_ID"),
            stripe_api_base: env
                .optional("STRIPE_API_BASE")
                .unwrap_or_else(|| switchboard_payments::stripe::API_BASE.into()),
            return_url: env.optional("PAYMENT_RETURN_URL"),
        };
        match config.provider.as_str() {
            // Test-mode workspaces always pay offline, through the deployment's own webhook.
            _ if config.webhook_url.is_none() => {
                env.problem(
                    "PAYMENT_WEBHOOK_URL",
                    "is required (test-mode payments are made offline through it)",
                );
            }
            "stripe" if config.stripe_secret_id.is_none() || config.return_url.is_none() => {
                env.problem(
                    "STRIPE_SECRET_KEY_SECRET_ID",
                    "and PAYMENT_RETURN_URL are required when PAYMENTS_PROVIDER is stripe",
                );
            }
            "offline" | "stripe" => {}
            other => env.problem("PAYMENTS_PROVIDER", format!("must be offline or stripe, not {other:?}")),
        }
        config
    }
}

/// What webhook delivery needs.
#[cfg(feature = "webhooks")]
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Secrets Manager id of the key material that seals endpoints' signing secrets.
    pub key_secret_id: String,
    /// The queue of deliveries.
    pub queue_url: String,
    /// When failed attempts are retried (`WEBHOOK_RETRY_SCHEDULE`, seconds: `30,300,1800,7200`).
    pub schedule: switchboard_domain::webhooks::RetrySchedule,
    /// Production refuses plain http and private addresses.
    pub mode: DeploymentMode,
}

#[cfg(feature = "webhooks")]
impl WebhookConfig {
    pub fn read(env: &mut Env) -> Self {
        Self {
            key_secret_id: env.required("WEBHOOK_KEY_SECRET_ID"),
            queue_url: env.required("WEBHOOK_QUEUE_URL"),
            schedule: env.parsed_or(
                "WEBHOOK_RETRY_SCHEDULE",
                switchboard_domain::webhooks::RetrySchedule::default(),
            ),
            mode: env.parsed_or("DEPLOYMENT_MODE", DeploymentMode::Production),
        }
    }
}

/// `TTS_PROVIDER`: `polly` (default, on AWS) or `offline` (espeak-ng).
pub fn tts_provider(env: &mut Env) -> String {
    env.one_of("TTS_PROVIDER", "polly", &["polly", "offline"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "telephony")]
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

    #[cfg(feature = "http")]
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
