//! `POST /v1/dsr/export`: one JSON bundle of everything held about a person.

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use switchboard_core::StoreError;
use switchboard_core::model::{
    Appointment, Approval, AuditEntry, Call, Contact, Conversation, DncEntry, Event, EventType, Target,
};
use switchboard_core::object_name;
use switchboard_core::ports::{ListBy, ListQuery, TimelineItem};
use switchboard_domain::calls;
use switchboard_http::{ApiError, Reply, Request};
use utoipa::ToSchema;

use crate::State;
use crate::subject::{self, LISTS, PAGE, Subject, SubjectRequest};

object_name!(DsrExportObject, "dsr_export");
object_name!(DsrExportFileObject, "dsr_export_file");

/// A bundle larger than this is not answered inline: Lambda answers at most 6 MB.
pub const INLINE_LIMIT: usize = 5_000_000;
/// How long the link to a bundle left in the files bucket serves it.
const FILE_LINK: std::time::Duration = std::time::Duration::from_secs(3600);

/// Where a bundle too large to answer inline waits (`303 See Other` points there too).
#[derive(Debug, Serialize, ToSchema)]
pub struct DsrExportFile {
    pub object: DsrExportFileObject,
    /// The bundle as JSON; the link works for an hour, the file is deleted after a day.
    pub url: String,
    pub size_bytes: u64,
    pub link_expires_at: DateTime<Utc>,
}

/// Everything held about one person.
#[derive(Debug, Serialize, ToSchema)]
pub struct DsrExport {
    pub object: DsrExportObject,
    pub generated_at: DateTime<Utc>,
    pub subject: Subject,
    pub contacts: Vec<Contact>,
    /// With transcripts and analysis, and each kept recording's `recording_url` (valid for an
    /// hour).
    pub calls: Vec<Call>,
    /// Chats, and the conversations of the calls.
    pub conversations: Vec<Conversation>,
    pub appointments: Vec<Appointment>,
    pub approvals: Vec<Approval>,
    /// Entries of the do-not-call list and the imported registries.
    pub do_not_call: Vec<DncEntry>,
    /// Campaigns that called the number in the last 7 days.
    pub cooldowns: Vec<Cooldown>,
    pub campaign_targets: Vec<Target>,
    /// The contacts' timelines, newest first: what happened, and where in the bundle it is.
    pub timeline: Vec<SubjectTimelineEntry>,
    /// Changes made through the API to the person's contact and to the items above.
    pub audit_entries: Vec<AuditEntry>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Cooldown {
    pub phone_e164: String,
    pub campaign_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectTimelineEntry {
    /// `call`, `conversation`, `appointment` or `approval`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    pub at: DateTime<Utc>,
}

/// Audit entries of the resources with these ids, several queries at once.
pub async fn audit_entries(state: &State, ws: &str, ids: Vec<String>) -> Result<Vec<AuditEntry>, StoreError> {
    let pages: Vec<Vec<AuditEntry>> = stream::iter(ids)
        .map(|id| async move {
            let query = ListQuery {
                by: ListBy::AuditResource(id),
                limit: PAGE,
                ..ListQuery::default()
            };
            let entries = state.audit.query_all(ws, query).await?;
            Ok::<_, StoreError>(entries.into_iter().map(|v| v.value).collect::<Vec<_>>())
        })
        .buffer_unordered(16)
        .try_collect()
        .await?;
    Ok(pages.into_iter().flatten().collect())
}

pub async fn export(state: std::sync::Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let ws = req.workspace_id()?;
    let resolved = subject::resolve(&state, ws, req.json::<SubjectRequest>()?).await?;
    let subject = resolved.subject;
    let mut bundle = DsrExport {
        object: DsrExportObject,
        generated_at: switchboard_core::clock::api_time(req.now),
        subject: Subject::default(),
        contacts: resolved.contacts.into_iter().map(|c| c.value).collect(),
        calls: Vec::new(),
        conversations: Vec::new(),
        appointments: Vec::new(),
        approvals: Vec::new(),
        do_not_call: Vec::new(),
        cooldowns: Vec::new(),
        campaign_targets: Vec::new(),
        timeline: Vec::new(),
        audit_entries: Vec::new(),
    };
    // Audit entries name contacts and the rest by id, do-not-call entries by their number.
    let mut ids: Vec<String> = subject.contact_ids.iter().chain(&subject.phones).cloned().collect();
    for item in subject::timeline(&state, ws, &subject).await? {
        let (kind, at) = match &item {
            TimelineItem::Call(call) => ("call", call.created_at),
            TimelineItem::Conversation(chat) => ("conversation", chat.created_at),
            TimelineItem::Appointment(appointment) => ("appointment", appointment.created_at),
            TimelineItem::Approval(approval) => ("approval", approval.created_at),
        };
        let id = subject::id_of(&item).to_owned();
        ids.push(id.clone());
        bundle.timeline.push(SubjectTimelineEntry { kind, id, at });
        match item {
            TimelineItem::Call(mut call) => {
                calls::link_recording(state.recordings.as_ref(), ws, &mut call, req.now).await?;
                bundle.calls.push(call)
            }
            TimelineItem::Conversation(chat) => bundle.conversations.push(chat),
            TimelineItem::Appointment(appointment) => bundle.appointments.push(appointment),
            TimelineItem::Approval(approval) => bundle.approvals.push(approval),
        }
    }
    let of_calls: Vec<String> = bundle.calls.iter().filter_map(|c| c.conversation_id.clone()).collect();
    ids.extend(of_calls.iter().cloned());
    let conversations: Vec<Option<Conversation>> = stream::iter(of_calls)
        .map(|id| {
            let state = &state;
            async move { Ok::<_, StoreError>(state.conversations.get(ws, &id).await?.map(|c| c.value)) }
        })
        .buffer_unordered(16)
        .try_collect()
        .await?;
    bundle.conversations.extend(conversations.into_iter().flatten());
    for phone in &subject.phones {
        for list in LISTS {
            bundle.do_not_call.extend(state.dnc.dnc_entry(ws, list, phone).await?);
        }
    }
    let phones: Vec<String> = subject.phones.iter().cloned().collect();
    for (phone, screening) in state.dnc.screen(ws, &phones, req.now).await? {
        if let Some(campaign_id) = screening.cooldown_campaign {
            bundle.cooldowns.push(Cooldown {
                phone_e164: phone,
                campaign_id,
            });
        }
    }
    bundle.campaign_targets = subject::targets(&state, ws, &subject.phones).await?;
    ids.extend(bundle.campaign_targets.iter().map(|t| t.id.clone()));
    bundle.audit_entries = audit_entries(&state, ws, ids).await?;
    bundle.audit_entries.sort_by(|a, b| b.id.cmp(&a.id));
    // The event says that, and for whom; never what was exported.
    let event = Event::new(
        EventType::DsrExported,
        req.now,
        serde_json::json!({"object": "dsr_export", "contact_ids": subject.contact_ids}),
    );
    state.erasure.record_event(ws, &event).await?;
    bundle.subject = subject;
    let body = serde_json::to_vec(&bundle).expect("API types serialise");
    if body.len() <= state.inline_limit {
        return Ok(Reply::raw("application/json", body));
    }
    let size_bytes = body.len() as u64;
    let name = format!("{}.json", switchboard_core::ids::new_id_at("dsrx", req.now));
    let url = state
        .exports
        .put_export(ws, &name, body, "application/json", FILE_LINK)
        .await
        .map_err(|e| ApiError::from(switchboard_core::Error::unavailable(e)))?;
    let file = DsrExportFile {
        object: DsrExportFileObject,
        url: url.clone(),
        size_bytes,
        link_expires_at: switchboard_core::clock::api_time(req.now)
            + chrono::Duration::seconds(FILE_LINK.as_secs() as i64),
    };
    Ok(Reply::json(http::StatusCode::SEE_OTHER, &file).header(http::header::LOCATION, &url))
}
