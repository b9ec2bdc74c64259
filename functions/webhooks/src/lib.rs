//! `webhooks`: the endpoints events are delivered to (`/v1/webhooks`), their signing secrets,
//! their delivery logs, test deliveries and redeliveries.

use std::sync::Arc;

use chrono::Duration;
use http::Method;
use serde::Deserialize;
use serde_json::json;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{
    Delivery, DeliveryStatus, Event, EventType, MAX_WEBHOOK_ENDPOINTS, Scope, SealedSecret, WebhookEndpoint,
    WebhookEndpointObject, WebhookEndpointView, WebhookStatus,
};
use switchboard_core::ports::{DeliveryJob, ListBy, ListQuery, Quota, Repository};
use switchboard_core::{ErrorCode, validate};
use switchboard_domain::webhooks::delivery::{self, Dispatcher};
use switchboard_domain::webhooks::secrets;
use switchboard_http::crud::{self, Deleted};
use switchboard_http::{Access, ApiError, Platform, QueryParam, Reply, Request, Route, Service, set};
use switchboard_store::DynamoStore;
use utoipa::ToSchema;

pub struct State {
    pub endpoints: Arc<dyn Repository<WebhookEndpoint>>,
    pub deliveries: Arc<dyn Repository<Delivery>>,
    /// Sends test deliveries, seals secrets, queues redeliveries.
    pub dispatcher: Dispatcher,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn service(platform: Arc<Platform>, store: &DynamoStore, dispatcher: Dispatcher) -> Service<State> {
    let state = State {
        endpoints: Arc::new(store.clone()),
        deliveries: Arc::new(store.clone()),
        dispatcher,
    };
    Service::new(platform, state, routes())
}

const TAG: &str = "Webhooks";
/// How long a rotated-out secret keeps signing beside the new one.
const ROTATION_OVERLAP: Duration = Duration::hours(24);

fn quota() -> Quota {
    Quota {
        counter: "webhook_count",
        max: MAX_WEBHOOK_ENDPOINTS,
    }
}

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/webhooks", list)
            .doc(TAG, "listWebhooks", "List webhook endpoints")
            .returns_list::<WebhookEndpointView>("A page of endpoints, newest first."),
        Route::new(Method::POST, "/v1/webhooks", create)
            .doc(TAG, "createWebhook", "Create a webhook endpoint")
            .describe(
                "Events of the types in `events` are POSTed to `url` (https; in production it must resolve to a public address). \
                 Each delivery is signed with the endpoint's secret, answered only here, as `Switchboard-Signature: t=<unix>,v1=<hex \
                 HMAC-SHA256(secret, \"<t>.<body>\")>` and `X-Switchboard-Signature: sha256=<hex HMAC-SHA256(secret, body)>`. \
                 A delivery not answered 2xx within 10 s is retried after 30 s, 5 min, 30 min and 2 h, then marked failed. At most 16 \
                 endpoints (422 `limit_reached`).",
            )
            .body::<CreateWebhook>(|| {
                json!({"url": "https://example.com/switchboard/events", "events": ["call.ended", "analysis.complete"],
                       "description": "CRM sync"})
            })
            .returns::<WebhookEndpointView>(201, "The endpoint, with its signing secret (shown this once)."),
        Route::new(Method::GET, "/v1/webhooks/{id}", get)
            .doc(TAG, "getWebhook", "Get a webhook endpoint")
            .returns::<WebhookEndpointView>(200, "The endpoint."),
        Route::new(Method::PATCH, "/v1/webhooks/{id}", update)
            .doc(TAG, "updateWebhook", "Update a webhook endpoint")
            .describe("Send only the fields to change. A `disabled` endpoint gets no new deliveries.")
            .body::<UpdateWebhook>(|| json!({"events": ["call.ended"], "status": "disabled"}))
            .returns::<WebhookEndpointView>(200, "The updated endpoint."),
        Route::new(Method::DELETE, "/v1/webhooks/{id}", delete)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "deleteWebhook", "Delete a webhook endpoint")
            .returns::<Deleted>(200, "The endpoint was deleted."),
        Route::new(Method::POST, "/v1/webhooks/{id}/rotate-secret", rotate_secret)
            .doc(TAG, "rotateWebhookSecret", "Rotate an endpoint's signing secret")
            .describe(
                "A new secret, shown this once. The previous one keeps signing beside it for 24 hours: `Switchboard-Signature` \
                 carries a `v1` for each, and `X-Switchboard-Signature` the previous one's until it expires.",
            )
            .returns::<WebhookEndpointView>(200, "The endpoint, with its new secret."),
        Route::new(Method::POST, "/v1/webhooks/{id}/test", test)
            .doc(TAG, "testWebhook", "Send a test delivery")
            .describe(
                "Sends a signed test event (`data.test` is true) to the endpoint now and answers with the delivery and how the \
                 attempt went. It is in the delivery log and can be redelivered; it is not retried by itself.",
            )
            .optional_body::<TestWebhook>(|| json!({"event": "call.ended"}))
            .returns::<Delivery>(201, "The test delivery."),
        Route::new(Method::GET, "/v1/webhooks/{id}/deliveries", deliveries)
            .doc(TAG, "listWebhookDeliveries", "List an endpoint's deliveries")
            .describe("Every attempt of each: its time, the receiver's status code, latency, error, and when the next is due.")
            .query([QueryParam::string("status", "`pending`, `succeeded` or `failed`.")])
            .returns_list::<Delivery>("A page of deliveries, newest first."),
        Route::new(Method::POST, "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", redeliver)
            .doc(TAG, "redeliverWebhookDelivery", "Redeliver")
            .describe(
                "Queues the delivery again now, with the retry schedule from the start. 409 `delivery_pending` while it is still \
                 being tried.",
            )
            .returns::<Delivery>(202, "The delivery, pending."),
    ]
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    #[schema(max_length = 2048)]
    pub url: String,
    /// The event types to deliver (at least one).
    pub events: Vec<EventType>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    pub events: Option<Vec<EventType>>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub description: switchboard_http::Patch<String>,
    pub status: Option<WebhookStatus>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestWebhook {
    /// The type of the test event; the endpoint's first type by default.
    pub event: Option<EventType>,
}

/// Checks a URL: its form now, where it resolves in production.
async fn checked_url(state: &State, raw: &str) -> Result<String, ApiError> {
    state
        .dispatcher
        .transport
        .check_destination(raw)
        .await
        .map_err(|why| ApiError::validation("url", why))
}

fn checked_events(events: Vec<EventType>) -> Result<Vec<EventType>, ApiError> {
    if events.is_empty() {
        return Err(ApiError::validation("events", "Subscribe to at least one event type."));
    }
    let mut events = events;
    events.dedup();
    Ok(events)
}

fn description(raw: Option<String>) -> Result<Option<String>, ApiError> {
    Ok(raw.map(|d| validate::text("description", &d, 0, 500)).transpose()?)
}

impl State {
    /// A sealed new secret, and the secret itself.
    fn new_secret(&self) -> (SealedSecret, String) {
        let secret = secrets::generate();
        let sealed = SealedSecret {
            sealed: self.dispatcher.secrets.seal(&secret),
            expires_at: None,
        };
        (sealed, secret)
    }
}

async fn list(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let page = req.page("")?;
    let query = ListQuery::from(page);
    let found = state.endpoints.query(req.workspace_id()?, &query).await?;
    let views = found.items.iter().map(|v| v.value.view(req.now)).collect();
    Ok(req.list::<WebhookEndpointView>(views, found.next, ""))
}

async fn create(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: CreateWebhook = req.json()?;
    let url = checked_url(&state, &input.url).await?;
    let events = checked_events(input.events)?;
    let description = description(input.description)?;
    let (sealed, secret) = state.new_secret();
    let at = switchboard_core::clock::api_time(req.now);
    let endpoint = WebhookEndpoint {
        id: ids::new_id_at(prefix::WEBHOOK, req.now),
        object: WebhookEndpointObject,
        url,
        events,
        description,
        status: WebhookStatus::Enabled,
        secret_hint: secrets::hint(&secret),
        secrets: vec![sealed],
        created_at: at,
        updated_at: at,
    };
    let created = state
        .endpoints
        .insert(req.workspace_id()?, &endpoint, Some(quota()), &[])
        .await?;
    let mut view = created.value.view(req.now);
    view.secret = Some(secret);
    Ok(Reply::created(&view).etag(created.version))
}

async fn get(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let found = crud::find(state.endpoints.as_ref(), &req, req.param("id")).await?;
    Ok(Reply::ok(&found.value.view(req.now)).etag(found.version))
}

async fn update(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let patch: UpdateWebhook = req.json()?;
    let url = match &patch.url {
        Some(raw) => Some(checked_url(&state, raw).await?),
        None => None,
    };
    let events = patch.events.clone().map(checked_events).transpose()?;
    let described = patch
        .description
        .clone()
        .map(|d| validate::text("description", &d, 0, 500))
        .transpose_patch()?;
    let at = switchboard_core::clock::api_time(req.now);
    let updated = crud::update(state.endpoints.as_ref(), &req, req.param("id"), |mut endpoint| {
        if let Some(url) = &url {
            endpoint.url.clone_from(url);
        }
        if let Some(events) = &events {
            endpoint.events.clone_from(events);
        }
        described.clone().apply(&mut endpoint.description);
        set(&mut endpoint.status, &patch.status);
        endpoint.updated_at = at;
        Ok((endpoint, Vec::new()))
    })
    .await?;
    Ok(Reply::ok(&updated.value.view(req.now)).etag(updated.version))
}

async fn delete(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let deleted = crud::delete(state.endpoints.as_ref(), &req, req.param("id"), Some(quota())).await?;
    Ok(Reply::ok(&Deleted::new(&deleted.value.id, "webhook_endpoint")))
}

async fn rotate_secret(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let (sealed, secret) = state.new_secret();
    let now = req.now;
    let rotated = crud::update(state.endpoints.as_ref(), &req, req.param("id"), |mut endpoint| {
        // The newest secret keeps signing for a day beside the new one; older ones stop now.
        let previous = endpoint.live_secrets(now).next().cloned().map(|s| SealedSecret {
            expires_at: Some(switchboard_core::clock::api_time(now) + ROTATION_OVERLAP),
            ..s
        });
        endpoint.secrets = std::iter::once(sealed.clone()).chain(previous).collect();
        endpoint.secret_hint = secrets::hint(&secret);
        endpoint.updated_at = switchboard_core::clock::api_time(now);
        Ok((endpoint, Vec::new()))
    })
    .await?;
    let mut view = rotated.value.view(now);
    view.secret = Some(secret);
    Ok(Reply::ok(&view).etag(rotated.version))
}

async fn test(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: TestWebhook = if req.body.is_empty() {
        TestWebhook::default()
    } else {
        req.json()?
    };
    let endpoint = crud::find(state.endpoints.as_ref(), &req, req.param("id")).await?.value;
    let kind = input
        .event
        .or_else(|| endpoint.events.first().copied())
        .unwrap_or(EventType::CallEnded);
    let event = Event::new(
        kind,
        req.now,
        json!({"test": true, "webhook_id": endpoint.id, "message": "A test event from Switchboard."}),
    );
    let ws = req.workspace_id()?;
    // Kept beside the event log (not in it: the log's events go to every subscriber), so that
    // the test delivery can be redelivered.
    state.dispatcher.events.keep_test_event(ws, &event).await?;
    let id = delivery::delivery_id(&event.id, &endpoint.id);
    let mut delivery = delivery::new_delivery(id, &endpoint.id, &event, req.now);
    let attempt = state.dispatcher.send(&endpoint, &event, &delivery.id, req.now).await;
    delivery.status = if attempt.error.is_none() {
        DeliveryStatus::Succeeded
    } else {
        DeliveryStatus::Failed
    };
    delivery.attempts.push(attempt);
    delivery.round_attempts = 1;
    let created = state.deliveries.insert(ws, &delivery, None, &[]).await?;
    Ok(Reply::created(&created.value))
}

async fn deliveries(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let status = req.query_as::<DeliveryStatus>("status", "pending, succeeded or failed")?;
    let endpoint = crud::find(state.endpoints.as_ref(), &req, req.param("id")).await?.value;
    let filters = format!("webhook={}&status={status:?}", endpoint.id);
    let page = req.page(&filters)?;
    let query = ListQuery {
        by: ListBy::Webhook(endpoint.id.clone()),
        equals: status
            .map(|s| vec![("status", json!(s).as_str().unwrap_or_default().to_owned())])
            .unwrap_or_default(),
        ..ListQuery::from(page)
    };
    let found = state.deliveries.query(req.workspace_id()?, &query).await?;
    Ok(req.list_versioned(found, &filters))
}

async fn redeliver(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let endpoint = crud::find(state.endpoints.as_ref(), &req, req.param("id")).await?.value;
    let not_found = || ApiError::of(ErrorCode::DeliveryNotFound);
    let delivery_id = req.param("delivery_id");
    let current = crud::find(state.deliveries.as_ref(), &req, delivery_id).await?;
    if current.value.webhook_id != endpoint.id {
        return Err(not_found());
    }
    if current.value.status == DeliveryStatus::Pending {
        return Err(ApiError::new(
            ErrorCode::DeliveryPending,
            "This delivery is still being tried; redeliver it once it has succeeded or failed.",
        ));
    }
    let mut next = current.value.clone();
    next.status = DeliveryStatus::Pending;
    next.round_attempts = 0;
    next.next_retry_at = None;
    next.updated_at = switchboard_core::clock::api_time(req.now);
    let ws = req.workspace_id()?;
    let pending = state.deliveries.update(ws, &current, &next, &[]).await?;
    let job = DeliveryJob {
        workspace_id: ws.to_owned(),
        delivery_id: pending.value.id.clone(),
        not_before: 0,
    };
    state
        .dispatcher
        .queue
        .enqueue(&[job], std::time::Duration::ZERO)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(Reply::json(http::StatusCode::ACCEPTED, &pending.value))
}
