//! The request pipeline every HTTP function shares: request ids, CORS, routing with 404/405,
//! credential checks with rate limits, scopes, body rules, idempotency keys, the error body,
//! and one JSON log line per request. It knows the domain only through `switchboard-core`:
//! its credential and idempotency stores are ports.

pub mod audit;
mod body;
mod compress;
pub mod crud;
mod cursor;
mod error;
mod fingerprint;
pub mod jwt;
pub mod livemode;
#[cfg(feature = "openapi")]
pub mod openapi;
mod request;
mod route;
pub mod upload;

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::FutureExt;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, RequestExt};
use tracing::Instrument;

use switchboard_core::clock::Clock;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{AuditEntry, CUSTOMER_HEADER, Family, Scope, customer_workspace_id};
use switchboard_core::ports::{
    CredentialCheck, CredentialKind, CredentialRecord, CredentialStore, IdempotencyStart, IdempotencyStore, RateWindow,
    Repository, StoredResponse, Usage,
};
use switchboard_core::{ErrorCode, secret};
use switchboard_domain::audit::Pending;
use switchboard_domain::webhooks::secrets::SecretBox;

pub use self::body::{Patch, not_null, parse_json, set};
pub use self::cursor::CursorKey;
pub use self::error::{ApiError, ErrorBody, ErrorDetail, over_limit};
pub use self::fingerprint::FingerprintKey;
use self::jwt::JwtKeys;
pub use self::request::{IfMatch, List, Reply, Request};
pub use self::route::{Access, QueryParam, Route};

/// Largest JSON body accepted.
pub const MAX_JSON_BODY: usize = 1024 * 1024;
/// Largest CSV upload accepted.
pub const MAX_CSV_BODY: usize = 10 * 1024 * 1024;
/// The session cookie.
pub const SESSION_COOKIE: &str = "sb_session";
const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The largest answer an idempotency record keeps for replay.
const MAX_KEPT_ANSWER: usize = 192 * 1024;
const MAX_IDEMPOTENCY_KEY: usize = 255;
/// Headers a browser script may read on a cross-origin response.
const EXPOSED_HEADERS: &str =
    "ETag, Idempotent-Replayed, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-Request-Id";
const ALLOWED_HEADERS: &str = "Authorization, Content-Type, Idempotency-Key, If-Match, Switchboard-Customer";

/// What the pipeline needs, built once per cold start.
pub struct Platform {
    pub credentials: Arc<dyn CredentialStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// Where an audit entry goes when no write of its change could carry it.
    pub audit: Arc<dyn Repository<AuditEntry>>,
    pub jwt: JwtKeys,
    pub cursor_key: Arc<CursorKey>,
    pub fingerprint_key: FingerprintKey,
    pub clock: Clock,
    /// Requests per minute per client IP on `PublicLimited` routes.
    pub public_rate_limit: u32,
}

/// One function's routes over the shared pipeline.
pub struct Service<S> {
    platform: Arc<Platform>,
    state: Arc<S>,
    routes: Vec<Route<S>>,
    router: matchit::Router<Vec<usize>>,
}

/// The answer, and what the pipeline adds to its headers.
struct Outcome {
    reply: Reply,
    rate: Option<RateWindow>,
    replayed: bool,
}

impl From<Reply> for Outcome {
    fn from(reply: Reply) -> Self {
        Self {
            reply,
            rate: None,
            replayed: false,
        }
    }
}

impl<S: Send + Sync + 'static> Service<S> {
    pub fn new(platform: Arc<Platform>, state: S, routes: Vec<Route<S>>) -> Self {
        let mut by_path: Vec<(&'static str, Vec<usize>)> = Vec::new();
        for (i, route) in routes.iter().enumerate() {
            match by_path.iter_mut().find(|(p, _)| *p == route.path) {
                Some((_, indexes)) => indexes.push(i),
                None => by_path.push((route.path, vec![i])),
            }
        }
        let mut router = matchit::Router::new();
        for (path, indexes) in by_path {
            router
                .insert(path, indexes)
                .unwrap_or_else(|e| panic!("route {path}: {e}"));
        }
        Self {
            platform,
            state: Arc::new(state),
            routes,
            router,
        }
    }

    pub fn routes(&self) -> &[Route<S>] {
        &self.routes
    }

    /// Answers one request. Never fails: every error is an HTTP answer.
    pub async fn handle(&self, req: lambda_http::Request) -> http::Response<Body> {
        let started = Instant::now();
        let request_id = ids::new_id(prefix::REQUEST);
        let span = tracing::info_span!(
            "request",
            request_id = %request_id,
            method = %req.method(),
            route = tracing::field::Empty,
            workspace_id = tracing::field::Empty,
        );
        let gzip = compress::accepts_gzip(req.headers());
        let outcome = self.process(req, &request_id).instrument(span.clone()).await;
        let status = outcome.reply.status.as_u16();
        span.in_scope(|| tracing::info!(status, latency_ms = started.elapsed().as_millis() as u64, "request"));
        into_response(outcome, &request_id, gzip)
    }

    async fn process(&self, req: lambda_http::Request, request_id: &str) -> Outcome {
        let now = self.platform.clock.now();
        let (client_ip, domain) = request_origin(&req);
        let (parts, body) = req.into_parts();
        let path = parts.uri.path().to_owned();
        let query: Vec<(String, String)> = parts
            .uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let fail = |err: ApiError| Outcome::from(error_reply(err, request_id));

        let Ok(matched) = self.router.at(&path) else {
            return fail(ApiError::new(
                ErrorCode::RouteNotFound,
                format!("No route matches {path}."),
            ));
        };
        let methods: Vec<&Method> = matched.value.iter().map(|&i| &self.routes[i].method).collect();
        if parts.method == Method::OPTIONS {
            return preflight(&methods).into();
        }
        if query.iter().any(|(k, _)| k == "api_key" || k == "access_token") {
            return fail(ApiError::param(
                ErrorCode::CredentialInQuery,
                "api_key",
                "Credentials are not accepted in the query string, where logs and caches keep them. Send `Authorization: Bearer <key>`.",
            ));
        }
        let Some(&index) = matched.value.iter().find(|&&i| self.routes[i].method == parts.method) else {
            let allow = methods.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ");
            let mut err = ApiError::new(
                ErrorCode::MethodNotAllowed,
                format!("{} is not allowed on {path}; use {allow}.", parts.method),
            );
            err.allow = Some(allow);
            return fail(err);
        };
        let route = &self.routes[index];
        tracing::Span::current().record("route", route.path);
        let params = matched
            .params
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();

        let (principal, rate) = match self.admit(route, &parts.headers, client_ip.as_deref(), now).await {
            Ok(admitted) => admitted,
            Err((err, rate)) => return Outcome { rate, ..fail(err) },
        };
        if let Some(p) = &principal {
            tracing::Span::current().record("workspace_id", p.workspace_id.as_str());
        }
        let with_rate = |outcome: Outcome| Outcome { rate, ..outcome };

        if let Err(err) = check_query(route, &query) {
            return with_rate(fail(err));
        }
        let body = match body {
            Body::Empty => Bytes::new(),
            Body::Text(t) => Bytes::from(t),
            Body::Binary(b) => Bytes::from(b),
            _ => Bytes::new(),
        };
        if let Err(err) = check_body(route, &parts.headers, &body) {
            return with_rate(fail(err));
        }

        let idempotency = match self
            .claim_idempotency(&parts, principal.as_ref(), &path, &query, &body, now)
            .await
        {
            Ok(Claim::Run(key)) => key,
            Ok(Claim::Replay(stored)) => {
                return with_rate(Outcome {
                    reply: replay(stored),
                    rate: None,
                    replayed: true,
                });
            }
            Err(err) => return with_rate(fail(err)),
        };

        let request = Request {
            request_id: request_id.to_owned(),
            method: parts.method.clone(),
            route: route.path,
            params,
            query,
            raw_query: parts.uri.query().unwrap_or_default().to_owned(),
            headers: parts.headers,
            body,
            principal,
            client_ip,
            domain,
            now,
            cursor_key: self.platform.cursor_key.clone(),
        };
        let pending = match &request.principal {
            Some(credential) if route.audited => Some(audit::entry_for(&request, credential)),
            _ => None,
        };
        let livemode = request
            .principal
            .as_ref()
            .map(|credential| !switchboard_core::model::is_test_workspace(&credential.workspace_id));
        let handled = AssertUnwindSafe((route.handler)(self.state.clone(), request)).catch_unwind();
        let (result, unwritten) = match pending {
            Some(pending) => switchboard_domain::audit::with_first_write(pending, handled).await,
            None => (handled.await, None),
        };
        let reply = match result {
            Ok(Ok(reply)) => reply,
            Ok(Err(err)) => error_reply(err, request_id),
            Err(_) => error_reply(ApiError::internal(anyhow::anyhow!("handler panicked")), request_id),
        };
        let reply = match livemode {
            Some(livemode) if reply.status.is_success() => livemode::stamped(reply, livemode),
            _ => reply,
        };
        if let Some(unwritten) = unwritten.filter(|_| reply.status.is_success()) {
            self.record_alone(unwritten, &reply).await;
        }
        if let Some(claimed) = idempotency {
            self.finish_idempotency(&claimed, &reply, now).await;
        }
        with_rate(reply.into())
    }

    /// Writes the audit entry of a change none of whose writes carried it (bulk batches, which
    /// no transaction holds, or a change made at a provider): right after it, on its own.
    async fn record_alone(&self, mut pending: Pending, reply: &Reply) {
        let resource = &mut pending.entry.resource;
        if resource.id.is_none() {
            let body: serde_json::Value = reply
                .body
                .as_ref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or_default();
            resource.id =
                switchboard_domain::audit::created_id(&resource.kind, |name| body[name].as_str()).map(str::to_owned);
        }
        if let Err(e) = self
            .platform
            .audit
            .insert(&pending.workspace_id, &pending.entry, None, &[])
            .await
        {
            tracing::error!(error = %e, action = %pending.entry.action, "audit entry not saved");
        }
    }

    /// Checks the credential a route needs and counts the request against its rate limit.
    async fn admit(
        &self,
        route: &Route<S>,
        headers: &HeaderMap,
        client_ip: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(Option<CredentialRecord>, Option<RateWindow>), (ApiError, Option<RateWindow>)> {
        let usage = Usage {
            class: route.rate,
            now,
            client_ip: client_ip.map(str::to_owned),
        };
        match route.access {
            Access::Public => Ok((None, None)),
            Access::PublicLimited => {
                let Some(ip) = client_ip else {
                    return Ok((None, None));
                };
                match self
                    .platform
                    .credentials
                    .use_client_ip(ip, &usage, self.platform.public_rate_limit)
                    .await
                {
                    Ok(Ok(rate)) => Ok((None, Some(rate))),
                    Ok(Err((rate, retry_after))) => Err((rate_limited(retry_after), Some(rate))),
                    Err(e) => Err((e.into(), None)),
                }
            }
            Access::Session(_) | Access::Scoped(_) => {
                let customer = customer_of(route.path, headers).map_err(|e| (e, None))?;
                // The customer's agency is read beside the credential: one round trip.
                let agency = async {
                    match customer {
                        Some(id) if ids::is_valid(prefix::CUSTOMER, id) => {
                            self.platform.credentials.customer_agency(id).await
                        }
                        _ => Ok(None),
                    }
                };
                let (authenticated, agency) = futures::join!(self.authenticate(headers, &usage), agency);
                let (mut credential, rate) = authenticated?;
                if let Some(customer_id) = customer {
                    let agency = agency.map_err(|e| (e.into(), Some(rate)))?;
                    act_for_customer(&mut credential, customer_id, agency.as_deref()).map_err(|e| (e, Some(rate)))?;
                }
                authorize(route.access, route.path, &credential).map_err(|e| (e, Some(rate)))?;
                Ok((Some(credential), Some(rate)))
            }
        }
    }

    async fn authenticate(
        &self,
        headers: &HeaderMap,
        usage: &Usage,
    ) -> Result<(CredentialRecord, RateWindow), (ApiError, Option<RateWindow>)> {
        let unauthorized = |code: ErrorCode| (ApiError::new(code, code.description()), None);
        let token = match credential_of(headers) {
            Some(Ok(token)) => token,
            Some(Err(())) => return Err(unauthorized(ErrorCode::InvalidCredential)),
            None => {
                return Err((
                    ApiError::new(
                        ErrorCode::MissingCredential,
                        "Send an API key or session token: `Authorization: Bearer <credential>`.",
                    ),
                    None,
                ));
            }
        };
        let check = if secret::looks_like_api_key(&token) {
            self.platform
                .credentials
                .use_api_key(&secret::sha256_hex(&token), usage)
                .await
        } else {
            let Some(claims) = self.platform.jwt.decode(&token) else {
                return Err(unauthorized(ErrorCode::InvalidCredential));
            };
            if claims.exp <= usage.now.timestamp() {
                return Err(unauthorized(ErrorCode::CredentialExpired));
            }
            self.platform
                .credentials
                .use_session(&claims.tid, &claims.jti, usage)
                .await
        };
        match check.map_err(|e| (ApiError::from(e), None))? {
            CredentialCheck::Allowed { credential, rate } => Ok((credential, rate)),
            CredentialCheck::Limited { rate, retry_after } => Err((rate_limited(retry_after), Some(rate))),
            CredentialCheck::Unknown => Err(unauthorized(ErrorCode::InvalidCredential)),
            CredentialCheck::Revoked => Err(unauthorized(ErrorCode::CredentialRevoked)),
            CredentialCheck::Expired => Err(unauthorized(ErrorCode::CredentialExpired)),
            CredentialCheck::Suspended => Err((
                ApiError::new(
                    ErrorCode::AccountInactive,
                    "This workspace is suspended. Contact support.",
                ),
                None,
            )),
        }
    }

    async fn claim_idempotency(
        &self,
        parts: &http::request::Parts,
        principal: Option<&CredentialRecord>,
        path: &str,
        query: &[(String, String)],
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Claim, ApiError> {
        let Some(raw) = parts
            .headers
            .get(IDEMPOTENCY_KEY)
            .filter(|_| parts.method == Method::POST)
        else {
            return Ok(Claim::Run(None));
        };
        let key = raw
            .to_str()
            .ok()
            .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY)
            .ok_or_else(|| {
                ApiError::param(
                    ErrorCode::InvalidIdempotencyKey,
                    "Idempotency-Key",
                    "Idempotency-Key must be 1 to 255 visible ASCII characters.",
                )
            })?
            .to_owned();
        let workspace_id = principal.map(|p| p.workspace_id.clone());
        let owner = match principal.map(|p| &p.kind) {
            Some(CredentialKind::ApiKey { key_id, .. }) => key_id.clone(),
            Some(CredentialKind::Session { session_id, .. }) => format!("session {session_id}"),
            None => "public".to_owned(),
        };
        let mut material = format!("{} {path}?", parts.method);
        for (k, v) in query {
            material.push_str(&format!("{k}={v}&"));
        }
        material.push('\n');
        material.push_str(&String::from_utf8_lossy(body));
        let fingerprint = self.platform.fingerprint_key.of(&material);
        let sealer = answer_box(
            parts,
            principal.is_some(),
            &key,
            &self.platform.fingerprint_key.sealing(&material),
        );
        match self
            .platform
            .idempotency
            .begin(workspace_id.as_deref(), &key, &owner, &fingerprint, now)
            .await?
        {
            IdempotencyStart::Started => Ok(Claim::Run(Some(Box::new(Claimed {
                workspace_id,
                key,
                sealer,
            })))),
            IdempotencyStart::Replay(sealed) => {
                let stored = sealer
                    .open(&sealed)
                    .ok()
                    .and_then(|json| serde_json::from_str::<StoredResponse>(&json).ok())
                    .ok_or_else(|| ApiError::internal(anyhow::anyhow!("an idempotent answer that does not open")))?;
                Ok(Claim::Replay(stored))
            }
            IdempotencyStart::InProgress => Err(ApiError::new(
                ErrorCode::IdempotencyInProgress,
                "A request with this Idempotency-Key is still being processed; retry shortly.",
            )),
            IdempotencyStart::Mismatch => Err(ApiError::param(
                ErrorCode::IdempotencyKeyReused,
                "Idempotency-Key",
                "This Idempotency-Key was used with a different request; use a new key.",
            )),
            IdempotencyStart::InUse => Err(ApiError::param(
                ErrorCode::IdempotencyKeyInUse,
                "Idempotency-Key",
                "This Idempotency-Key was used by another API key or session; use a new key.",
            )),
        }
    }

    /// Stores the answer for replay, sealed, or frees the key when the request may be retried
    /// as is.
    async fn finish_idempotency(&self, claimed: &Claimed, reply: &Reply, now: DateTime<Utc>) {
        let (workspace_id, key) = (claimed.workspace_id.as_deref(), claimed.key.as_str());
        let status = reply.status.as_u16();
        // Errors of ours, throttling and malformed requests did not run to a result: a retry
        // with the same key should run again.
        let retryable = status >= 500 || matches!(status, 400 | 413 | 415 | 429);
        // A record holds text answers of a few hundred KB at most (an item is 400 KB, sealed
        // and encoded): audio and larger answers are made again by a retry instead.
        let keepable = reply
            .body
            .as_ref()
            .is_none_or(|b| b.len() <= MAX_KEPT_ANSWER && std::str::from_utf8(b).is_ok());
        let result = if retryable || !keepable {
            self.platform.idempotency.abandon(workspace_id, key).await
        } else {
            let headers = [header::CONTENT_TYPE, header::ETAG, header::LOCATION]
                .iter()
                .filter_map(|h| Some((h.as_str().to_owned(), reply.headers.get(h)?.to_str().ok()?.to_owned())))
                .collect();
            let body = reply
                .body
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            let stored = serde_json::to_string(&StoredResponse { status, headers, body }).unwrap_or_default();
            self.platform
                .idempotency
                .complete(workspace_id, key, &claimed.sealer.seal(&stored), now)
                .await
        };
        if let Err(e) = result {
            // The request itself succeeded; a lost record only means a retry runs again.
            tracing::error!(error = %e, "idempotency record not saved");
        }
    }
}

/// A key of its own for `purpose`, derived from the service secret: no two purposes share one.
fn derive_key(secret: &[u8], purpose: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(purpose);
    mac.finalize().into_bytes().to_vec()
}

/// The box an idempotent answer is sealed in: its key derives from the request's credential,
/// the idempotency key and `sealing` (made from the request with the service's key, kept
/// nowhere), so a stored answer — an API key's or a webhook's secret, a session's token among
/// them — is never at rest in the clear, and opens only for a replay of the request that made
/// it, sent with its credential. A public request has no credential: what it carries (a
/// password at login) is what only its sender has.
fn answer_box(parts: &http::request::Parts, authenticated: bool, key: &str, sealing: &str) -> SecretBox {
    let credential = if authenticated {
        credential_of(&parts.headers).and_then(Result::ok).unwrap_or_default()
    } else {
        String::new()
    };
    SecretBox::derive_for(
        format!("{credential}\n{key}\n{sealing}").as_bytes(),
        b"switchboard idempotent answers v1",
    )
}

enum Claim {
    /// Run the handler, with the idempotency key it claimed, if any.
    Run(Option<Box<Claimed>>),
    Replay(StoredResponse),
}

/// An idempotency key claimed by the request running now.
struct Claimed {
    workspace_id: Option<String>,
    key: String,
    sealer: SecretBox,
}

/// Runs a service as a Lambda function behind API Gateway.
pub async fn run<S: Send + Sync + 'static>(service: Service<S>) -> Result<(), lambda_http::Error> {
    let service = Arc::new(service);
    lambda_http::run(lambda_http::service_fn(move |req: lambda_http::Request| {
        let service = service.clone();
        async move { Ok::<_, Infallible>(service.handle(req).await) }
    }))
    .await
}

/// The client's address and the domain it called, from API Gateway's request context.
fn request_origin(req: &lambda_http::Request) -> (Option<String>, Option<String>) {
    match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => {
            (ctx.http.source_ip.clone(), ctx.domain_name.clone())
        }
        _ => (None, None),
    }
}

/// The bearer token, else the session cookie. `Some(Err)` for a malformed Authorization header.
fn credential_of(headers: &HeaderMap) -> Option<Result<String, ()>> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ());
        return Some(value.and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ').ok_or(())?;
            let token = token.trim();
            if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() {
                Ok(token.to_owned())
            } else {
                Err(())
            }
        }));
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| Ok(value.to_owned()))
}

/// Whether the route at `path` may act for a customer: all but those that manage people,
/// sessions and customers, which act on the caller's own workspace.
pub fn acts_for_customers(path: &str) -> bool {
    !["/v1/auth/", "/v1/users", "/v1/roles", "/v1/customers"]
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

/// The customer a request acts for (`Switchboard-Customer`), on routes that allow one.
fn customer_of<'h>(path: &str, headers: &'h HeaderMap) -> Result<Option<&'h str>, ApiError> {
    let Some(value) = headers.get(CUSTOMER_HEADER) else {
        return Ok(None);
    };
    if !acts_for_customers(path) {
        return Err(ApiError::param(
            ErrorCode::CustomerHeaderNotAllowed,
            "Switchboard-Customer",
            format!("{path} acts on your own workspace: send it without `Switchboard-Customer`."),
        ));
    }
    Ok(Some(value.to_str().unwrap_or_default().trim()))
}

/// Moves the credential into the workspace of its customer `customer_id`, whose agency is
/// `agency` (`None`: no such customer). Another workspace's customer is not found.
fn act_for_customer(
    credential: &mut CredentialRecord,
    customer_id: &str,
    agency: Option<&str>,
) -> Result<(), ApiError> {
    if agency != Some(credential.workspace_id.as_str()) {
        return Err(ApiError::param(
            ErrorCode::CustomerNotFound,
            "Switchboard-Customer",
            format!("No customer `{customer_id}` belongs to this workspace."),
        ));
    }
    let customer_workspace = customer_workspace_id(customer_id, &credential.workspace_id);
    credential.agency_workspace_id = Some(std::mem::replace(&mut credential.workspace_id, customer_workspace));
    Ok(())
}

/// Refuses credentials whose kind, scope or role the route does not accept: the one place
/// every request's permission is checked.
fn authorize(access: Access, path: &str, credential: &CredentialRecord) -> Result<(), ApiError> {
    let needed = match access {
        Access::Public | Access::PublicLimited => return Ok(()),
        Access::Session(needed) | Access::Scoped(needed) => needed,
    };
    match (&credential.kind, access) {
        (CredentialKind::ApiKey { .. }, Access::Session(_)) => {
            return Err(ApiError::new(
                ErrorCode::SessionRequired,
                "This endpoint needs a signed-in user (session cookie or JWT from /v1/auth/login); API keys cannot use it.",
            ));
        }
        (CredentialKind::ApiKey { scope, .. }, _) if *scope < needed => {
            return Err(ApiError::new(
                ErrorCode::InsufficientScope,
                format!("This request needs an API key of the `{}` scope.", scope_name(needed)),
            ));
        }
        _ => {}
    }
    match Family::of_path(path) {
        Some(family) if !credential.grants.allows(family, needed) => Err(ApiError::new(
            ErrorCode::PermissionDenied,
            format!(
                "Your role does not allow this: it needs `{}` on `{}`.",
                scope_name(needed),
                serde_json::to_value(family)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ),
        )),
        Some(_) => Ok(()),
        // The caller's own account (`/v1/auth/...`): whoever is signed in.
        None => Ok(()),
    }
}

fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Read => "read",
        Scope::Write => "write",
        Scope::Admin => "admin",
    }
}

fn check_query(route: &Route<impl Send + Sync + 'static>, query: &[(String, String)]) -> Result<(), ApiError> {
    if let Some((name, _)) = query.iter().find(|(k, _)| !route.query.iter().any(|q| q.name == k)) {
        return Err(ApiError::param(
            ErrorCode::UnknownParameter,
            name.clone(),
            format!("Unknown query parameter `{name}`."),
        ));
    }
    if let Some(missing) = route
        .query
        .iter()
        .find(|q| q.required && !query.iter().any(|(k, _)| k == q.name))
    {
        return Err(ApiError::param(
            ErrorCode::InvalidParameter,
            missing.name,
            format!("`{}` is required.", missing.name),
        ));
    }
    Ok(())
}

fn check_body(route: &Route<impl Send + Sync + 'static>, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let media = upload::media_type(headers);
    let csv = route.csv && matches!(media.as_deref(), Some("text/csv" | "multipart/form-data"));
    let limit = if csv { MAX_CSV_BODY } else { MAX_JSON_BODY };
    if body.len() > limit {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("The body is larger than {limit} bytes."),
        ));
    }
    if body.is_empty() || !route.body || csv || media.as_deref() == Some("application/json") {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::UnsupportedMediaType,
        if route.csv {
            "Send the body as JSON (`Content-Type: application/json`) or a CSV file (`text/csv`, or `multipart/form-data` with a `file`)."
        } else {
            "Send the body as JSON with `Content-Type: application/json`."
        },
    ))
}

fn rate_limited(retry_after: u64) -> ApiError {
    let mut err = ApiError::new(
        ErrorCode::RateLimited,
        format!("Too many requests for this credential; retry in {retry_after} s."),
    );
    err.retry_after = Some(retry_after);
    err
}

/// Renders an error, logging the internal cause of server errors.
fn error_reply(err: ApiError, request_id: &str) -> Reply {
    if err.status().is_server_error() {
        let cause = err.source.as_ref().map(|e| format!("{e:#}")).unwrap_or_default();
        tracing::error!(code = err.code.as_str(), cause, "request failed");
    }
    Reply::error(&err, request_id)
}

fn preflight(methods: &[&Method]) -> Reply {
    let mut allow: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
    allow.push("OPTIONS");
    Reply::no_content()
        .header(header::ACCESS_CONTROL_ALLOW_METHODS, &allow.join(", "))
        .header(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_HEADERS)
        .header(header::ACCESS_CONTROL_MAX_AGE, "600")
}

fn replay(stored: StoredResponse) -> Reply {
    let mut headers = HeaderMap::new();
    for (name, value) in stored.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            headers.append(name, value);
        }
    }
    let body = (!stored.body.is_empty()).then(|| Bytes::from(stored.body));
    Reply {
        status: StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK),
        headers,
        body,
    }
}

fn into_response(outcome: Outcome, request_id: &str, gzip: bool) -> http::Response<Body> {
    let Outcome { reply, rate, replayed } = outcome;
    let compressible = reply
        .body
        .as_ref()
        .is_some_and(|b| b.len() >= compress::MIN_COMPRESSED_BODY);
    let gzip = gzip && compressible;
    let mut response = http::Response::new(match reply.body {
        Some(bytes) if gzip => Body::Binary(compress::gzip(&bytes)),
        Some(bytes) => match String::from_utf8(bytes.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        },
        None => Body::Empty,
    });
    *response.status_mut() = reply.status;
    let headers = response.headers_mut();
    *headers = reply.headers;
    if compressible {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    // Answers are private and change: never cached, unless the handler says otherwise (a
    // voice's sample, the same for everyone).
    let cached_by_handler = headers.contains_key(header::CACHE_CONTROL);
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::try_from(value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    };
    set("x-request-id", request_id.to_owned());
    set("access-control-allow-origin", "*".into());
    set("access-control-expose-headers", EXPOSED_HEADERS.into());
    if !cached_by_handler {
        set("cache-control", "no-store".into());
    }
    if let Some(rate) = rate {
        set("x-ratelimit-limit", rate.limit.to_string());
        set("x-ratelimit-remaining", rate.remaining.to_string());
        set("x-ratelimit-reset", rate.reset.to_string());
    }
    if replayed {
        set("idempotent-replayed", "true".into());
    }
    response
}
