//! The function's settings.

use switchboard_core::config::Env;
use switchboard_core::model::Plan;
use switchboard_runtime::config::MailConfig;

/// The auth function's settings beside the pipeline's.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub mail: MailConfig,
    /// The plan new workspaces start on.
    pub signup_plan: Plan,
}

impl AuthConfig {
    pub fn read(env: &mut Env) -> Self {
        Self {
            mail: MailConfig::read(env),
            signup_plan: env.parsed_or("SIGNUP_PLAN", Plan::Starter),
        }
    }
}
