//! The `mailer` Lambda function (SQS).

use switchboard_core::config::Env;
use switchboard_mail::MailConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    switchboard_runtime::init();
    let mut env = Env::process();
    let config = MailConfig::read(&mut env);
    env.finish()?;
    let transport = switchboard_runtime::mail_transport(&switchboard_runtime::sdk_config().await, config);
    switchboard_runtime::worker::run(|message| mailer::deliver(transport.as_ref(), message)).await
}
