//! The errors of the domain and the table of their stable codes.
//!
//! Every failure the domain reports is an [`Error`]: a refusal by one of its rules (with the
//! [`ErrorCode`] that names the rule, a human message and, for input, the offending
//! parameter), a [`StoreError`] of the storage port, or a failure of ours or of a dependency,
//! whose cause is kept for the log. The HTTP edge turns each into the API's error body once.

use std::borrow::Cow;

use serde::Serialize;

macro_rules! error_codes {
    ($( $(#[doc = $doc:literal])* $variant:ident = $status:literal, $code:literal; )*) => {
        /// Stable, documented error codes. The status of a response is fixed by its code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $( $(#[doc = $doc])* $variant, )* }

        impl ErrorCode {
            /// Every code, in the order of the table.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )* ];

            pub fn as_str(self) -> &'static str {
                match self { $( ErrorCode::$variant => $code, )* }
            }

            /// The HTTP status of an answer with this code.
            pub fn status(self) -> u16 {
                match self { $( ErrorCode::$variant => $status, )* }
            }

            /// What the code means, as documented in the error table.
            pub fn description(self) -> &'static str {
                match self { $( ErrorCode::$variant => concat!($($doc),*).trim_ascii(), )* }
            }
        }
    };
}

error_codes! {
    /// The body is not a JSON object.
    InvalidJson = 400, "invalid_json";
    /// The body has a field this endpoint does not know.
    UnknownField = 400, "unknown_field";
    /// A field has the wrong JSON type or is not one of the allowed values.
    InvalidType = 400, "invalid_type";
    /// A required field is missing.
    MissingField = 400, "missing_field";
    /// A value is well-typed but not in a valid format (timezone, language tag, country, date).
    InvalidValue = 400, "invalid_value";
    /// An email address is not valid.
    InvalidEmail = 400, "invalid_email";
    /// A phone number cannot be read as a valid number in E.164.
    InvalidPhoneNumber = 400, "invalid_phone_number";
    /// A query parameter is malformed or out of range.
    InvalidParameter = 400, "invalid_parameter";
    /// The query string has a parameter this endpoint does not know.
    UnknownParameter = 400, "unknown_parameter";
    /// The pagination cursor was altered, expired or made for another query.
    InvalidCursor = 400, "invalid_cursor";
    /// The uploaded CSV file cannot be read (no header row, malformed, too many rows).
    InvalidCsv = 400, "invalid_csv";
    /// A credential was sent in the query string; send it in the Authorization header.
    CredentialInQuery = 400, "credential_in_query";
    /// The Idempotency-Key header is empty or longer than 255 characters.
    InvalidIdempotencyKey = 400, "invalid_idempotency_key";
    /// The If-Match header is not a valid entity tag.
    InvalidIfMatch = 400, "invalid_if_match";
    /// A payment webhook whose `Stripe-Signature` is missing, does not sign the body, or is more than five minutes old.
    InvalidPaymentSignature = 400, "invalid_payment_signature";
    /// The email verification, invitation or password-reset token is unknown, used or expired.
    InvalidToken = 400, "invalid_token";
    /// This route acts on the caller's own workspace: send it without `Switchboard-Customer`.
    CustomerHeaderNotAllowed = 400, "customer_header_not_allowed";
    /// No credential was sent.
    MissingCredential = 401, "missing_credential";
    /// The credential is not valid (unknown key, bad signature, ended session).
    InvalidCredential = 401, "invalid_credential";
    /// The API key or session has expired.
    CredentialExpired = 401, "credential_expired";
    /// The API key was revoked.
    CredentialRevoked = 401, "credential_revoked";
    /// The email and password do not match an account.
    InvalidLogin = 401, "invalid_login";
    /// The wallet's available balance cannot hold what this may cost; top up, or wait for calls in progress to end.
    InsufficientFunds = 402, "insufficient_funds";
    /// The trial credit can no longer be spent; top up to go on calling.
    TrialExpired = 402, "trial_expired";
    /// Calls placed today would commit more than the workspace's daily spend limit; raise it, or wait for the next day (UTC).
    DailySpendLimitReached = 402, "daily_spend_limit_reached";
    /// The credential's scope or role does not allow this request.
    InsufficientScope = 403, "insufficient_scope";
    /// Your role does not allow this on this kind of resource; the message names what it needs.
    PermissionDenied = 403, "permission_denied";
    /// This endpoint needs a signed-in user (session cookie or JWT); API keys are refused.
    SessionRequired = 403, "session_required";
    /// The user or workspace is not active.
    AccountInactive = 403, "account_inactive";
    /// The number is on the workspace's do-not-call list.
    NumberOnDnc = 403, "number_on_dnc";
    /// A campaign called the number within the last 7 days.
    NumberInCooldown = 403, "number_in_cooldown";
    /// Calls to this country are not allowed by the workspace's spending controls.
    DestinationNotAllowed = 403, "destination_not_allowed";
    /// Premium-rate, shared-cost and other special-service numbers are never called.
    SpecialServiceNumber = 403, "special_service_number";
    /// The workspace's owner has not verified their email: until then, only simulated calls are placed.
    EmailNotVerified = 403, "email_not_verified";
    /// A provider callback whose signature does not verify.
    InvalidSignature = 403, "invalid_signature";
    /// A customer's own credentials cannot manage customers: only its agency can.
    CustomersNotAllowed = 403, "customers_not_allowed";
    /// No route matches the path.
    RouteNotFound = 404, "route_not_found";
    /// The agent does not exist in this workspace.
    AgentNotFound = 404, "agent_not_found";
    /// The contact does not exist in this workspace.
    ContactNotFound = 404, "contact_not_found";
    /// No member with this id in the workspace.
    UserNotFound = 404, "user_not_found";
    /// No session of yours with this id.
    SessionNotFound = 404, "session_not_found";
    /// No custom role with this id in the workspace.
    RoleNotFound = 404, "role_not_found";
    /// No secret with this id in the workspace.
    SecretNotFound = 404, "secret_not_found";
    /// No connector with this id (or built-in name) in the workspace.
    ConnectorNotFound = 404, "connector_not_found";
    /// No connection with this id in the workspace.
    ConnectionNotFound = 404, "connection_not_found";
    /// No workflow with this id in the workspace.
    WorkflowNotFound = 404, "workflow_not_found";
    /// No execution with this id in the workspace.
    ExecutionNotFound = 404, "execution_not_found";
    /// No trigger with this id in the workspace.
    TriggerNotFound = 404, "trigger_not_found";
    /// No customer with this id belongs to the workspace (also for the `Switchboard-Customer` header).
    CustomerNotFound = 404, "customer_not_found";
    /// No onboarding provider has this id: `GET /v1/onboarding/providers` lists them.
    ProviderNotFound = 404, "provider_not_found";
    /// The workspace brought no credential for this provider.
    CredentialNotFound = 404, "credential_not_found";
    /// The API key does not exist in this workspace.
    ApiKeyNotFound = 404, "api_key_not_found";
    /// The phone number does not exist in this workspace.
    PhoneNumberNotFound = 404, "phone_number_not_found";
    /// The appointment does not exist in this workspace.
    AppointmentNotFound = 404, "appointment_not_found";
    /// The approval does not exist in this workspace.
    ApprovalNotFound = 404, "approval_not_found";
    /// The conversation does not exist, or is not this agent's.
    ConversationNotFound = 404, "conversation_not_found";
    /// No call with this id in the workspace.
    CallNotFound = 404, "call_not_found";
    /// The number is not on this list.
    DncEntryNotFound = 404, "dnc_entry_not_found";
    /// No campaign with this id in the workspace.
    CampaignNotFound = 404, "campaign_not_found";
    /// No audience import with this id for this campaign.
    ImportNotFound = 404, "import_not_found";
    /// No webhook endpoint with this id in the workspace.
    WebhookNotFound = 404, "webhook_not_found";
    /// No delivery with this id for this endpoint.
    DeliveryNotFound = 404, "delivery_not_found";
    /// No ledger entry with this id in the workspace.
    LedgerEntryNotFound = 404, "ledger_entry_not_found";
    /// No audit entry with this id in the workspace (entries leave after the plan's retention).
    AuditEntryNotFound = 404, "audit_entry_not_found";
    /// No voice has this id: `GET /v1/voices` lists them.
    VoiceNotFound = 404, "voice_not_found";
    /// The route exists but not for this method.
    MethodNotAllowed = 405, "method_not_allowed";
    /// An account with this email already exists.
    EmailTaken = 409, "email_taken";
    /// Another contact in this workspace has this phone number.
    PhoneNumberTaken = 409, "phone_number_taken";
    /// Another request set a secret of this name at the same moment; send yours again.
    SecretNameTaken = 409, "secret_name_taken";
    /// The phone number is already in use by a workspace.
    NumberInUse = 409, "number_in_use";
    /// Auto-charge needs a saved card: top up once with a card first.
    PaymentMethodRequired = 409, "payment_method_required";
    /// Onboarding cannot complete yet; the message lists the providers whose credentials are missing.
    OnboardingIncomplete = 409, "onboarding_incomplete";
    /// The workspace brings its own accounts (`byok`) but has no valid credential for the provider this needs.
    ProviderCredentialMissing = 409, "provider_credential_missing";
    /// The approval was already approved or denied.
    ApprovalAlreadyDecided = 409, "approval_already_decided";
    /// The approval's time to decide is over.
    ApprovalExpired = 409, "approval_expired";
    /// The conversation has ended; start a new one.
    ConversationEnded = 409, "conversation_ended";
    /// The agent is not active.
    AgentInactive = 409, "agent_inactive";
    /// The delivery is still being tried.
    DeliveryPending = 409, "delivery_pending";
    /// The campaign cannot start yet; the message lists what is missing.
    CampaignNotReady = 409, "campaign_not_ready";
    /// The campaign's status does not allow this (edits of a running campaign, moves from a final status).
    CampaignStateConflict = 409, "campaign_state_conflict";
    /// The phone number was released and can no longer place or take calls.
    PhoneNumberReleased = 409, "phone_number_released";
    /// Another confirmed appointment of the workspace overlaps this time.
    AppointmentConflict = 409, "appointment_conflict";
    /// The workspace must keep at least one owner: make someone else owner first.
    LastOwner = 409, "last_owner";
    /// The role is still held by members; give them another role first.
    RoleInUse = 409, "role_in_use";
    /// A member of the workspace already has this email.
    AlreadyMember = 409, "already_member";
    /// The API key must be revoked before it can be deleted.
    KeyStillActive = 409, "key_still_active";
    /// A request with this Idempotency-Key is still being processed.
    IdempotencyInProgress = 409, "idempotency_in_progress";
    /// This Idempotency-Key was used by another API key or session; each credential's keys are its own.
    IdempotencyKeyInUse = 409, "idempotency_key_in_use";
    /// The person is on a call or being dialled now; erase them once it ends.
    SubjectBusy = 409, "subject_busy";
    /// Built-in connectors are the same for everyone: they cannot be changed or deleted.
    BuiltInConnector = 409, "built_in_connector";
    /// Connections use this connector: delete them first.
    ConnectorInUse = 409, "connector_in_use";
    /// A retired workflow cannot be changed or run.
    WorkflowRetired = 409, "workflow_retired";
    /// The resource changed while this request was applied; fetch it and retry.
    ConcurrentModification = 409, "concurrent_modification";
    /// The If-Match entity tag does not match the current version.
    PreconditionFailed = 412, "precondition_failed";
    /// The body is larger than this endpoint accepts.
    PayloadTooLarge = 413, "payload_too_large";
    /// The body must be sent as application/json.
    UnsupportedMediaType = 415, "unsupported_media_type";
    /// A value breaks a rule of the endpoint (length, range, combination of fields).
    ValidationFailed = 422, "validation_failed";
    /// A limit of the workspace's plan is reached.
    LimitReached = 422, "limit_reached";
    /// The rule book written from `nl_prompt` does not pass validation; the message lists why.
    RuleBookInvalid = 422, "rule_book_invalid";
    /// What the model drafted from `prompt` does not pass validation; the message says why.
    AiDraftInvalid = 422, "ai_draft_invalid";
    /// The provider refused the credential; the message says what it answered. Nothing was stored.
    CredentialRejected = 422, "credential_rejected";
    /// This Idempotency-Key was used with a different request.
    IdempotencyKeyReused = 422, "idempotency_key_reused";
    /// Too many requests for this credential; retry after the Retry-After header.
    RateLimited = 429, "rate_limited";
    /// Too many failed sign-ins for this email; retry after the Retry-After header.
    TooManyFailedLogins = 429, "too_many_failed_logins";
    /// As many calls as the plan allows are in progress at once; retry when one ends.
    ConcurrencyLimitReached = 429, "concurrency_limit_reached";
    /// Something failed on our side. The request id identifies it in our logs.
    InternalError = 500, "internal_error";
    /// A service we depend on is unavailable; retry later.
    ServiceUnavailable = 503, "service_unavailable";
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What the domain reports when it cannot do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rule refused the request: `code` names the rule, `message` says why, `param` which
    /// input it is about.
    #[error("{message}")]
    Refused {
        code: ErrorCode,
        message: Cow<'static, str>,
        param: Option<String>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A service we depend on (a queue, a provider) failed: worth a retry later.
    #[error("a service we depend on is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A failure of ours.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl Error {
    pub fn refused(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Error::Refused {
            code,
            message: message.into(),
            param: None,
        }
    }

    /// A refusal about one input.
    pub fn invalid(code: ErrorCode, param: impl Into<String>, message: impl Into<Cow<'static, str>>) -> Self {
        Self::refused(code, message).with_param(param)
    }

    /// An input that breaks a rule of the endpoint (`validation_failed`).
    pub fn validation(param: impl Into<String>, message: impl Into<Cow<'static, str>>) -> Self {
        Self::invalid(ErrorCode::ValidationFailed, param, message)
    }

    /// No such resource in the workspace; `code` says which kind.
    pub fn not_found(code: ErrorCode) -> Self {
        Self::refused(code, code.description())
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Error::Internal(cause.into())
    }

    pub fn unavailable(cause: impl Into<anyhow::Error>) -> Self {
        Error::Unavailable(cause.into())
    }

    /// Names the input a refusal is about; other errors are left as they are.
    pub fn with_param(self, param: impl Into<String>) -> Self {
        match self {
            Error::Refused { code, message, .. } => Error::Refused {
                code,
                message,
                param: Some(param.into()),
            },
            Error::Store(StoreError::NotFound(code)) => Self::not_found(code).with_param(param),
            other => other,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Refused { code, .. } => *code,
            Error::Store(e) => e.code(),
            Error::Unavailable(_) => ErrorCode::ServiceUnavailable,
            Error::Internal(_) => ErrorCode::InternalError,
        }
    }

    /// What the client is told.
    pub fn message(&self) -> Cow<'static, str> {
        match self {
            Error::Refused { message, .. } => message.clone(),
            other => other.code().public_message().into(),
        }
    }

    pub fn param(&self) -> Option<&str> {
        match self {
            Error::Refused { param, .. } => param.as_deref(),
            _ => None,
        }
    }

    /// Whether the request was refused (a 4xx), rather than failed on our side.
    pub fn is_refusal(&self) -> bool {
        self.code().status() < 500
    }
}

impl ErrorCode {
    /// The message of an error with no message of its own.
    pub fn public_message(self) -> &'static str {
        match self {
            ErrorCode::InternalError => {
                "An internal error occurred. Retry later or contact support with the request id."
            }
            ErrorCode::ServiceUnavailable => "A service we depend on is busy. Retry shortly.",
            code => code.description(),
        }
    }
}

/// Failures of a store, already in domain terms.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The item to change does not exist; the code says what was looked for.
    #[error("not found: {0:?}")]
    NotFound(ErrorCode),
    /// A uniqueness or state rule refused the write; the code says which.
    #[error("conflict: {0:?}")]
    Conflict(ErrorCode),
    /// The item changed since it was read (optimistic concurrency).
    #[error("version mismatch")]
    VersionMismatch,
    /// An item with this key exists already.
    #[error("already exists")]
    AlreadyExists,
    /// A plan limit guarded by a counter is reached.
    #[error("limit reached")]
    LimitReached,
    /// The store throttled us; worth a retry later.
    #[error("throttled: {0}")]
    Throttled(anyhow::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl StoreError {
    pub fn code(&self) -> ErrorCode {
        match self {
            StoreError::NotFound(code) | StoreError::Conflict(code) => *code,
            StoreError::VersionMismatch => ErrorCode::PreconditionFailed,
            StoreError::AlreadyExists => ErrorCode::ConcurrentModification,
            StoreError::LimitReached => ErrorCode::LimitReached,
            StoreError::Throttled(_) => ErrorCode::ServiceUnavailable,
            StoreError::Other(_) => ErrorCode::InternalError,
        }
    }
}

/// A provider's failure (telephony, language model).
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused the request (an invalid number, a bad request): retrying will not help.
    #[error("refused by the provider: {0}")]
    Rejected(String),
    /// The provider refused the credential itself (revoked, rotated elsewhere, account
    /// suspended): nothing will work through it until it is replaced.
    #[error("the provider refused the credential: {0}")]
    Unauthorized(String),
    /// The provider could not be reached or failed; worth a retry later.
    #[error("provider unavailable: {0}")]
    Unavailable(anyhow::Error),
}

impl From<ProviderError> for Error {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::Rejected(_) | ProviderError::Unauthorized(_) => Error::Internal(e.into()),
            ProviderError::Unavailable(cause) => Error::Unavailable(cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_described() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {}", code.as_str());
            assert!(code.as_str().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert!(!code.description().is_empty());
        }
    }

    #[test]
    fn internal_errors_never_tell_their_cause() {
        let e = Error::internal(anyhow::anyhow!("dynamodb: table Switchboard-Table-XYZ missing"));
        assert!(!e.message().contains("dynamodb"));
        assert_eq!(e.code(), ErrorCode::InternalError);
        let e = Error::from(StoreError::Other(anyhow::anyhow!("disk on fire")));
        assert!(!e.message().contains("disk"));
    }

    #[test]
    fn store_errors_are_answered_by_their_code() {
        let e = Error::from(StoreError::NotFound(ErrorCode::ApiKeyNotFound)).with_param("id");
        assert_eq!((e.code(), e.param()), (ErrorCode::ApiKeyNotFound, Some("id")));
        assert!(e.is_refusal());
        assert_eq!(
            Error::from(StoreError::VersionMismatch).code(),
            ErrorCode::PreconditionFailed
        );
        assert!(!Error::from(StoreError::Throttled(anyhow::anyhow!("slow"))).is_refusal());
    }
}
