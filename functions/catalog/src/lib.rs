//! `catalog`: the public endpoints about the service itself: health, the OpenAPI document, the
//! interactive reference, and the objection library. Also the answer for paths no function
//! serves.
//!
//! The OpenAPI document is built from every function's route table by the tests, which keep
//! `docs/openapi.json` true; this function serves that file, so it links no other function.

use std::sync::{Arc, LazyLock};

use http::{Method, StatusCode};
use serde::Serialize;
use switchboard_core::ErrorCode;
use switchboard_core::config::{ConfigError, Env};
use switchboard_core::model::{
    OBJECTION_LOCALES, OBJECTIONS, ONBOARDING_PROVIDERS, Objection, ObjectionCategory, OnboardingProvider,
};
use switchboard_core::ports::Probe;
use switchboard_http::{Access, ApiError, Platform, QueryParam, Reply, Request, Route, Service};
use switchboard_store::DynamoStore;
use utoipa::ToSchema;

pub struct State {
    pub store: Arc<dyn Probe>,
    pub providers: Providers,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn service(platform: Arc<Platform>, store: &DynamoStore, providers: Providers) -> Service<State> {
    let state = State {
        store: Arc::new(store.clone()),
        providers,
    };
    Service::new(platform, state, routes())
}

/// Which adapter serves each provider port; `/v1/healthz` reports them.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Providers {
    /// `simulator` (local default) or `twilio`.
    pub telephony: String,
    /// `offline` (local default) or `anthropic`.
    pub llm: String,
    /// `outbox` (local default: files in MAIL_OUTBOX_DIR) or `ses`.
    pub mail: String,
    /// Text-to-speech: `polly` (AWS default) or `offline` (local default: espeak-ng).
    pub speech: String,
}

impl Providers {
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut env = Env::process();
        let providers = Self::read(&mut env);
        env.finish().map(|()| providers)
    }

    pub fn read(env: &mut Env) -> Self {
        Self {
            telephony: env.one_of("TELEPHONY_PROVIDER", "simulator", &["simulator", "twilio"]),
            llm: env.one_of("LLM_PROVIDER", "offline", &["offline", "anthropic"]),
            mail: env.one_of("MAIL_PROVIDER", "outbox", &["outbox", "ses"]),
            speech: env.one_of("TTS_PROVIDER", "polly", &["polly", "offline"]),
        }
    }
}

const TAG: &str = "Service";
const CONTENT: &str = "Voices and objections";
const ONBOARDING: &str = "Onboarding";

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
            .describe("A page that renders this document; it loads nothing from anywhere but this API.")
            .returns_nothing(200, "An HTML page."),
        Route::new(Method::GET, "/docs/reference.js", docs_script)
            .access(Access::Public)
            .doc(TAG, "docsScript", "The reference page's script")
            .returns_nothing(200, "JavaScript."),
        Route::new(Method::GET, "/docs/reference.css", docs_style)
            .access(Access::Public)
            .doc(TAG, "docsStyle", "The reference page's style sheet")
            .returns_nothing(200, "CSS."),
        Route::new(Method::GET, "/v1/objections", list_objections)
            .access(Access::Public)
            .doc(CONTENT, "listObjections", "List objections and rebuttals")
            .describe(
                "The shared objection library: what people say when they push back on a call, with two or three \
                 answers each, in English and Hindi. The offline model answers objections from it.",
            )
            .query([
                QueryParam::string(
                    "category",
                    "Only this kind: `price`, `timing`, `not_interested`, `already_have`, `trust`, `authority` or `privacy`.",
                ),
                QueryParam::string("locale", "Only this language: `en` or `hi`."),
            ])
            .returns_whole_list::<Objection>("The matching objections with their rebuttals."),
        Route::new(Method::GET, "/v1/onboarding/providers", list_onboarding_providers)
            .access(Access::Public)
            .doc(ONBOARDING, "listOnboardingProviders", "List the providers a workspace may bring")
            .describe(
                "In `byok` mode a workspace calls through its own accounts: each provider's kind (telephony, llm, \
                 tts), the fields its credential needs (secret ones are sealed and never shown again), and whether \
                 the `bundled` mode offers it through the platform's own account.",
            )
            .returns_whole_list::<OnboardingProvider>("Every provider."),
    ]
}

async fn list_onboarding_providers(_state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    Ok(req.list(ONBOARDING_PROVIDERS.iter().collect(), None, ""))
}

async fn list_objections(_state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let category: Option<ObjectionCategory> = req.query_as(
        "category",
        "one of `price`, `timing`, `not_interested`, `already_have`, `trust`, `authority`, `privacy`",
    )?;
    let locale = req.query("locale");
    if let Some(locale) = locale
        && !OBJECTION_LOCALES.contains(&locale)
    {
        return Err(ApiError::param(
            ErrorCode::InvalidParameter,
            "locale",
            format!("`locale` must be one of: {}.", OBJECTION_LOCALES.join(", ")),
        ));
    }
    let matching = OBJECTIONS
        .iter()
        .filter(|o| category.is_none_or(|c| o.category == c) && locale.is_none_or(|l| o.locale == l));
    Ok(req.list(matching.collect(), None, ""))
}

/// The OpenAPI document of the whole API, as kept in the repository (indented, for reading).
pub const DOCUMENT: &str = include_str!("../../../docs/openapi.json");

/// The document as served: without the indentation (half the bytes), made on first request.
static SERVED: LazyLock<String> = LazyLock::new(|| {
    let document: serde_json::Value = serde_json::from_str(DOCUMENT).expect("docs/openapi.json is JSON");
    document.to_string()
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

async fn healthz(state: Arc<State>, _req: Request) -> Result<Reply, ApiError> {
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

async fn openapi_document(_state: Arc<State>, _req: Request) -> Result<Reply, ApiError> {
    Ok(Reply::raw("application/json", SERVED.as_str()))
}

/// The reference page, its script and style: served by this function, so the page works
/// without the internet and its Content-Security-Policy allows nothing else.
const DOCS_PAGE: &str = include_str!("../assets/reference.html");
const DOCS_SCRIPT: &str = include_str!("../assets/reference.js");
const DOCS_STYLE: &str = include_str!("../assets/reference.css");
const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                           img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

async fn docs(_state: Arc<State>, _req: Request) -> Result<Reply, ApiError> {
    Ok(Reply::raw("text/html; charset=utf-8", DOCS_PAGE)
        .header(http::header::CONTENT_SECURITY_POLICY, DOCS_POLICY)
        .header(http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
}

async fn docs_script(_state: Arc<State>, _req: Request) -> Result<Reply, ApiError> {
    Ok(Reply::raw("text/javascript; charset=utf-8", DOCS_SCRIPT)
        .header(http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
}

async fn docs_style(_state: Arc<State>, _req: Request) -> Result<Reply, ApiError> {
    Ok(Reply::raw("text/css; charset=utf-8", DOCS_STYLE).header(http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
}
