//! The offline payment provider: every checkout is paid at once, and the provider says so the
//! way Stripe does, by posting a signed `checkout.session.completed` event to the payment
//! webhook. Nothing is charged anywhere; the wallet is credited only by that webhook.

use async_trait::async_trait;
use chrono::Utc;
use serde_json::json;
use switchboard_core::error::ProviderError;
use switchboard_core::ports::{Checkout, Payments, TopUpRequest};

pub struct OfflinePayments {
    client: reqwest::Client,
    webhook_url: String,
    secret: String,
}

impl OfflinePayments {
    /// Pays to `webhook_url` (the deployment's `POST /v1/billing/webhooks/payment`), signing
    /// with the payment webhook secret.
    pub fn new(webhook_url: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            client: super::client(),
            webhook_url: webhook_url.into(),
            secret: secret.into(),
        }
    }
}

#[async_trait]
impl Payments for OfflinePayments {
    fn provider(&self) -> &'static str {
        "offline"
    }

    async fn checkout(&self, request: &TopUpRequest) -> Result<Checkout, ProviderError> {
        let now = Utc::now();
        let id = switchboard_core::ids::new_id_at("cs_offline", now);
        let event = json!({
            "id": switchboard_core::ids::new_id_at("evt_offline", now),
            "object": "event",
            "type": "checkout.session.completed",
            "created": now.timestamp(),
            "data": {"object": {
                "id": id,
                "object": "checkout.session",
                "amount_total": request.amount_minor,
                "currency": request.currency.to_ascii_lowercase(),
                "payment_status": "paid",
                "client_reference_id": request.workspace_id,
                "metadata": {"workspace_id": request.workspace_id},
            }},
        });
        let body = serde_json::to_vec(&event).map_err(|e| ProviderError::Unavailable(e.into()))?;
        let response = self
            .client
            .post(&self.webhook_url)
            .header("content-type", "application/json")
            .header(
                super::SIGNATURE_HEADER,
                super::sign(&body, &self.secret, now.timestamp()),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| ProviderError::Unavailable(anyhow::anyhow!("the payment webhook did not answer: {e}")))?;
        if !response.status().is_success() {
            return Err(ProviderError::Unavailable(anyhow::anyhow!(
                "the payment webhook answered {}",
                response.status()
            )));
        }
        Ok(Checkout { id, url: None })
    }
}
