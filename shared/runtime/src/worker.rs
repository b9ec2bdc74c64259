//! SQS-triggered workers: each message of a batch is handled on its own, and the ones that
//! fail are reported as `batchItemFailures`, so SQS retries only those and moves a message to
//! the dead-letter queue after `maxReceiveCount` attempts.

use std::future::Future;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::stream::{self, StreamExt};
use lambda_runtime::{LambdaEvent, service_fn};

/// Messages of one batch handled at once.
const CONCURRENCY: usize = 8;

/// Handles one batch, returning the ids of the messages that failed.
pub async fn process_batch<F, Fut>(event: SqsEvent, handle: &F) -> SqsBatchResponse
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let failures = stream::iter(event.records)
        .map(|message| async move {
            let id = message.message_id.clone().unwrap_or_default();
            match handle(message).await {
                Ok(()) => None,
                Err(e) => {
                    tracing::warn!(message_id = %id, error = format!("{e:#}"), "message failed; SQS will retry it");
                    Some(id)
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .filter_map(|failed| async move { failed })
        .collect::<Vec<_>>()
        .await;
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

/// Runs `handle` as a Lambda function fed by an SQS event source mapping.
pub async fn run<F, Fut>(handle: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let handle = &handle;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(process_batch(event.payload, handle).await)
    }))
    .await
}
