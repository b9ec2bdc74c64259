//! The `mailer` Lambda function (SQS).

use std::path::PathBuf;

use switchboard::mail::OutboxMailer;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    switchboard::telemetry::init();
    let outbox = std::env::var_os("MAIL_OUTBOX_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from);
    let transport = OutboxMailer::new(outbox);
    switchboard::worker::run(|message| mailer::deliver(&transport, message)).await
}
