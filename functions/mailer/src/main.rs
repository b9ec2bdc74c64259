//! The `mailer` Lambda function (SQS).

use std::sync::Arc;

use mailer::{MailConfig, OutboxMailer, SesMailer};
use switchboard_core::config::Env;
use switchboard_core::ports::Mailer;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    switchboard_runtime::telemetry::init();
    let mut env = Env::process();
    let config = MailConfig::read(&mut env);
    env.finish()?;
    let transport: Arc<dyn Mailer> = match config {
        MailConfig::Outbox(dir) => Arc::new(OutboxMailer::new(dir)),
        MailConfig::Ses {
            from,
            configuration_set,
        } => {
            let sdk = switchboard_runtime::sdk_config().await;
            Arc::new(SesMailer::new(
                aws_sdk_sesv2::Client::new(&sdk),
                from,
                configuration_set,
            ))
        }
    };
    switchboard_runtime::worker::run(|message| mailer::deliver(transport.as_ref(), message)).await
}
