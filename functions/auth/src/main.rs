//! The `auth` Lambda function.

use auth::AuthConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::http_function(AuthConfig::read, async |parts, config| {
        let mailer = switchboard_runtime::mail_queue(&parts.sdk, &config.mail.mail_queue_url);
        Ok(auth::service(parts.platform, &parts.store, mailer, &config))
    })
    .await
}
