//! `payment-webhooks`: the payment provider's webhook (`POST /v1/billing/webhooks/payment`),
//! the only path that credits a wallet. Its own function, so that the offline provider, which
//! `billing` calls during a top-up, can post to it while `billing` waits for the answer; and so
//! that the public, signature-checked path shares no code with credentialed routes.

use std::sync::Arc;

use http::Method;
use serde::Serialize;
use serde_json::json;
use switchboard_core::ErrorCode;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{CURRENCY, Event, EventType, LedgerKind, is_workspace_id};
use switchboard_core::object_name;
use switchboard_core::ports::{Credit, Wallets};
use switchboard_http::{Access, ApiError, Platform, Reply, Request, Route, Service};
use switchboard_store::DynamoStore;
use utoipa::ToSchema;

pub struct State {
    pub wallets: Arc<dyn Wallets>,
    /// What the provider signs its webhooks with.
    pub secret: String,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn service(platform: Arc<Platform>, store: &DynamoStore, secret: String) -> Service<State> {
    let state = State {
        wallets: Arc::new(store.clone()),
        secret,
    };
    Service::new(platform, state, routes())
}

pub const PATH: &str = "/v1/billing/webhooks/payment";

object_name!(PaymentReceiptObject, "payment_webhook_receipt");

/// What the provider is told: received, and whether this delivery credited a wallet.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentReceipt {
    pub object: PaymentReceiptObject,
    /// False for events that credit nothing, and for payments credited before.
    pub credited: bool,
}

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::POST, PATH, receive)
            .access(Access::Public)
            .doc("Billing", "paymentWebhook", "Payment provider webhook")
            .describe(
                "The payment provider reports paid checkouts and auto-charges here (Stripe's `checkout.session.completed` \
                 and `payment_intent.succeeded`), signed with \\
                 `Stripe-Signature: t=<unix>,v1=<HMAC-SHA256>` over `<t>.<body>`; a missing, wrong or older than five \\
                 minutes signature is refused (400 `invalid_payment_signature`). Each payment credits the wallet once, \\
                 however often it is delivered. The body is the provider's event (a paid Checkout Session names the \
                 workspace in `metadata.workspace_id`). Not for API clients.",
            )
            .returns::<PaymentReceipt>(200, "Received."),
    ]
}

async fn receive(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let signature = req.header(switchboard_payments::SIGNATURE_HEADER);
    if !switchboard_payments::verify(signature, &req.body, &state.secret, req.now.timestamp()) {
        return Err(ApiError::of(ErrorCode::InvalidPaymentSignature));
    }
    let paid = switchboard_payments::payment(&req.body).map_err(|why| ApiError::new(ErrorCode::InvalidJson, why))?;
    let receipt = |credited| {
        Reply::ok(&PaymentReceipt {
            object: PaymentReceiptObject,
            credited,
        })
    };
    let Some(paid) = paid else {
        return Ok(receipt(false));
    };
    if paid.currency != CURRENCY {
        return Err(ApiError::validation("currency", format!("Wallets are in {CURRENCY}.")));
    }
    let ws = paid.workspace_id.as_str();
    if !is_workspace_id(ws) || state.wallets.wallet(ws, req.now).await?.is_none() {
        // A payment for no workspace of ours (a provider's test event): acknowledged, so it is
        // not sent again, and logged.
        tracing::warn!(payment_id = paid.id, "a payment names no workspace of this deployment");
        return Ok(receipt(false));
    }
    let credit = Credit {
        kind: paid.kind,
        amount_minor: paid.amount_minor,
        entry_id: ids::new_id_at(prefix::LEDGER_ENTRY, req.now),
        description: match paid.kind {
            LedgerKind::AutoCharge => "Auto-charge",
            _ => "Top-up",
        }
        .into(),
        payment_id: paid.id.clone(),
        customer: paid.customer,
        at: req.now,
    };
    let mut data = json!({"object": "topup", "kind": paid.kind.as_str(), "payment_id": paid.id,
                          "amount_minor": paid.amount_minor, "currency": paid.currency,
                          "ledger_entry_id": credit.entry_id});
    if paid.kind == LedgerKind::TopUp {
        data["checkout_id"] = json!(paid.id);
    }
    let event = Event::new(EventType::BillingTopupSucceeded, req.now, data);
    let credited = state.wallets.credit(ws, &credit, &[event]).await?;
    Ok(receipt(credited))
}
