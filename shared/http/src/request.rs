//! What a handler receives ([`Request`]) and returns ([`Reply`]).

use std::ops::RangeInclusive;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde::Serialize;
use serde::de::DeserializeOwned;

use switchboard_core::ErrorCode;
use switchboard_core::model::ListObject;
use switchboard_core::ports::{CredentialKind, CredentialRecord, Page, PageKey, PageRequest, Versioned};

use super::cursor::CursorKey;
use crate::ApiError;

/// One request, parsed and authenticated.
pub struct Request {
    pub request_id: String,
    pub method: Method,
    /// The route's path template (`/v1/agents/{id}`).
    pub route: &'static str,
    pub params: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    /// The query string as sent (what signed provider callbacks sign).
    pub raw_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// `None` only on public routes.
    pub principal: Option<CredentialRecord>,
    pub client_ip: Option<String>,
    /// The domain the request was addressed to (API Gateway's `domainName`).
    pub domain: Option<String>,
    pub now: DateTime<Utc>,
    pub(crate) cursor_key: Arc<CursorKey>,
}

/// A list's period, `from` and `to`: open at either end that is not given.
pub type Period = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// `{"object":"list", ...}`, the body of every list.
#[derive(Debug, Serialize)]
pub struct List<T> {
    pub object: ListObject,
    pub data: Vec<T>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

/// An `If-Match` header.
#[derive(Debug, Clone, PartialEq)]
pub enum IfMatch {
    Any,
    Versions(Vec<u64>),
}

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;

impl Request {
    /// A path parameter of the route.
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }

    /// A query parameter (the last one, if repeated).
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter read as `T` (one of the API's enums, say); 400 `invalid_parameter`
    /// saying what it must be (`expected`) otherwise.
    pub fn query_as<T: DeserializeOwned>(&self, name: &str, expected: &str) -> Result<Option<T>, ApiError> {
        self.query(name)
            .map(|raw| {
                serde_json::from_value(serde_json::Value::from(raw)).map_err(|_| {
                    ApiError::param(
                        ErrorCode::InvalidParameter,
                        name,
                        format!("`{name}` must be {expected}."),
                    )
                })
            })
            .transpose()
    }

    /// A query parameter bounding a time range: a time, or a date (its start, or its end when
    /// `end_of_day`).
    pub fn query_time(&self, name: &str, end_of_day: bool) -> Result<Option<DateTime<Utc>>, ApiError> {
        Ok(self
            .query(name)
            .map(|raw| switchboard_core::validate::time_bound(name, raw, end_of_day))
            .transpose()?)
    }

    /// A whole-number query parameter within `range`; 400 `invalid_parameter` saying the range
    /// otherwise.
    pub fn query_number(&self, name: &str, range: RangeInclusive<u32>) -> Result<Option<u32>, ApiError> {
        self.query(name)
            .map(|raw| {
                raw.parse::<u32>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
                    ApiError::param(
                        ErrorCode::InvalidParameter,
                        name,
                        format!(
                            "`{name}` must be a whole number from {} to {}.",
                            range.start(),
                            range.end()
                        ),
                    )
                })
            })
            .transpose()
    }

    /// `from` and `to`, the bounds of a list's period: times (ISO 8601) or dates, a `to` date
    /// read as that day's end.
    pub fn period(&self) -> Result<Period, ApiError> {
        Ok((self.query_time("from", false)?, self.query_time("to", true)?))
    }

    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        super::body::parse_json(&self.body)
    }

    pub fn principal(&self) -> Result<&CredentialRecord, ApiError> {
        self.principal
            .as_ref()
            .ok_or_else(|| ApiError::of(ErrorCode::MissingCredential))
    }

    pub fn workspace_id(&self) -> Result<&str, ApiError> {
        Ok(&self.principal()?.workspace_id)
    }

    /// The signed-in user's id; routes with `Access::Session` always have one.
    pub fn user_id(&self) -> Result<&str, ApiError> {
        match &self.principal()?.kind {
            CredentialKind::Session { user_id, .. } => Ok(user_id),
            CredentialKind::ApiKey { .. } => Err(ApiError::of(ErrorCode::SessionRequired)),
        }
    }

    fn binding(&self, filters: &str) -> String {
        let ws = self.principal.as_ref().map(|p| p.workspace_id.as_str()).unwrap_or("-");
        format!("{} {} {ws} {filters}", self.method, self.route)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The fields of an `application/x-www-form-urlencoded` body (provider callbacks).
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }

    /// `limit` and `cursor` of a list; `filters` are the list's other parameters, which the
    /// cursor is bound to.
    pub fn page(&self, filters: &str) -> Result<PageRequest, ApiError> {
        self.page_of(filters, "limit")
    }

    /// Like [`page`](Self::page), with the page size in the parameter `size`.
    pub fn page_of(&self, filters: &str, size: &str) -> Result<PageRequest, ApiError> {
        let limit = self.query_number(size, 1..=MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
        let after = match self.query("cursor") {
            None => None,
            Some(cursor) => Some(self.cursor_key.decode(cursor, &self.binding(filters))?),
        };
        Ok(PageRequest { limit, after })
    }

    /// The list body for a page.
    pub fn list<T: Serialize>(&self, data: Vec<T>, next: Option<PageKey>, filters: &str) -> Reply {
        let next_cursor = next.map(|key| self.cursor_key.encode(&key, &self.binding(filters)));
        Reply::ok(&List {
            object: ListObject,
            has_more: next_cursor.is_some(),
            data,
            next_cursor,
        })
    }

    /// A page of resources as a list (their versions left out).
    pub fn list_versioned<T: Serialize>(&self, page: Page<Versioned<T>>, filters: &str) -> Reply {
        self.list(page.items.into_iter().map(|v| v.value).collect(), page.next, filters)
    }

    pub fn if_match(&self) -> Result<Option<IfMatch>, ApiError> {
        let Some(raw) = self.headers.get(header::IF_MATCH) else {
            return Ok(None);
        };
        let invalid = || {
            ApiError::param(
                ErrorCode::InvalidIfMatch,
                "If-Match",
                "If-Match must be * or a list of entity tags from ETag.",
            )
        };
        let raw = raw.to_str().map_err(|_| invalid())?.trim();
        if raw == "*" {
            return Ok(Some(IfMatch::Any));
        }
        let mut versions = Vec::new();
        for tag in raw.split(',').map(str::trim) {
            // Weak tags never match under the strong comparison If-Match uses.
            if tag.starts_with("W/") {
                continue;
            }
            let inner = tag
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .ok_or_else(invalid)?;
            if let Ok(v) = inner.parse() {
                versions.push(v);
            }
        }
        Ok(Some(IfMatch::Versions(versions)))
    }

    /// 412 unless `If-Match` is absent or matches `version`.
    pub fn check_if_match(&self, version: u64) -> Result<(), ApiError> {
        match self.if_match()? {
            None | Some(IfMatch::Any) => Ok(()),
            Some(IfMatch::Versions(v)) if v.contains(&version) => Ok(()),
            Some(IfMatch::Versions(_)) => Err(ApiError::new(
                ErrorCode::PreconditionFailed,
                "The resource changed since you read it: its ETag no longer matches If-Match.",
            )),
        }
    }
}

/// A handler's answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
}

impl Reply {
    pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Self {
        let body = serde_json::to_vec(value).expect("API types serialise");
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Self {
            status,
            headers,
            body: Some(body.into()),
        }
    }

    pub fn ok<T: Serialize>(value: &T) -> Self {
        Self::json(StatusCode::OK, value)
    }

    /// `200` with a resource, and its version as the ETag.
    pub fn versioned<T: Serialize>(resource: &Versioned<T>) -> Self {
        Self::ok(&resource.value).etag(resource.version)
    }

    /// `201` with a new resource, and its version as the ETag.
    pub fn created_versioned<T: Serialize>(resource: &Versioned<T>) -> Self {
        Self::created(&resource.value).etag(resource.version)
    }

    pub fn created<T: Serialize>(value: &T) -> Self {
        Self::json(StatusCode::CREATED, value)
    }

    pub fn no_content() -> Self {
        Self {
            status: StatusCode::NO_CONTENT,
            headers: HeaderMap::new(),
            body: None,
        }
    }

    /// A body of another media type (the OpenAPI document, the reference page).
    pub fn raw(content_type: &'static str, body: impl Into<Bytes>) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        Self {
            status: StatusCode::OK,
            headers,
            body: Some(body.into()),
        }
    }

    /// Sets the `ETag` of a versioned resource.
    pub fn etag(self, version: u64) -> Self {
        self.header(header::ETAG, &format!("\"{version}\""))
    }

    pub fn header(mut self, name: header::HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.append(name, v);
        }
        self
    }

    /// The rendered error body.
    pub fn error(err: &ApiError, request_id: &str) -> Self {
        let mut reply = Self::json(err.status(), &err.body(request_id));
        if let Some(after) = err.retry_after {
            reply = reply.header(header::RETRY_AFTER, &after.to_string());
        }
        if let Some(allow) = &err.allow {
            reply = reply.header(header::ALLOW, allow);
        }
        reply
    }
}
