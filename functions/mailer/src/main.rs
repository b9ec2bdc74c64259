//! The `mailer` Lambda function (SQS).

use std::path::PathBuf;

use mailer::OutboxMailer;
use switchboard_core::config::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    switchboard_runtime::telemetry::init();
    let env = Env::process();
    let transport = OutboxMailer::new(env.optional("MAIL_OUTBOX_DIR").map(PathBuf::from));
    env.finish()?;
    switchboard_runtime::worker::run(|message| mailer::deliver(&transport, message)).await
}
