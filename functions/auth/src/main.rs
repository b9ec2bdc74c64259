//! The `auth` Lambda function.

use std::sync::Arc;

use switchboard::config::AuthConfig;
use switchboard::http::Service;
use switchboard::mail::SqsMailer;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard::telemetry::init();
    let config = AuthConfig::from_env()?;
    let (sdk, store, platform) = switchboard::aws::http_platform(&config.http).await?;
    let state = auth::State {
        accounts: Arc::new(store),
        mailer: Arc::new(SqsMailer::new(aws_sdk_sqs::Client::new(&sdk), &config.mail_queue_url)),
        jwt: platform.jwt.clone(),
        public_base_url: config.public_base_url,
        signup_plan: config.signup_plan,
    };
    switchboard::http::run(Service::new(platform, state, auth::routes())).await
}
