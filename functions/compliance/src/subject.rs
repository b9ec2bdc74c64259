//! Who a data-subject request is about: the contacts it names (by id, phone or email), and
//! the numbers and emails that lead to the rest of what is held about them.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use switchboard_core::model::{Contact, DncList, Target, TargetStatus};
use switchboard_core::ports::{ListBy, ListQuery, PageRequest, TimelineItem, Unique, Versioned};
use switchboard_core::{ErrorCode, StoreError, validate};
use switchboard_domain::phones;
use switchboard_http::ApiError;
use utoipa::ToSchema;

use crate::State;

/// Pages read at once while walking a partition to its end.
pub const PAGE: u32 = 500;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectRequest {
    /// The person's phone number (E.164, or national in the workspace's country) or email.
    #[schema(example = "+14155550100")]
    pub contact_identifier: Option<String>,
    /// The person's contact (`con_...`).
    pub contact_id: Option<String>,
}

/// What a request is about, as the bundle states it.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Subject {
    pub contact_ids: Vec<String>,
    pub phones: BTreeSet<String>,
    pub emails: BTreeSet<String>,
}

/// The subject and the contacts it is.
pub struct Resolved {
    pub subject: Subject,
    pub contacts: Vec<Versioned<Contact>>,
}

/// The contacts a request names; 404 for a `contact_id` the workspace does not have. A phone
/// or email no contact has is still a subject: lists and targets may hold it.
pub async fn resolve(state: &State, ws: &str, request: SubjectRequest) -> Result<Resolved, ApiError> {
    let mut contacts = Vec::new();
    let mut subject = Subject::default();
    match (request.contact_id, request.contact_identifier) {
        (Some(id), None) => {
            let contact = state
                .contacts
                .get(ws, &id)
                .await?
                .ok_or_else(|| ApiError::new(ErrorCode::ContactNotFound, "No contact has this id."))?;
            contacts.push(contact);
        }
        (None, Some(identifier)) if identifier.contains('@') => {
            let email = validate::email("contact_identifier", &identifier)?;
            let query = ListQuery {
                by: ListBy::Email(email.clone()),
                limit: PAGE,
                ..ListQuery::default()
            };
            contacts.extend(state.contacts.query_all(ws, query).await?);
            subject.emails.insert(email);
        }
        (None, Some(identifier)) => {
            let phone = phones::normalize(state.accounts.as_ref(), ws, "contact_identifier", &identifier).await?;
            contacts.extend(
                state
                    .contacts
                    .find_unique(ws, &Unique::ContactPhone(phone.clone()))
                    .await?,
            );
            subject.phones.insert(phone);
        }
        _ => {
            return Err(ApiError::validation(
                "contact_identifier",
                "Send either `contact_identifier` (a phone number or email) or `contact_id`.",
            ));
        }
    }
    for contact in &contacts {
        subject.contact_ids.push(contact.value.id.clone());
        subject.phones.insert(contact.value.phone.clone());
        subject.emails.extend(contact.value.email.clone());
    }
    Ok(Resolved { subject, contacts })
}

/// Everything on the contacts' timelines (calls, chats, appointments, approvals), newest first.
pub async fn timeline(state: &State, ws: &str, subject: &Subject) -> Result<Vec<TimelineItem>, StoreError> {
    let mut items = Vec::new();
    // The contacts' timelines, and the numbers': calls made with no contact.
    for contact in subject.contact_ids.iter().chain(&subject.phones) {
        let mut page = PageRequest {
            limit: PAGE,
            after: None,
        };
        loop {
            let found = state.timeline.timeline(ws, contact, None, page.clone()).await?;
            items.extend(found.items);
            match found.next {
                Some(next) => page.after = Some(next),
                None => break,
            }
        }
    }
    Ok(items)
}

/// The id of a timeline item.
pub fn id_of(item: &TimelineItem) -> &str {
    match item {
        TimelineItem::Call(call) => &call.id,
        TimelineItem::Conversation(chat) => &chat.id,
        TimelineItem::Appointment(appointment) => &appointment.id,
        TimelineItem::Approval(approval) => &approval.id,
    }
}

/// The numbers' targets in every campaign of the workspace.
pub async fn targets(state: &State, ws: &str, phones: &BTreeSet<String>) -> Result<Vec<Target>, StoreError> {
    use futures::stream::{self, StreamExt, TryStreamExt};
    let query = ListQuery {
        limit: PAGE,
        ..ListQuery::default()
    };
    let campaigns: Vec<String> = state
        .campaigns
        .query_all(ws, query)
        .await?
        .into_iter()
        .map(|c| c.value.id)
        .collect();
    let wanted: Vec<(String, String)> = campaigns
        .iter()
        .flat_map(|campaign| phones.iter().map(move |phone| (campaign.clone(), phone.clone())))
        .collect();
    let found: Vec<Option<Target>> = stream::iter(wanted)
        .map(|(campaign, phone)| async move { state.targets.target(ws, &campaign, &phone).await })
        .buffer_unordered(16)
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}

/// Whether a target is in a call or about to be.
pub fn is_busy(target: &Target) -> bool {
    target.status == TargetStatus::Dialing
}

/// Both lists, for the bundle.
pub const LISTS: [DncList; 2] = [DncList::Dnc, DncList::Registry];
