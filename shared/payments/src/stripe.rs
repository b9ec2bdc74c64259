//! Stripe: a top-up is a Checkout Session in `payment` mode (its card saved on a Customer for
//! later off-session charges); Stripe's `checkout.session.completed` webhook credits it. An
//! auto-charge is a PaymentIntent confirmed off-session on that card, credited by
//! `payment_intent.succeeded`.

use async_trait::async_trait;
use switchboard_core::error::ProviderError;
use switchboard_core::ports::{Checkout, Payments, SavedCardCharge, TopUpRequest};

pub const API_BASE: &str = "https://api.stripe.com";

pub struct StripePayments {
    client: reqwest::Client,
    api_base: String,
    secret_key: String,
    /// Where Stripe's page sends the payer back to when the request names no page.
    return_url: String,
}

impl StripePayments {
    pub fn new(api_base: impl Into<String>, secret_key: impl Into<String>, return_url: impl Into<String>) -> Self {
        Self {
            client: super::client(),
            api_base: api_base.into(),
            secret_key: secret_key.into(),
            return_url: return_url.into(),
        }
    }
}

#[async_trait]
impl Payments for StripePayments {
    fn provider(&self) -> &'static str {
        "stripe"
    }

    async fn checkout(&self, request: &TopUpRequest) -> Result<Checkout, ProviderError> {
        let amount = request.amount_minor.to_string();
        let currency = request.currency.to_ascii_lowercase();
        let success = request.success_url.clone().unwrap_or_else(|| self.return_url.clone());
        let cancel = request.cancel_url.clone().unwrap_or_else(|| self.return_url.clone());
        let form: [(&str, &str); 11] = [
            ("mode", "payment"),
            ("line_items[0][quantity]", "1"),
            ("line_items[0][price_data][currency]", &currency),
            ("line_items[0][price_data][unit_amount]", &amount),
            (
                "line_items[0][price_data][product_data][name]",
                "Switchboard calling credit",
            ),
            ("client_reference_id", &request.workspace_id),
            ("metadata[workspace_id]", &request.workspace_id),
            ("payment_intent_data[setup_future_usage]", "off_session"),
            ("customer_creation", "always"),
            ("success_url", &success),
            ("cancel_url", &cancel),
        ];
        let body = self
            .send(
                self.client
                    .post(format!("{}/v1/checkout/sessions", self.api_base))
                    .form(&form),
            )
            .await?;
        let id = body["id"]
            .as_str()
            .ok_or_else(|| ProviderError::Unavailable(anyhow::anyhow!("Stripe's session has no id")))?;
        Ok(Checkout {
            id: id.to_owned(),
            url: body["url"].as_str().map(str::to_owned),
        })
    }

    async fn charge_saved_card(&self, charge: &SavedCardCharge) -> Result<String, ProviderError> {
        let methods = self
            .send(self.client.get(format!(
                "{}/v1/payment_methods?{}",
                self.api_base,
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs([("customer", charge.customer.as_str()), ("type", "card"), ("limit", "1")])
                    .finish()
            )))
            .await?;
        let method = methods["data"][0]["id"]
            .as_str()
            .ok_or_else(|| ProviderError::Rejected("Stripe: the customer has no saved card".into()))?;
        let amount = charge.amount_minor.to_string();
        let currency = charge.currency.to_ascii_lowercase();
        let form = [
            ("amount", amount.as_str()),
            ("currency", &currency),
            ("customer", &charge.customer),
            ("payment_method", method),
            ("off_session", "true"),
            ("confirm", "true"),
            ("description", "Switchboard auto-charge"),
            ("metadata[workspace_id]", &charge.workspace_id),
            ("metadata[purpose]", super::AUTOCHARGE_PURPOSE),
        ];
        let intent = self
            .send(
                self.client
                    .post(format!("{}/v1/payment_intents", self.api_base))
                    .header("idempotency-key", &charge.idempotency_key)
                    .form(&form),
            )
            .await?;
        intent["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ProviderError::Unavailable(anyhow::anyhow!("Stripe's payment intent has no id")))
    }
}

impl StripePayments {
    /// Sends `request` with the secret key; Stripe's answer, its refusals (4xx, a declined card
    /// among them) as `Rejected` with Stripe's message.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<serde_json::Value, ProviderError> {
        let response = request
            .bearer_auth(&self.secret_key)
            .send()
            .await
            .map_err(|e| ProviderError::Unavailable(anyhow::anyhow!("Stripe did not answer: {e}")))?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        if status.is_client_error() {
            let message = body["error"]["message"].as_str().unwrap_or("the request was refused");
            return Err(ProviderError::Rejected(format!("Stripe: {message}")));
        }
        if !status.is_success() {
            return Err(ProviderError::Unavailable(anyhow::anyhow!("Stripe answered {status}")));
        }
        Ok(body)
    }
}
