//! The `event-router`: for each event the table's stream carries, a delivery for every enabled
//! endpoint of its workspace subscribed to its type, queued for the dispatcher.
//!
//! A retried stream batch routes its events again: a delivery's id is derived from its event
//! and endpoint, so the second time finds the first's delivery instead of making another, and
//! queues it again only if it was never attempted (the dispatcher skips repeats).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use ulid::Ulid;

use super::{DeliveryJob, DeliveryQueue};
use crate::ids::prefix;
use crate::model::{Delivery, DeliveryObject, DeliveryStatus, Event, WebhookEndpoint};
use crate::ports::{ListQuery, Repository, StoreError};

pub struct Router {
    pub endpoints: Arc<dyn Repository<WebhookEndpoint>>,
    pub deliveries: Arc<dyn Repository<Delivery>>,
    pub queue: Arc<dyn DeliveryQueue>,
}

/// The id of the delivery of `event_id` to `webhook_id`: the event's time, and a hash of both.
pub fn delivery_id(event_id: &str, webhook_id: &str) -> String {
    let ms = event_id
        .rsplit('_')
        .next()
        .and_then(|ulid| Ulid::from_string(ulid).ok())
        .map_or(0, |ulid| ulid.timestamp_ms());
    let digest = Sha256::digest(format!("{event_id}/{webhook_id}"));
    let mut random = [0u8; 16];
    random[6..].copy_from_slice(&digest[..10]);
    format!(
        "{}_{}",
        prefix::DELIVERY,
        Ulid::from_parts(ms, u128::from_be_bytes(random))
    )
}

/// A new delivery of `event` to `webhook_id`.
pub fn new_delivery(id: String, webhook_id: &str, event: &Event, now: DateTime<Utc>) -> Delivery {
    let at = crate::clock::api_time(now);
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

impl Router {
    /// The workspace's endpoints that want `event`.
    async fn subscribers(&self, workspace_id: &str, event: &Event) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let mut found = Vec::new();
        let mut query = ListQuery {
            limit: 100,
            ..ListQuery::default()
        };
        loop {
            let page = self.endpoints.query(workspace_id, &query).await?;
            found.extend(page.items.into_iter().map(|v| v.value).filter(|e| e.wants(event.event)));
            match page.next {
                Some(next) => query.after = Some(next),
                None => return Ok(found),
            }
        }
    }

    /// Records and queues the deliveries of one event; returns how many were queued.
    pub async fn route(&self, workspace_id: &str, event: &Event, now: DateTime<Utc>) -> anyhow::Result<usize> {
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
        Ok(jobs.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_id_is_the_same_for_the_same_event_and_endpoint() {
        let event = crate::ids::new_id(prefix::EVENT);
        let a = delivery_id(&event, "wh_1");
        assert_eq!(a, delivery_id(&event, "wh_1"));
        assert_ne!(a, delivery_id(&event, "wh_2"));
        assert!(crate::ids::is_valid(prefix::DELIVERY, &a));
        let event_ulid = Ulid::from_string(event.rsplit('_').next().unwrap()).unwrap();
        let delivery_ulid = Ulid::from_string(a.rsplit('_').next().unwrap()).unwrap();
        assert_eq!(
            delivery_ulid.timestamp_ms(),
            event_ulid.timestamp_ms(),
            "sorted by the event's time"
        );
    }
}
