//! The `weekly-reports` Lambda function (SQS; the weekly schedule starts it through the queue).

use switchboard_core::clock::Clock;
use switchboard_core::config::Env;
use switchboard_mail::MailConfig;
use switchboard_runtime::Parts;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let read = |env: &mut Env| (env.required("REPORT_QUEUE_URL"), MailConfig::read(env));
    let compose = async |parts: Parts, (queue_url, mail): (String, MailConfig)| {
        let queue = switchboard_runtime::queue(&parts.sdk, &queue_url);
        let mailer = switchboard_runtime::mail_transport(&parts.sdk, mail);
        Ok(weekly_reports::state(&parts.store, queue, mailer, Clock::System))
    };
    switchboard_runtime::sqs_function(read, compose, weekly_reports::handle).await
}
