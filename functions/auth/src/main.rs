//! The `auth` Lambda function.

use auth::AuthConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::telemetry::init();
    let config = AuthConfig::from_env()?;
    let (sdk, store, platform) = switchboard_runtime::http_platform(&config.http).await?;
    let mailer = switchboard_runtime::mail_queue(&sdk, &config.mail_queue_url);
    switchboard_runtime::serve(auth::service(platform, &store, mailer, &config)).await
}
