//! Delivering an event: take a delivery from the queue, sign the event with the endpoint's
//! live secrets, POST it through the transport, record the attempt, and queue the next attempt
//! on the retry schedule — chaining messages when the wait is longer than a queue's delay —
//! until the delivery succeeds or has failed for good.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use switchboard_core::StoreError;
use switchboard_core::clock::Clock;
use switchboard_core::ids::prefix;
use switchboard_core::model::{Attempt, Delivery, DeliveryObject, DeliveryStatus, Event, WebhookEndpoint};
use switchboard_core::ports::{
    DeliveryJob, DeliveryQueue, EventStore, MAX_DELAY, Repository, Versioned, WebhookTransport,
};

use super::secrets::SecretBox;
use super::{RetrySchedule, signature};

/// The id of the delivery of `event_id` to `webhook_id`: the event's time, and a hash of both.
pub fn delivery_id(event_id: &str, webhook_id: &str) -> String {
    switchboard_core::ids::derived(prefix::DELIVERY, event_id, webhook_id)
}

/// A new delivery of `event` to `webhook_id`.
pub fn new_delivery(id: String, webhook_id: &str, event: &Event, now: DateTime<Utc>) -> Delivery {
    let at = switchboard_core::clock::api_time(now);
    Delivery {
        id,
        object: DeliveryObject,
        webhook_id: webhook_id.to_owned(),
        event_id: event.id.clone(),
        event: event.event,
        status: DeliveryStatus::Pending,
        attempts: Vec::new(),
        round_attempts: 0,
        next_retry_at: None,
        created_at: at,
        updated_at: at,
    }
}

pub struct Dispatcher {
    pub endpoints: Arc<dyn Repository<WebhookEndpoint>>,
    pub deliveries: Arc<dyn Repository<Delivery>>,
    pub events: Arc<dyn EventStore>,
    pub queue: Arc<dyn DeliveryQueue>,
    pub secrets: SecretBox,
    pub transport: Arc<dyn WebhookTransport>,
    pub schedule: RetrySchedule,
    pub clock: Clock,
}

/// What `run` did with a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Too early: queued again for later.
    Waiting,
    /// Nothing to do: delivered, failed or gone already (a repeated message).
    Skipped,
    Attempted(DeliveryStatus),
}

impl Dispatcher {
    /// Does one job of the webhook queue.
    pub async fn run(&self, job: &DeliveryJob) -> anyhow::Result<Outcome> {
        let now = self.clock.now();
        let wait = job.not_before - now.timestamp();
        if wait > 0 {
            self.queue
                .enqueue(
                    std::slice::from_ref(job),
                    Duration::from_secs(wait as u64).min(MAX_DELAY),
                )
                .await?;
            return Ok(Outcome::Waiting);
        }
        let ws = job.workspace_id.as_str();
        for _ in 0..5 {
            let Some(current) = self.deliveries.get(ws, &job.delivery_id).await? else {
                return Ok(Outcome::Skipped);
            };
            if current.value.status != DeliveryStatus::Pending {
                return Ok(Outcome::Skipped);
            }
            let attempt = self.attempt(ws, &current.value, now).await?;
            match self.record(ws, &current, attempt, now).await {
                Ok(status) => return Ok(Outcome::Attempted(status)),
                // Another copy of this job got in first: look again.
                Err(StoreError::VersionMismatch) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        anyhow::bail!("delivery {} kept changing under its job", job.delivery_id)
    }

    /// Sends the delivery's event to its endpoint once.
    async fn attempt(&self, ws: &str, delivery: &Delivery, now: DateTime<Utc>) -> anyhow::Result<Attempt> {
        let failed = |error: &str| Attempt {
            at: switchboard_core::clock::api_time(now),
            status_code: None,
            latency_ms: 0,
            error: Some(error.to_owned()),
            next_retry_at: None,
        };
        let Some(endpoint) = self.endpoints.get(ws, &delivery.webhook_id).await? else {
            return Ok(failed("the endpoint was deleted"));
        };
        let Some(event) = self.events.event(ws, &delivery.event_id).await? else {
            return Ok(failed("the event is no longer kept"));
        };
        Ok(self.send(&endpoint.value, &event, &delivery.id, now).await)
    }

    /// POSTs `event` to `endpoint`, signed; the attempt as it went.
    pub async fn send(
        &self,
        endpoint: &WebhookEndpoint,
        event: &Event,
        delivery_id: &str,
        now: DateTime<Utc>,
    ) -> Attempt {
        let at = switchboard_core::clock::api_time(now);
        let body = serde_json::to_vec(event).expect("events serialise");
        let secrets: anyhow::Result<Vec<String>> = endpoint
            .live_secrets(now)
            .map(|s| self.secrets.open(&s.sealed))
            .collect();
        let secrets = match secrets {
            Ok(secrets) => secrets,
            Err(e) => {
                tracing::error!(error = %e, webhook_id = endpoint.id, "an endpoint's secret does not open");
                return Attempt {
                    at,
                    status_code: None,
                    latency_ms: 0,
                    error: Some("the endpoint's signing secret could not be read".into()),
                    next_retry_at: None,
                };
            }
        };
        let (timed, simple) = signature::headers(&secrets, &body, now.timestamp());
        let headers = [
            ("content-type", "application/json".to_owned()),
            ("switchboard-signature", timed),
            ("x-switchboard-signature", simple),
            ("switchboard-event", event_name(event)),
            ("switchboard-delivery-id", delivery_id.to_owned()),
        ];
        let started = Instant::now();
        let sent = self.transport.post(&endpoint.url, &headers, body).await;
        let latency_ms = started.elapsed().as_millis() as u64;
        let (status_code, error) = match sent {
            Ok(receipt) if (200..300).contains(&receipt.status) => (Some(receipt.status), None),
            Ok(receipt) => (
                Some(receipt.status),
                Some(format!(
                    "the receiver answered {}: {}",
                    receipt.status, receipt.body_excerpt
                )),
            ),
            Err(error) => (None, Some(error)),
        };
        Attempt {
            at,
            status_code,
            latency_ms,
            error,
            next_retry_at: None,
        }
    }

    /// Writes the attempt and what follows from it; queues the next attempt when one is due.
    async fn record(
        &self,
        ws: &str,
        current: &Versioned<Delivery>,
        mut attempt: Attempt,
        now: DateTime<Utc>,
    ) -> Result<DeliveryStatus, StoreError> {
        let mut next = current.value.clone();
        next.round_attempts += 1;
        let retry_in = self.schedule.0.get(next.round_attempts as usize - 1).copied();
        next.status = match (attempt.error.is_none(), retry_in) {
            (true, _) => DeliveryStatus::Succeeded,
            (false, Some(_)) => DeliveryStatus::Pending,
            (false, None) => DeliveryStatus::Failed,
        };
        let due = retry_in
            .filter(|_| next.status == DeliveryStatus::Pending)
            .map(|wait| switchboard_core::clock::api_time(now) + chrono::Duration::from_std(wait).unwrap_or_default());
        attempt.next_retry_at = due;
        next.next_retry_at = due;
        next.attempts.push(attempt);
        next.updated_at = switchboard_core::clock::api_time(now);
        self.deliveries.update(ws, current, &next, &[]).await?;
        if let (Some(due), Some(wait)) = (due, retry_in) {
            let job = DeliveryJob {
                workspace_id: ws.to_owned(),
                delivery_id: next.id.clone(),
                not_before: due.timestamp(),
            };
            self.queue
                .enqueue(&[job], wait.min(MAX_DELAY))
                .await
                .map_err(StoreError::Other)?;
        }
        Ok(next.status)
    }
}

/// The event type's name, as in the body (`call.ended`).
pub fn event_name(event: &Event) -> String {
    serde_json::to_value(event.event)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ulid::Ulid;

    #[test]
    fn a_delivery_id_is_the_same_for_the_same_event_and_endpoint() {
        let event = switchboard_core::ids::new_id(prefix::EVENT);
        let a = delivery_id(&event, "wh_1");
        assert_eq!(a, delivery_id(&event, "wh_1"));
        assert_ne!(a, delivery_id(&event, "wh_2"));
        assert!(switchboard_core::ids::is_valid(prefix::DELIVERY, &a));
        let event_ulid = Ulid::from_string(event.rsplit('_').next().unwrap()).unwrap();
        let delivery_ulid = Ulid::from_string(a.rsplit('_').next().unwrap()).unwrap();
        assert_eq!(
            delivery_ulid.timestamp_ms(),
            event_ulid.timestamp_ms(),
            "sorted by the event's time"
        );
    }
}
