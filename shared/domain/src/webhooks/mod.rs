//! Webhooks: endpoints' signing secrets, the signatures of deliveries, where we refuse to
//! deliver (SSRF), and delivery itself: one attempt, its record, the retries on the schedule.
//!
//! Events are items the table writes in the transaction of the change they record. A DynamoDB
//! Stream of the table feeds the `event-router`, which records a delivery per subscribed
//! endpoint and queues it; the `webhook-dispatcher` takes the queue and delivers. Nothing sits
//! between the change and its event that could die and lose it: the stream holds every insert
//! for 24 hours and retries the router until it succeeds.

pub mod delivery;
pub mod guard;
pub mod secrets;
pub mod signature;

use std::time::Duration;

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
