//! `catalog`: the public endpoints about the service itself: health, the OpenAPI document and
//! the interactive reference. Also the answer for paths no function serves.

use std::sync::{Arc, LazyLock};

use http::{Method, StatusCode};
use serde::Serialize;
use switchboard::ApiError;
use switchboard::config::Providers;
use switchboard::http::openapi::{self, RouteInfo};
use switchboard::http::{Access, Call, Reply, Route};
use switchboard::ports::Probe;
use utoipa::ToSchema;

pub struct State {
    pub store: Arc<dyn Probe>,
    pub providers: Providers,
}

const TAG: &str = "Service";

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/healthz", healthz)
            .access(Access::Public)
            .doc(TAG, "health", "Service health")
            .describe("Whether the service and its table answer, and which providers are configured.")
            .returns::<Health>(200, "Healthy.")
            .returns::<Health>(503, "A dependency is failing."),
        Route::new(Method::GET, "/v1/openapi.json", openapi_document)
            .access(Access::Public)
            .doc(TAG, "openapi", "This OpenAPI document")
            .returns_nothing(200, "OpenAPI 3.1, JSON."),
        Route::new(Method::GET, "/docs", docs)
            .access(Access::Public)
            .doc(TAG, "docs", "Interactive API reference")
            .returns_nothing(200, "An HTML page."),
    ]
}

/// Every route of every function, as documented.
pub fn all_routes() -> Vec<(&'static str, Vec<RouteInfo>)> {
    vec![
        ("auth", auth::routes().iter().map(Route::info).collect()),
        ("api-keys", api_keys::routes().iter().map(Route::info).collect()),
        ("agents", agents::routes().iter().map(Route::info).collect()),
        ("contacts", contacts::routes().iter().map(Route::info).collect()),
        ("appointments", appointments::routes().iter().map(Route::info).collect()),
        ("numbers", numbers::routes().iter().map(Route::info).collect()),
        ("approvals", approvals::routes().iter().map(Route::info).collect()),
        ("calls", calls::routes().iter().map(Route::info).collect()),
        ("webhooks", webhooks::routes().iter().map(Route::info).collect()),
        ("dnc", dnc::routes().iter().map(Route::info).collect()),
        ("campaigns", campaigns::routes().iter().map(Route::info).collect()),
        ("catalog", routes().iter().map(Route::info).collect()),
    ]
}

static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    let routes: Vec<RouteInfo> = all_routes().into_iter().flat_map(|(_, r)| r).collect();
    serde_json::to_string(&openapi::document(&routes)).expect("the OpenAPI document serialises")
});

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when a check fails.
    pub status: String,
    pub version: String,
    pub providers: Providers,
    pub checks: Checks,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Checks {
    /// `ok` or `failing`.
    pub dynamodb: String,
}

async fn healthz(state: Arc<State>, _call: Call) -> Result<Reply, ApiError> {
    let dynamodb = match state.store.probe().await {
        Ok(()) => "ok",
        Err(e) => {
            tracing::error!(error = %e, "health check: table does not answer");
            "failing"
        }
    };
    let healthy = dynamodb == "ok";
    let health = Health {
        status: if healthy { "ok" } else { "degraded" }.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        providers: state.providers.clone(),
        checks: Checks {
            dynamodb: dynamodb.into(),
        },
    };
    Ok(Reply::json(
        if healthy {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        &health,
    ))
}

async fn openapi_document(_state: Arc<State>, _call: Call) -> Result<Reply, ApiError> {
    Ok(Reply::raw("application/json", DOCUMENT.as_str()))
}

const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Switchboard API reference</title>
</head>
<body>
  <script id="api-reference" data-url="/v1/openapi.json"></script>
  <script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference"></script>
  <noscript>The reference needs JavaScript; the document itself is at <a href="/v1/openapi.json">/v1/openapi.json</a>.</noscript>
</body>
</html>
"#;

async fn docs(_state: Arc<State>, _call: Call) -> Result<Reply, ApiError> {
    Ok(Reply::raw("text/html; charset=utf-8", DOCS_PAGE))
}
