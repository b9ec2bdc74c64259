//! The `webhook-dispatcher`: takes a delivery from the queue, signs the event with the
//! endpoint's live secrets, POSTs it (10 s at most, no redirects), records the attempt, and
//! queues the next attempt on the retry schedule — chaining messages when the wait is longer
//! than SQS's 15 minutes — until the delivery succeeds or has failed for good.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::secrets::SecretBox;
use super::{DeliveryJob, DeliveryQueue, RetrySchedule, guard, signature};
use crate::clock::Clock;
use crate::config::DeploymentMode;
use crate::model::{Attempt, Delivery, DeliveryStatus, Event, WebhookEndpoint};
use crate::ports::{EventStore, Repository, StoreError, Versioned};
use crate::queue::MAX_DELAY;

/// How long a receiver may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a receiver's answer is kept as the attempt's error.
const ERROR_EXCERPT: usize = 200;

/// The HTTP client deliveries go out with: no redirects, a 10 s timeout, and in production a
/// resolver that only hands out public addresses.
pub fn http_client(mode: DeploymentMode) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Switchboard-Webhooks/", env!("CARGO_PKG_VERSION")));
    let builder = match mode {
        DeploymentMode::Production => builder.dns_resolver(Arc::new(guard::PublicResolver)),
        DeploymentMode::Local => builder,
    };
    builder.build().expect("an HTTP client builds")
}

pub struct Dispatcher {
    pub endpoints: Arc<dyn Repository<WebhookEndpoint>>,
    pub deliveries: Arc<dyn Repository<Delivery>>,
    pub events: Arc<dyn EventStore>,
    pub queue: Arc<dyn DeliveryQueue>,
    pub secrets: SecretBox,
    pub http: reqwest::Client,
    pub mode: DeploymentMode,
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
            at: crate::clock::api_time(now),
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
        let at = crate::clock::api_time(now);
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
        let started = Instant::now();
        let sent = async {
            // Checked again at delivery time: the URL was checked when saved, the rules may have
            // tightened since (a URL saved in local mode).
            let url = guard::check_url(&endpoint.url, self.mode).map_err(|e| e.to_string())?;
            self.http
                .post(url)
                .header("content-type", "application/json")
                .header("switchboard-signature", timed)
                .header("x-switchboard-signature", simple)
                .header("switchboard-event", event_name(event))
                .header("switchboard-delivery-id", delivery_id)
                .body(body)
                .send()
                .await
                .map_err(describe)
        }
        .await;
        let latency_ms = started.elapsed().as_millis() as u64;
        match sent {
            Ok(response) if response.status().is_success() => Attempt {
                at,
                status_code: Some(response.status().as_u16()),
                latency_ms,
                error: None,
                next_retry_at: None,
            },
            Ok(response) => {
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                let excerpt: String = text.chars().take(ERROR_EXCERPT).collect();
                Attempt {
                    at,
                    status_code: Some(status),
                    latency_ms,
                    error: Some(format!("the receiver answered {status}: {excerpt}")),
                    next_retry_at: None,
                }
            }
            Err(error) => Attempt {
                at,
                status_code: None,
                latency_ms,
                error: Some(error),
                next_retry_at: None,
            },
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
            .map(|wait| crate::clock::api_time(now) + chrono::Duration::from_std(wait).unwrap_or_default());
        attempt.next_retry_at = due;
        next.next_retry_at = due;
        next.attempts.push(attempt);
        next.updated_at = crate::clock::api_time(now);
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

/// A failed request in a few words, without internals.
fn describe(error: reqwest::Error) -> String {
    if error.is_timeout() {
        format!("the receiver did not answer within {} s", TIMEOUT.as_secs())
    } else if error.is_connect() {
        let cause = std::error::Error::source(&error)
            .map(|s| s.to_string())
            .unwrap_or_default();
        format!("could not connect: {cause}")
    } else {
        format!("the request failed: {error}")
    }
}
