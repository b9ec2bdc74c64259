//! `POST /v1/dsr/erase`: removes or pseudonymises every item of a person.
//!
//! What is kept, and why: a call keeps its id, times, duration, cost, status, outcome and the
//! country code of the person's number, because the ledger charges it and campaign statistics
//! count it; everything else on it (the number, transcript, summary, sentiment, metadata, the
//! link to the contact and its conversation) goes. An approval keeps what was proposed and
//! decided, without its rationale, context or note. The do-not-call entries keep blocking the
//! number under its pseudonym, without the number or reason. Audit entries keep who did what
//! when, naming the person's resources by pseudonyms. Events that mentioned the person keep
//! only the type and id of what they were about.
//!
//! Every step is idempotent, and what is done leaves the places the next run looks at (an
//! erased call leaves the contact's timeline; the contact goes last), so a run that stops
//! half-way loses nothing and the next one finishes it.

use std::sync::Arc;

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use switchboard_core::model::{Call, Direction, Event, EventType, TargetStatus};
use switchboard_core::object_name;
use switchboard_core::ports::TimelineItem;
use switchboard_core::{ErrorCode, StoreError};
use switchboard_http::{ApiError, Reply, Request};
use utoipa::ToSchema;

use crate::State;
use crate::export::audit_entries;
use crate::subject::{self, Subject, SubjectRequest};

object_name!(DsrErasureObject, "dsr_erasure");

/// What an erasure did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct DsrErasure {
    pub object: DsrErasureObject,
    pub subject: Subject,
    pub contacts_deleted: u32,
    /// Calls kept for the ledger, with every personal field removed.
    pub calls_pseudonymised: u32,
    pub recordings_deleted: u32,
    pub conversations_deleted: u32,
    pub appointments_deleted: u32,
    pub approvals_pseudonymised: u32,
    pub campaign_targets_deleted: u32,
    /// Do-not-call and registry entries that no longer hold the number but still block it.
    pub list_entries_pseudonymised: u32,
    pub audit_entries_pseudonymised: u32,
    pub events_pseudonymised: u32,
}

/// What a removed personal text reads as.
const ERASED: &str = "[erased]";

pub async fn erase(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let ws = req.workspace_id()?;
    let resolved = subject::resolve(&state, ws, req.json::<SubjectRequest>()?).await?;
    let report = run(&state, ws, resolved, req.now).await?;
    Ok(Reply::ok(&report))
}

/// The erasure itself (also what a test interrupts and runs again).
pub async fn run(
    state: &State,
    ws: &str,
    resolved: subject::Resolved,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<DsrErasure, ApiError> {
    let subject = resolved.subject;
    let mut report = DsrErasure::default();
    let timeline = subject::timeline(state, ws, &subject).await?;
    let targets = subject::targets(state, ws, &subject.phones).await?;
    let live_call = timeline
        .iter()
        .any(|item| matches!(item, TimelineItem::Call(call) if !call.status.is_final()));
    if live_call || targets.iter().any(subject::is_busy) {
        return Err(ApiError::new(
            ErrorCode::SubjectBusy,
            "The person is on a call or being dialled now; erase them once it ends.",
        ));
    }

    // Events first, while every id that leads to them is still known.
    let mut needles: Vec<String> = subject.contact_ids.clone();
    needles.extend(subject.phones.iter().cloned());
    needles.extend(subject.emails.iter().cloned());
    for item in &timeline {
        needles.push(subject::id_of(item).to_owned());
        if let TimelineItem::Call(call) = item {
            needles.extend(call.conversation_id.clone());
        }
    }
    report.events_pseudonymised = state.erasure.erase_events(ws, &needles).await?;

    for target in targets {
        if target.status == TargetStatus::Pending {
            let mut skipped = target.clone();
            skipped.status = TargetStatus::Skipped;
            skipped.skip_reason = Some("erased".into());
            skipped.updated_at = now;
            state.targets.skip(ws, &target, &skipped).await?;
        }
        state
            .erasure
            .remove_target(ws, &target.campaign_id, &target.phone)
            .await?;
        report.campaign_targets_deleted += 1;
    }

    // Items are independent: several at once, each in its own order (audit entries first).
    let erased: Vec<DsrErasure> = stream::iter(timeline)
        .map(|item| erase_item(state, ws, item))
        .buffer_unordered(8)
        .try_collect()
        .await?;
    for counts in erased {
        report.audit_entries_pseudonymised += counts.audit_entries_pseudonymised;
        report.calls_pseudonymised += counts.calls_pseudonymised;
        report.recordings_deleted += counts.recordings_deleted;
        report.conversations_deleted += counts.conversations_deleted;
        report.appointments_deleted += counts.appointments_deleted;
        report.approvals_pseudonymised += counts.approvals_pseudonymised;
    }

    // The contacts, and the numbers (a do-not-call entry's id is its number).
    let named = subject.contact_ids.iter().chain(&subject.phones).cloned().collect();
    report.audit_entries_pseudonymised += pseudonymise_audit(state, ws, named).await?;
    for phone in &subject.phones {
        report.list_entries_pseudonymised += state.erasure.erase_list_entries(ws, phone).await?;
    }
    for contact in &resolved.contacts {
        state.contacts.delete(ws, contact, None).await.or_else(gone)?;
        report.contacts_deleted += 1;
    }
    let event = Event::new(
        EventType::DsrErased,
        now,
        serde_json::json!({"object": "dsr_erasure", "contact_ids": subject.contact_ids}),
    );
    state.erasure.record_event(ws, &event).await?;
    report.subject = subject;
    Ok(report)
}

/// Erases one item of the person's timeline; what it erased.
async fn erase_item(state: &State, ws: &str, item: TimelineItem) -> Result<DsrErasure, StoreError> {
    let mut counts = DsrErasure::default();
    let mut ids = vec![subject::id_of(&item).to_owned()];
    if let TimelineItem::Call(call) = &item {
        ids.extend(call.conversation_id.clone());
    }
    counts.audit_entries_pseudonymised += pseudonymise_audit(state, ws, ids).await?;
    match item {
        TimelineItem::Call(call) => {
            if let Some(conversation) = &call.conversation_id
                && let Some(current) = state.conversations.get(ws, conversation).await?
            {
                state.conversations.delete(ws, &current, None).await?;
                counts.conversations_deleted += 1;
            }
            if call.recording.is_some() {
                // Before the call forgets it had one: a re-run finds the call as it was.
                state.recordings.delete(ws, &call.id).await?;
                counts.recordings_deleted += 1;
            }
            // The timeline holds the item as it is now; its version comes from a read.
            if let Some(current) = state.calls.get(ws, &call.id).await? {
                let erased = erased_call(&current.value);
                state.calls.update(ws, &current, &erased, &[]).await?;
                counts.calls_pseudonymised += 1;
            }
        }
        TimelineItem::Conversation(chat) => {
            if let Some(current) = state.conversations.get(ws, &chat.id).await? {
                state.conversations.delete(ws, &current, None).await?;
                counts.conversations_deleted += 1;
            }
        }
        TimelineItem::Appointment(appointment) => {
            if let Some(current) = state.appointments.get(ws, &appointment.id).await? {
                state.appointments.delete(ws, &current, None).await?;
                counts.appointments_deleted += 1;
            }
        }
        TimelineItem::Approval(approval) => {
            if let Some(current) = state.approvals.get(ws, &approval.id).await? {
                let mut erased = current.value.clone();
                erased.rationale = ERASED.into();
                erased.context = None;
                erased.decision_note = None;
                erased.contact_id = None;
                state.approvals.update(ws, &current, &erased, &[]).await?;
                counts.approvals_pseudonymised += 1;
            }
        }
    }
    Ok(counts)
}

/// A deletion of what is already gone is done.
fn gone(e: StoreError) -> Result<(), StoreError> {
    match e {
        StoreError::NotFound(_) => Ok(()),
        other => Err(other),
    }
}

/// The call as the ledger needs it: nothing that leads to the person.
fn erased_call(call: &Call) -> Call {
    let mut erased = call.clone();
    let theirs = match call.direction {
        Direction::Outbound => &mut erased.to,
        Direction::Inbound => &mut erased.from,
    };
    *theirs = country_code(theirs);
    erased.contact_id = None;
    erased.conversation_id = None;
    erased.metadata.clear();
    erased.transcript.clear();
    erased.summary = None;
    erased.sentiment = None;
    erased.recording_url = None;
    erased.recording = None;
    erased
}

/// `+<country calling code>` of a number: what a call's price depends on.
fn country_code(e164: &str) -> String {
    phonenumber::parse(None, e164)
        .map(|number| format!("+{}", number.code().value()))
        .unwrap_or_else(|_| "+".into())
}

/// Rewrites the audit entries of these resources naming them by pseudonyms; how many.
async fn pseudonymise_audit(state: &State, ws: &str, ids: Vec<String>) -> Result<u32, StoreError> {
    let entries = audit_entries(state, ws, ids).await?;
    let count = entries.len() as u32;
    stream::iter(entries)
        .map(|mut entry| async move {
            if let Some(id) = entry.resource.id.clone() {
                let pseudonym = state.erasure.pseudonym(ws, &id)?;
                // A number in a path arrives with its `+` escaped, or not.
                entry.request.path = entry
                    .request
                    .path
                    .replace(&id, &pseudonym)
                    .replace(&id.replace('+', "%2B"), &pseudonym);
                entry.resource.id = Some(pseudonym);
            }
            state.erasure.rewrite_audit_entry(ws, &entry).await
        })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_keeps_only_its_country_code() {
        assert_eq!(country_code("+14155550100"), "+1");
        assert_eq!(country_code("+919876543210"), "+91");
        assert_eq!(country_code("not a number"), "+");
    }
}
