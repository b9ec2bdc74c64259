//! The offline payment provider: every checkout and saved-card charge is paid at once, and the
//! provider says so the way Stripe does, by posting a signed `checkout.session.completed` or
//! `payment_intent.succeeded` event to the payment webhook. Nothing is charged anywhere; the
//! wallet is credited only by that webhook.

use async_trait::async_trait;
use chrono::Utc;
use serde_json::json;
use switchboard_core::error::ProviderError;
use switchboard_core::ports::{Checkout, Payments, SavedCardCharge, TopUpRequest};

pub struct OfflinePayments {
    client: reqwest::Client,
    webhook_url: String,
    secret: String,
}

impl OfflinePayments {
    /// Pays to `webhook_url` (the deployment's `POST /v1/billing/webhooks/payment`), signing
    /// with the payment webhook secret.
    pub fn new(webhook_url: impl Into<String>, secret: impl Into<String>) -> Self {
        // A new connection for each payment: the deployment's own API may close an idle one
        // just as it is reused (seen under `cargo lambda watch`), and payments are rare.
        let client = super::client_builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("an HTTP client builds");
        Self {
            client,
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
        let id = switchboard_core::ids::new_id_at("cs_offline", Utc::now());
        self.post(
            "checkout.session.completed",
            json!({
                "id": id,
                "object": "checkout.session",
                "amount_total": request.amount_minor,
                "currency": request.currency.to_ascii_lowercase(),
                "payment_status": "paid",
                "client_reference_id": request.workspace_id,
                // Every offline payer "saves a card", so auto-charge can be tried locally.
                "customer": format!("cus_offline_{}", request.workspace_id),
                "metadata": {"workspace_id": request.workspace_id},
            }),
        )
        .await?;
        Ok(Checkout { id, url: None })
    }

    async fn charge_saved_card(&self, charge: &SavedCardCharge) -> Result<String, ProviderError> {
        // The same key is the same payment, as Stripe's idempotency keys make it.
        let id = format!("pi_offline_{}", charge.idempotency_key);
        self.post(
            "payment_intent.succeeded",
            json!({
                "id": id,
                "object": "payment_intent",
                "amount_received": charge.amount_minor,
                "currency": charge.currency.to_ascii_lowercase(),
                "customer": charge.customer,
                "status": "succeeded",
                "metadata": {"workspace_id": charge.workspace_id, "purpose": super::AUTOCHARGE_PURPOSE},
            }),
        )
        .await?;
        Ok(id)
    }
}

impl OfflinePayments {
    /// Posts the signed event of type `kind` about `object` to the payment webhook.
    async fn post(&self, kind: &str, object: serde_json::Value) -> Result<(), ProviderError> {
        let now = Utc::now();
        let event = json!({
            "id": switchboard_core::ids::new_id_at("evt_offline", now),
            "object": "event",
            "type": kind,
            "created": now.timestamp(),
            "data": {"object": object},
        });
        let body = serde_json::to_vec(&event).map_err(|e| ProviderError::Unavailable(e.into()))?;
        let send = || {
            self.client
                .post(&self.webhook_url)
                .header("content-type", "application/json")
                .header(
                    super::SIGNATURE_HEADER,
                    super::sign(&body, &self.secret, now.timestamp()),
                )
                .body(body.clone())
                .send()
        };
        // Sent again once when no answer came: the webhook credits each payment once, however
        // often it arrives, as a provider's retries would.
        let response = match send().await {
            Ok(response) => Ok(response),
            Err(_) => send().await,
        }
        .map_err(|e| {
            let cause = std::error::Error::source(&e)
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            ProviderError::Unavailable(anyhow::anyhow!("the payment webhook did not answer: {e}{cause}"))
        })?;
        if !response.status().is_success() {
            return Err(ProviderError::Unavailable(anyhow::anyhow!(
                "the payment webhook answered {}",
                response.status()
            )));
        }
        Ok(())
    }
}
