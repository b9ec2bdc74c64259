//! Payment providers behind the `Payments` port: Stripe's REST API, and an offline provider
//! (the local default) that pays every checkout at once by sending the webhook Stripe would
//! send, signed the way Stripe signs it. Either way only that webhook credits the wallet.

use std::time::Duration;

use switchboard_core::ports::PaidCheckout;

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

/// What a verified webhook says: a paid checkout, or `None` for events that credit nothing
/// (other types, unpaid sessions). `Err` when the body is not an event at all.
pub fn paid_checkout(body: &[u8]) -> Result<Option<PaidCheckout>, String> {
    let event: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("not a JSON event: {e}"))?;
    if event["type"] != "checkout.session.completed" {
        return Ok(None);
    }
    let session = &event["data"]["object"];
    if session["payment_status"] != "paid" {
        return Ok(None);
    }
    let text = |v: &serde_json::Value, what: &str| {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("the checkout session has no {what}"))
    };
    Ok(Some(PaidCheckout {
        id: text(&session["id"], "id")?,
        workspace_id: text(&session["metadata"]["workspace_id"], "metadata.workspace_id")?,
        amount_minor: session["amount_total"]
            .as_i64()
            .filter(|a| *a > 0)
            .ok_or("the checkout session has no amount_total")?,
        currency: text(&session["currency"], "currency")?.to_ascii_uppercase(),
    }))
}

fn client() -> reqwest::Client {
    // reqwest takes the process's rustls provider: ring, as the AWS SDK's client uses.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client builds")
}
