//! The `mailer` Lambda function (SQS).

use std::path::PathBuf;

use switchboard::config::Env;
use switchboard::mail::OutboxMailer;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    switchboard::telemetry::init();
    let env = Env::process();
    let transport = OutboxMailer::new(env.optional("MAIL_OUTBOX_DIR").map(PathBuf::from));
    env.finish()?;
    switchboard::worker::run(|message| mailer::deliver(&transport, message)).await
}
