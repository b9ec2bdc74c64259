//! The `team` Lambda function.

use switchboard_runtime::config::MailConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::http_function(MailConfig::read, async |parts, config| {
        let mailer = switchboard_runtime::mail_queue(&parts.sdk, &config.mail_queue_url);
        Ok(team::service(parts.platform, &parts.store, mailer, config))
    })
    .await
}
