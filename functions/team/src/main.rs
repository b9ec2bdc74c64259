//! The `team` Lambda function.

use switchboard_core::config::Env;
use switchboard_domain::sealing::WorkspaceKeys;
use switchboard_runtime::config::MailConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let read = |env: &mut Env| (MailConfig::read(env), env.required("SEALING_KEY_SECRET_ID"));
    switchboard_runtime::http_function(read, async |parts, (config, sealing_key): (MailConfig, String)| {
        let mailer = switchboard_runtime::mail_queue(&parts.sdk, &config.mail_queue_url);
        let keys = WorkspaceKeys::new(
            switchboard_runtime::key_material(&parts.sdk, &sealing_key)
                .await?
                .as_bytes(),
        );
        Ok(team::service(parts.platform, &parts.store, mailer, config, keys))
    })
    .await
}
