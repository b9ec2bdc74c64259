//! Routing an event: a delivery for every enabled endpoint of its workspace subscribed to its
//! type, queued for the dispatcher; a run of every live workflow whose event trigger wants it;
//! and for `billing.low_balance`, the auto-charge it calls for.
//!
//! A retried stream batch routes its events again: a delivery's id is derived from its event
//! and endpoint, so the second time finds the first's delivery instead of making another, and
//! queues it again only if it was never attempted (the dispatcher skips repeats).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use switchboard_core::StoreError;
use switchboard_core::error::ProviderError;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{
    Delivery, Event, EventType, StoredTrigger, TriggerType, WebhookEndpoint, Workflow, WorkflowStatus,
};
use switchboard_core::ports::{
    DeliveryJob, DeliveryQueue, ListBy, ListQuery, Payments, Repository, SavedCardCharge, Wallets,
};
use switchboard_domain::automation::executions::{self, Runs};
use switchboard_domain::webhooks::delivery::{delivery_id, new_delivery};

pub struct Router {
    pub endpoints: Arc<dyn Repository<WebhookEndpoint>>,
    pub deliveries: Arc<dyn Repository<Delivery>>,
    pub queue: Arc<dyn DeliveryQueue>,
    pub wallets: Arc<dyn Wallets>,
    pub payments: Arc<dyn Payments>,
    pub triggers: Arc<dyn Repository<StoredTrigger>>,
    pub workflows: Arc<dyn Repository<Workflow>>,
    pub runs: Runs,
}

impl Router {
    /// Starts the charge of the saved card a low balance calls for, when auto-charge is on. The
    /// event's id is the provider's idempotency key: a batch routed twice starts one charge.
    /// A refused charge (a declined card) is logged and not retried: the next crossing tries
    /// again; an unreachable provider fails the record, which the stream retries.
    async fn auto_charge(&self, workspace_id: &str, event: &Event, now: DateTime<Utc>) -> anyhow::Result<()> {
        if event.event != EventType::BillingLowBalance {
            return Ok(());
        }
        let Some(wallet) = self.wallets.wallet(workspace_id, now).await? else {
            return Ok(());
        };
        let (true, Some(customer)) = (wallet.autocharge.enabled, wallet.payment_customer) else {
            return Ok(());
        };
        let charge = SavedCardCharge {
            workspace_id: workspace_id.to_owned(),
            customer,
            amount_minor: wallet.autocharge.amount_minor,
            currency: wallet.autocharge.currency,
            idempotency_key: event.id.clone(),
        };
        match self.payments.charge_saved_card(&charge).await {
            Ok(payment_id) => {
                tracing::info!(
                    workspace_id,
                    payment_id,
                    amount_minor = charge.amount_minor,
                    "auto-charge started"
                );
                Ok(())
            }
            Err(ProviderError::Rejected(why) | ProviderError::Unauthorized(why)) => {
                tracing::warn!(workspace_id, why, "the auto-charge was refused");
                Ok(())
            }
            Err(ProviderError::Unavailable(e)) => Err(e),
        }
    }

    /// The workspace's endpoints that want `event`.
    async fn subscribers(&self, workspace_id: &str, event: &Event) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let query = ListQuery {
            limit: 100,
            ..ListQuery::default()
        };
        let endpoints = self.endpoints.query_all(workspace_id, query).await?;
        Ok(endpoints
            .into_iter()
            .map(|v| v.value)
            .filter(|e| e.wants(event.event))
            .collect())
    }

    /// Starts a run of each live workflow whose enabled event trigger wants `event`. A run's id
    /// derives from the event and the trigger, so a batch routed twice finds the first's run.
    /// Runs never start runs: `workflow.execution.finished` triggers nothing, and the calls
    /// runs place start runs only so many generations deep (`MAX_CHAIN`).
    async fn start_runs(&self, workspace_id: &str, event: &Event, now: DateTime<Utc>) -> anyhow::Result<usize> {
        if event.event == EventType::WorkflowExecutionFinished {
            return Ok(0);
        }
        // A call at the end of a chain of runs, each started by a call the one before placed.
        if executions::chain_of(&event.data) >= executions::MAX_CHAIN {
            tracing::warn!(event_id = %event.id, "a chain of workflow runs reached its longest: this event starts none");
            return Ok(0);
        }
        let query = ListQuery {
            by: ListBy::TriggerEvent(event.event),
            limit: 100,
            ..ListQuery::default()
        };
        let mut started = 0;
        for trigger in self.triggers.query_all(workspace_id, query).await? {
            let trigger = trigger.value;
            if !trigger.enabled || !trigger.matches(&event.data) {
                continue;
            }
            let Some(workflow) = self.workflows.get(workspace_id, &trigger.workflow_id).await? else {
                continue;
            };
            if workflow.value.status != WorkflowStatus::Live {
                continue;
            }
            let input = json!({"type": "event", "event": event.event, "event_id": event.id,
                               "trigger_id": trigger.id, "data": event.data});
            let id = ids::derived(prefix::EXECUTION, &event.id, &trigger.id);
            self.runs
                .start(workspace_id, &workflow.value, TriggerType::Event, input, Some(id), now)
                .await?;
            started += 1;
        }
        Ok(started)
    }

    /// Records and queues the deliveries of one event (after the auto-charge it may call for);
    /// returns how many were queued.
    pub async fn route(&self, workspace_id: &str, event: &Event, now: DateTime<Utc>) -> anyhow::Result<usize> {
        self.auto_charge(workspace_id, event, now).await?;
        let mut jobs = Vec::new();
        for endpoint in self.subscribers(workspace_id, event).await? {
            let id = delivery_id(&event.id, &endpoint.id);
            let delivery = new_delivery(id.clone(), &endpoint.id, event, now);
            let queue = match self.deliveries.insert(workspace_id, &delivery, None, &[]).await {
                Ok(_) => true,
                Err(StoreError::AlreadyExists) => self
                    .deliveries
                    .get(workspace_id, &id)
                    .await?
                    .is_some_and(|d| d.value.attempts.is_empty()),
                Err(e) => return Err(e.into()),
            };
            if queue {
                jobs.push(DeliveryJob {
                    workspace_id: workspace_id.to_owned(),
                    delivery_id: id,
                    not_before: 0,
                });
            }
        }
        self.queue.enqueue(&jobs, Duration::ZERO).await?;
        self.start_runs(workspace_id, event, now).await?;
        Ok(jobs.len())
    }
}
