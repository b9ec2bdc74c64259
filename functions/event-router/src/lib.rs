//! `event-router`: reads the table's stream and hands each new event to the [`Router`]
//! (webhook deliveries, the workflow runs event triggers start, the auto-charges low balances
//! call for). Records are taken in order; at the first that fails, the batch reports it, and
//! Lambda retries the stream from there (earlier records are not routed twice).

use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use std::sync::Arc;

use switchboard_core::clock::Clock;
use switchboard_core::model::Event;
use switchboard_core::ports::{DeliveryQueue, Payments, WorkflowQueue};
use switchboard_domain::automation::executions::Runs;
use switchboard_store::DynamoStore;

pub use self::router::Router;

mod router;

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn router(
    store: &DynamoStore,
    queue: Arc<dyn DeliveryQueue>,
    workflow_queue: Arc<dyn WorkflowQueue>,
    payments: Arc<dyn Payments>,
) -> Router {
    Router {
        endpoints: Arc::new(store.clone()),
        deliveries: Arc::new(store.clone()),
        queue,
        wallets: Arc::new(store.clone()),
        payments,
        triggers: Arc::new(store.clone()),
        workflows: Arc::new(store.clone()),
        runs: Runs {
            executions: Arc::new(store.clone()),
            queue: workflow_queue,
        },
    }
}

/// The workspace and event of a stream record, if it is the insert of an event.
pub fn event_of(record: &EventRecord) -> anyhow::Result<Option<(String, Event)>> {
    if record.event_name != "INSERT" {
        return Ok(None);
    }
    Ok(switchboard_store::streamed_event(&record.change.new_image)?)
}

/// Routes a batch of stream records.
pub async fn route_batch(router: &Router, clock: &Clock, batch: StreamEvent) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in &batch.records {
        let routed = match event_of(record) {
            Ok(Some((workspace_id, event))) => router.route(&workspace_id, &event, clock.now()).await.map(|_| ()),
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = routed {
            let sequence = record.change.sequence_number.clone();
            tracing::error!(
                error = format!("{e:#}"),
                sequence,
                "event not routed; the stream will retry from it"
            );
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = sequence;
            response.batch_item_failures.push(failure);
            break;
        }
    }
    response
}
