//! The function's settings.

use switchboard_core::config::{DeploymentMode, Env};
use switchboard_core::model::Plan;

/// The auth function's settings beside the pipeline's.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub mail_queue_url: String,
    /// Base URL users reach the API on, for links in emails; `None`: the request's domain.
    pub public_base_url: Option<String>,
    /// The plan new workspaces start on.
    pub signup_plan: Plan,
}

impl AuthConfig {
    pub fn read(env: &mut Env) -> Self {
        let mode = env.parsed_or("DEPLOYMENT_MODE", DeploymentMode::Production);
        let config = Self {
            mail_queue_url: env.required("MAIL_QUEUE_URL"),
            public_base_url: env.optional("PUBLIC_BASE_URL"),
            signup_plan: env.parsed_or("SIGNUP_PLAN", Plan::Starter),
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
}

#[cfg(test)]
mod tests {
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
            let _ = AuthConfig::read(&mut env);
            assert_eq!(env.finish().is_ok(), ok, "{mode} {url}");
        }
    }
}
