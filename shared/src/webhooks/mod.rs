//! Webhooks: endpoints' signing secrets, the signatures of deliveries, where we refuse to
//! deliver (SSRF), and the two workers that get every event to every endpoint that wants it.
//!
//! Events are items the table writes in the transaction of the change they record. A DynamoDB
//! Stream of the table feeds the `event-router`, which records a delivery per subscribed
//! endpoint and queues it; the `webhook-dispatcher` takes the queue, signs and sends, and
//! schedules retries. Nothing sits between the change and its event that could die and lose
//! it: the stream holds every insert for 24 hours and retries the router until it succeeds.

pub mod dispatch;
pub mod guard;
pub mod router;
pub mod secrets;
pub mod signature;

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A delivery to attempt, carried by the webhook queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryJob {
    pub workspace_id: String,
    pub delivery_id: String,
    /// Not before this time (unix seconds): a wait longer than SQS's 15-minute delay is
    /// chained through several messages.
    #[serde(default)]
    pub not_before: i64,
}

/// Queues deliveries.
#[async_trait::async_trait]
pub trait DeliveryQueue: Send + Sync {
    async fn enqueue(&self, jobs: &[DeliveryJob], delay: Duration) -> anyhow::Result<()>;
}

#[async_trait::async_trait]
impl DeliveryQueue for crate::queue::SqsQueue {
    async fn enqueue(&self, jobs: &[DeliveryJob], delay: Duration) -> anyhow::Result<()> {
        self.send(jobs, delay).await
    }
}

/// When failed attempts are tried again: after the first attempt fails, `delays[0]`, and so on;
/// after the last, the delivery has failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(pub Vec<Duration>);

impl Default for RetrySchedule {
    /// 30 s, 5 min, 30 min, 2 h.
    fn default() -> Self {
        Self([30, 300, 1800, 7200].map(Duration::from_secs).to_vec())
    }
}

impl std::str::FromStr for RetrySchedule {
    type Err = String;

    /// Seconds, comma-separated: `30,300,1800,7200`.
    fn from_str(s: &str) -> Result<Self, String> {
        s.split(',')
            .map(|part| part.trim().parse::<u64>().map(Duration::from_secs))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
            .map_err(|_| "expected seconds separated by commas, e.g. 30,300,1800,7200".to_owned())
    }
}
