//! Payment providers behind the `Payments` port: Stripe's REST API, and an offline provider
//! (the local default) that pays every checkout and charge at once by sending the webhook Stripe
//! would send, signed the way Stripe signs it. Either way only that webhook credits the wallet.

use std::time::Duration;

use switchboard_core::model::LedgerKind;
use switchboard_core::ports::Payment;

pub mod offline;
pub mod stripe;

/// The header Stripe signs its webhooks in: `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub const SIGNATURE_HEADER: &str = "stripe-signature";
/// How far a webhook's signed time may be from ours (Stripe's libraries use five minutes).
pub const TOLERANCE_SECS: i64 = 300;
/// How long the provider may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `header` signs `body` with `secret` within the tolerance of `now` (unix seconds).
pub fn verify(header: Option<&str>, body: &[u8], secret: &str, now: i64) -> bool {
    header.is_some_and(|h| switchboard_domain::webhooks::signature::verify_timed(h, body, secret, now, TOLERANCE_SECS))
}

/// The `Stripe-Signature` of `body` sent at `t`.
pub fn sign(body: &[u8], secret: &str, t: i64) -> String {
    switchboard_domain::webhooks::signature::headers(&[secret.to_owned()], body, t).0
}

/// What auto-charges put in a payment intent's `metadata[purpose]`, to tell them from the
/// payment intents of checkouts (which top-ups credit through their session).
pub const AUTOCHARGE_PURPOSE: &str = "autocharge";

/// What a verified webhook says: a paid top-up checkout or auto-charge, or `None` for events
/// that credit nothing (other types, unpaid sessions). `Err` when the body is not an event.
pub fn payment(body: &[u8]) -> Result<Option<Payment>, String> {
    let event: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("not a JSON event: {e}"))?;
    let object = &event["data"]["object"];
    let (kind, amount) = match event["type"].as_str() {
        Some("checkout.session.completed") if object["payment_status"] == "paid" => {
            (LedgerKind::TopUp, &object["amount_total"])
        }
        Some("payment_intent.succeeded") if object["metadata"]["purpose"] == AUTOCHARGE_PURPOSE => {
            (LedgerKind::AutoCharge, &object["amount_received"])
        }
        _ => return Ok(None),
    };
    let text = |v: &serde_json::Value, what: &str| {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("the payment has no {what}"))
    };
    Ok(Some(Payment {
        id: text(&object["id"], "id")?,
        kind,
        workspace_id: text(&object["metadata"]["workspace_id"], "metadata.workspace_id")?,
        amount_minor: amount.as_i64().filter(|a| *a > 0).ok_or("the payment has no amount")?,
        currency: text(&object["currency"], "currency")?.to_ascii_uppercase(),
        customer: object["customer"].as_str().map(str::to_owned),
    }))
}

fn client() -> reqwest::Client {
    client_builder().build().expect("an HTTP client builds")
}

fn client_builder() -> reqwest::ClientBuilder {
    switchboard_https::client(TIMEOUT).redirect(reqwest::redirect::Policy::none())
}

/// The payments of a deployment whose live provider is real: test-mode workspaces pay with the
/// offline provider, whatever the live one is, so test money never touches a real card.
pub struct ByMode {
    pub live: std::sync::Arc<dyn switchboard_core::ports::Payments>,
    pub test: std::sync::Arc<dyn switchboard_core::ports::Payments>,
}

impl ByMode {
    fn of(&self, workspace_id: &str) -> &dyn switchboard_core::ports::Payments {
        if switchboard_core::model::is_test_workspace(workspace_id) {
            self.test.as_ref()
        } else {
            self.live.as_ref()
        }
    }
}

#[async_trait::async_trait]
impl switchboard_core::ports::Payments for ByMode {
    fn provider(&self) -> &'static str {
        self.live.provider()
    }

    async fn checkout(
        &self,
        request: &switchboard_core::ports::TopUpRequest,
    ) -> Result<switchboard_core::ports::Checkout, switchboard_core::error::ProviderError> {
        self.of(&request.workspace_id).checkout(request).await
    }

    async fn charge_saved_card(
        &self,
        charge: &switchboard_core::ports::SavedCardCharge,
    ) -> Result<String, switchboard_core::error::ProviderError> {
        self.of(&charge.workspace_id).charge_saved_card(charge).await
    }
}
