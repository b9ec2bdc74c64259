//! The one error an answer can carry, and the body every error is rendered as.
//!
//! Every failure a client can see is an [`ApiError`]: an [`ErrorCode`] (which fixes the HTTP
//! status), a human message and, for input errors, the offending parameter. Domain and store
//! errors become one through `From`, here and nowhere else. Internal causes are kept in
//! `source` for the log and never rendered.

use std::borrow::Cow;

use http::StatusCode;
use serde::Serialize;
use switchboard_core::{Error, ErrorCode, StoreError};
use utoipa::ToSchema;

/// An error answered to the client.
#[derive(Debug, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: Cow<'static, str>,
    pub param: Option<String>,
    /// Seconds for the Retry-After header (429, 503).
    pub retry_after: Option<u64>,
    /// Methods for the Allow header (405).
    pub allow: Option<String>,
    /// The internal cause: logged with the request id, never sent.
    #[source]
    pub source: Option<anyhow::Error>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
            param: None,
            retry_after: None,
            allow: None,
            source: None,
        }
    }

    /// An input error about one parameter.
    pub fn param(code: ErrorCode, param: impl Into<String>, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(code, message).with_param(param)
    }

    /// The error of a code, with the code's own description as its message.
    pub fn of(code: ErrorCode) -> Self {
        Self::new(code, code.public_message())
    }

    /// The same error under another code (an input error of a query parameter, say).
    pub fn with_code(mut self, code: ErrorCode) -> Self {
        self.code = code;
        self
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// A failure of ours; `cause` goes to the log only.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Error::internal(cause).into()
    }

    pub fn unavailable(cause: impl Into<anyhow::Error>) -> Self {
        Error::unavailable(cause).into()
    }

    pub fn validation(param: impl Into<String>, message: impl Into<Cow<'static, str>>) -> Self {
        Self::param(ErrorCode::ValidationFailed, param, message)
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The error body.
    pub fn body(&self, request_id: &str) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.as_str().to_owned(),
                message: self.message.to_string(),
                param: self.param.clone(),
                request_id: request_id.to_owned(),
            },
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let code = e.code();
        let mut api = ApiError::new(code, e.message());
        api.param = e.param().map(str::to_owned);
        if code == ErrorCode::ServiceUnavailable {
            api.retry_after = Some(1);
        }
        api.source = match e {
            Error::Refused { .. } => None,
            Error::Store(StoreError::Throttled(cause) | StoreError::Other(cause))
            | Error::Unavailable(cause)
            | Error::Internal(cause) => Some(cause),
            Error::Store(_) => None,
        };
        api
    }
}

/// What a write refused by a full quota answers: `limit_reached` saying `limit` (which limit,
/// and how to make room); any other store error as it would be.
pub fn over_limit(limit: impl FnOnce() -> String) -> impl FnOnce(StoreError) -> ApiError {
    move |e| match e {
        StoreError::LimitReached => ApiError::new(ErrorCode::LimitReached, limit()),
        e => e.into(),
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Error::from(e).into()
    }
}

/// `{"error": {...}}`, the body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code; see the error table in the API description.
    #[schema(example = "agent_not_found")]
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The request parameter the error is about, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    #[schema(example = "req_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub request_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_never_render_their_cause() {
        let e = ApiError::internal(anyhow::anyhow!("dynamodb: table Switchboard-Table-XYZ missing"));
        let body = serde_json::to_string(&e.body("req_1")).unwrap();
        assert!(!body.contains("dynamodb"));
        assert!(body.contains("internal_error"));
        assert!(e.source.is_some(), "the cause is kept for the log");
    }

    #[test]
    fn unavailable_dependencies_ask_to_retry() {
        let e = ApiError::from(StoreError::Throttled(anyhow::anyhow!("slow down")));
        assert_eq!((e.status(), e.retry_after), (StatusCode::SERVICE_UNAVAILABLE, Some(1)));
    }
}
