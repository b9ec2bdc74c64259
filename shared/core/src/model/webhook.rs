//! Webhook endpoints (where events are delivered) and their deliveries.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::event::EventType;
use crate::object_name;

object_name!(WebhookEndpointObject, "webhook_endpoint");
object_name!(DeliveryObject, "webhook_delivery");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookStatus {
    Enabled,
    Disabled,
}

/// A signing secret as stored: encrypted with the deployment's webhook key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSecret {
    /// base64 of nonce ‖ ciphertext (AES-256-GCM).
    pub sealed: String,
    /// A rotated-out secret signs beside the new one until then.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A webhook endpoint as stored. The API shows it as [`WebhookEndpointView`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub object: WebhookEndpointObject,
    pub url: String,
    pub events: Vec<EventType>,
    pub description: Option<String>,
    pub status: WebhookStatus,
    /// The first characters of the newest secret, to tell secrets apart.
    pub secret_hint: String,
    /// Newest first.
    pub secrets: Vec<SealedSecret>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A webhook endpoint, as the API shows it: never its secrets.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookEndpointView {
    #[schema(example = "wh_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: WebhookEndpointObject,
    #[schema(example = "https://example.com/switchboard/events")]
    pub url: String,
    pub events: Vec<EventType>,
    pub description: Option<String>,
    pub status: WebhookStatus,
    #[schema(example = "whsec_aB3x")]
    pub secret_hint: String,
    /// When a rotated-out secret stops signing, during a rotation.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// The signing secret: only in the answers to creating the endpoint and rotating its secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl WebhookEndpoint {
    /// The secrets that sign at `now`, newest first.
    pub fn live_secrets(&self, now: DateTime<Utc>) -> impl Iterator<Item = &SealedSecret> {
        self.secrets
            .iter()
            .filter(move |s| s.expires_at.is_none_or(|at| at > now))
    }

    pub fn view(&self, now: DateTime<Utc>) -> WebhookEndpointView {
        WebhookEndpointView {
            id: self.id.clone(),
            object: WebhookEndpointObject,
            url: self.url.clone(),
            events: self.events.clone(),
            description: self.description.clone(),
            status: self.status,
            secret_hint: self.secret_hint.clone(),
            previous_secret_expires_at: self.live_secrets(now).filter_map(|s| s.expires_at).max(),
            secret: None,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    pub fn wants(&self, event: EventType) -> bool {
        self.status == WebhookStatus::Enabled && self.events.contains(&event)
    }
}

resource!(WebhookEndpoint, WEBHOOK, WebhookNotFound);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not delivered yet; `next_retry_at` says when the next attempt is due.
    Pending,
    Succeeded,
    /// Every attempt failed; redeliver it to try again.
    Failed,
}

/// One try to deliver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    /// The receiver's status code; none when it could not be reached or timed out.
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
    /// When the next attempt is due after this one failed; none when it succeeded or was the last.
    pub next_retry_at: Option<DateTime<Utc>>,
}

/// An event on its way to one endpoint, with every attempt.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    #[schema(example = "dlv_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: DeliveryObject,
    pub webhook_id: String,
    pub event_id: String,
    pub event: EventType,
    pub status: DeliveryStatus,
    pub attempts: Vec<Attempt>,
    /// Attempts since the delivery was last started or redelivered: the retry schedule counts
    /// from there.
    #[serde(default)]
    pub round_attempts: u32,
    pub next_retry_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How long deliveries stay in the log.
pub const DELIVERY_RETENTION_DAYS: i64 = 30;

resource!(Delivery, DELIVERY, DeliveryNotFound);
