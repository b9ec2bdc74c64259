//! Requesting and deciding approvals (the API and agents' `request_approval` tool alike).

use chrono::{DateTime, Duration, Utc};

use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{Approval, ApprovalObject, ApprovalStatus, Event, EventType, ProposedAction};
use switchboard_core::ports::{Repository, Versioned};
use switchboard_core::validate;
use switchboard_core::{Error, ErrorCode, StoreError};

/// What an approval asks for.
#[derive(Debug, Clone)]
pub struct ApprovalRequest {
    pub proposed_action: ProposedAction,
    pub proposed_value_minor: Option<i64>,
    pub currency: Option<String>,
    pub rationale: String,
    pub context: Option<String>,
    pub expires_in: Duration,
    pub agent_id: Option<String>,
    pub conversation_id: Option<String>,
    pub call_id: Option<String>,
    pub contact_id: Option<String>,
}

/// How long a decision may take, by default: a live call cannot wait long.
pub const CALL_DECISION_TIME: Duration = Duration::minutes(15);
pub const CHAT_DECISION_TIME: Duration = Duration::hours(24);

/// Creates a pending approval (`approval.requested`).
pub async fn request(
    approvals: &dyn Repository<Approval>,
    workspace_id: &str,
    request: ApprovalRequest,
    now: DateTime<Utc>,
) -> Result<Versioned<Approval>, Error> {
    let rationale = validate::text("rationale", &request.rationale, 1, 1000)?;
    let context = request
        .context
        .map(|c| validate::text("context", &c, 0, 2000))
        .transpose()?;
    if let Some(value) = request.proposed_value_minor {
        validate::range("proposed_value_minor", value, 0, 100_000_000)?;
    }
    let currency = request
        .currency
        .map(|c| validate::currency("currency", &c))
        .transpose()?;
    if request.proposed_value_minor.is_some() != currency.is_some() {
        return Err(Error::validation(
            "currency",
            "Give `currency` together with `proposed_value_minor`.",
        ));
    }
    if request.expires_in < Duration::minutes(1) || request.expires_in > Duration::days(7) {
        return Err(Error::validation(
            "expires_in_seconds",
            "An approval waits between 60 seconds and 7 days.",
        ));
    }
    let at = switchboard_core::clock::api_time(now);
    let approval = Approval {
        id: ids::new_id_at(prefix::APPROVAL, now),
        object: ApprovalObject,
        proposed_action: request.proposed_action,
        proposed_value_minor: request.proposed_value_minor,
        currency,
        rationale,
        context,
        status: ApprovalStatus::Pending,
        expires_at: at + request.expires_in,
        decided_at: None,
        decided_by: None,
        decision_note: None,
        agent_id: request.agent_id,
        conversation_id: request.conversation_id,
        call_id: request.call_id,
        campaign_id: None,
        contact_id: request.contact_id,
        created_at: at,
        updated_at: at,
    };
    let event = Event::new(EventType::ApprovalRequested, now, &approval);
    Ok(approvals.insert(workspace_id, &approval, None, &[event]).await?)
}

/// Approves or denies a pending approval (`approval.decided`); 409 when it was decided or
/// expired before. Of two decisions racing, one wins and the other gets 409.
pub async fn decide(
    approvals: &dyn Repository<Approval>,
    workspace_id: &str,
    approval_id: &str,
    approve: bool,
    note: Option<String>,
    decided_by: &str,
    now: DateTime<Utc>,
) -> Result<Versioned<Approval>, Error> {
    let note = note.map(|n| validate::text("note", &n, 0, 500)).transpose()?;
    let not_found = || Error::not_found(ErrorCode::ApprovalNotFound);
    if !ids::is_valid(prefix::APPROVAL, approval_id) {
        return Err(not_found());
    }
    loop {
        let current = approvals.get(workspace_id, approval_id).await?.ok_or_else(not_found)?;
        match current.value.clone().with_status_at(now).status {
            ApprovalStatus::Pending => {}
            ApprovalStatus::Expired => {
                return Err(Error::refused(
                    ErrorCode::ApprovalExpired,
                    "The time to decide on this approval is over.",
                ));
            }
            decided => {
                return Err(Error::refused(
                    ErrorCode::ApprovalAlreadyDecided,
                    format!(
                        "This approval was already {}.",
                        if decided == ApprovalStatus::Approved {
                            "approved"
                        } else {
                            "denied"
                        }
                    ),
                ));
            }
        }
        let at = switchboard_core::clock::api_time(now);
        let mut decided = current.value.clone();
        decided.status = if approve {
            ApprovalStatus::Approved
        } else {
            ApprovalStatus::Denied
        };
        decided.decided_at = Some(at);
        decided.decided_by = Some(decided_by.to_owned());
        decided.decision_note.clone_from(&note);
        decided.updated_at = at;
        let event = Event::new(EventType::ApprovalDecided, now, &decided);
        match approvals.update(workspace_id, &current, &decided, &[event]).await {
            Ok(v) => return Ok(v),
            // Changed under us: read again, and answer from what the other writer decided.
            Err(StoreError::VersionMismatch) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
