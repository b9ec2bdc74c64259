//! `contacts`: the people agents call (`/v1/contacts`), one per phone number in a workspace.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{
    Appointment, Approval, AttributeValue, Call as CallRecord, Contact, ContactObject, ConversationObject,
    ConversationStatus, MAX_ATTRIBUTES, Message, Scope,
};
use switchboard_core::ports::{ListBy, ListQuery, Repository, TimelineItem, TimelineStore, Unique, Workspaces};
use switchboard_core::{ErrorCode, validate};
use switchboard_http::crud::{self, Deleted};
use switchboard_http::{Access, ApiError, Patch, Platform, QueryParam, Reply, Request, Route, Service, not_null};
use switchboard_store::DynamoStore;
use utoipa::ToSchema;

pub struct State {
    pub contacts: Arc<dyn Repository<Contact>>,
    pub timeline: Arc<dyn TimelineStore>,
    /// For the workspace's country, the region of numbers written without a country code.
    pub accounts: Arc<dyn Workspaces>,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn service(platform: Arc<Platform>, store: &DynamoStore) -> Service<State> {
    let state = State {
        contacts: Arc::new(store.clone()),
        timeline: Arc::new(store.clone()),
        accounts: Arc::new(store.clone()),
    };
    Service::new(platform, state, routes())
}

const TAG: &str = "Contacts";
const MAX_ATTRIBUTE_KEY: usize = 40;
const MAX_ATTRIBUTE_TEXT: usize = 500;

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/contacts", list)
            .doc(TAG, "listContacts", "List contacts")
            .describe("Filter by `phone` (any format, normalised to E.164) or `email`.")
            .query([QueryParam::string("phone", "Only the contact with this number."), QueryParam::string("email", "Only contacts with this email.")])
            .returns_list::<Contact>("A page of contacts, newest first."),
        Route::new(Method::POST, "/v1/contacts", create)
            .doc(TAG, "createContact", "Create a contact")
            .body::<CreateContact>(|| {
                json!({"phone": "+14155550100", "name": "Ada Lovelace", "email": "ada@example.com",
                       "timezone": "America/Los_Angeles", "attributes": {"plan": "gold", "orders": 3}})
            })
            .returns::<Contact>(201, "The contact."),
        Route::new(Method::GET, "/v1/contacts/{id}", get).doc(TAG, "getContact", "Get a contact").returns::<Contact>(200, "The contact."),
        Route::new(Method::PATCH, "/v1/contacts/{id}", update)
            .doc(TAG, "updateContact", "Update a contact")
            .describe("Send only the fields to change; `null` clears an optional field. `attributes` are merged: a key set to `null` is removed.")
            .body::<UpdateContact>(|| json!({"name": "Ada King", "attributes": {"orders": 4, "plan": null}}))
            .returns::<Contact>(200, "The updated contact."),
        Route::new(Method::DELETE, "/v1/contacts/{id}", delete)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "deleteContact", "Delete a contact")
            .returns::<Deleted>(200, "The contact was deleted."),
        Route::new(Method::GET, "/v1/timeline", timeline)
            .doc(TAG, "getTimeline", "A contact's timeline")
            .describe(
                "Calls, chats, appointments and approvals of one contact, newest first; each item's `object` says which. \
                 Name the contact by exactly one of `contact_id`, `phone` or `email` (the newest contact with it).",
            )
            .query([
                QueryParam::string("contact_id", "The contact."),
                QueryParam::string("phone", "The contact with this number (any format)."),
                QueryParam::string("email", "The newest contact with this email."),
                QueryParam::string("before", "Only what happened before this time (ISO 8601)."),
                QueryParam {
                    name: "n",
                    ..QueryParam::pagination()[0].clone()
                },
                QueryParam::pagination()[1].clone(),
            ])
            .returns_list::<TimelineEntry>("What happened with the contact, newest first."),
    ]
}

/// An item of a contact's timeline.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
// A page of a timeline holds at most 200 of them, made and dropped within a request.
#[allow(clippy::large_enum_variant)]
pub enum TimelineEntry {
    Call(CallRecord),
    Chat(Chat),
    Appointment(Appointment),
    Approval(Approval),
}

/// A text chat with an agent.
#[derive(Debug, Serialize, ToSchema)]
pub struct Chat {
    #[schema(example = "cnv_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: ConversationObject,
    pub agent_id: String,
    pub contact_id: Option<String>,
    pub status: ConversationStatus,
    pub messages: Vec<Message>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<TimelineItem> for TimelineEntry {
    fn from(item: TimelineItem) -> Self {
        match item {
            TimelineItem::Call(c) => TimelineEntry::Call(c),
            TimelineItem::Conversation(c) => TimelineEntry::Chat(Chat {
                id: c.id,
                object: c.object,
                agent_id: c.agent_id,
                contact_id: c.contact_id,
                status: c.status,
                messages: c.messages,
                created_at: c.created_at,
                updated_at: c.updated_at,
            }),
            TimelineItem::Appointment(a) => TimelineEntry::Appointment(a),
            TimelineItem::Approval(a) => TimelineEntry::Approval(a),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateContact {
    /// E.164, or national format for the workspace's country.
    pub phone: String,
    #[schema(max_length = 200)]
    pub name: Option<String>,
    pub email: Option<String>,
    /// IANA time zone.
    pub timezone: Option<String>,
    /// Up to 50 keys of letters, digits and `_` (≤ 40 characters); strings ≤ 500 characters.
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeValue>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateContact {
    #[serde(default, deserialize_with = "not_null")]
    pub phone: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub timezone: Patch<String>,
    /// Attributes to set; a key set to `null` is removed.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = attribute_changes)]
    pub attributes: Option<BTreeMap<String, Option<AttributeValue>>>,
}

/// An object whose values are attribute values or `null`.
fn attribute_changes() -> utoipa::openapi::schema::Object {
    use utoipa::PartialSchema;
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    let value = OneOfBuilder::new()
        .item(AttributeValue::schema())
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .build();
    ObjectBuilder::new()
        .additional_properties(Some(utoipa::openapi::schema::Schema::OneOf(value)))
        .build()
}

impl State {
    /// `raw` in E.164, reading national numbers in the workspace's country.
    async fn phone(&self, req: &Request, param: &str, raw: &str) -> Result<String, ApiError> {
        Ok(switchboard_domain::phones::normalize(self.accounts.as_ref(), req.workspace_id()?, param, raw).await?)
    }
}

/// Checks and normalises everything but the phone number.
fn validated(mut contact: Contact) -> Result<Contact, ApiError> {
    contact.name = contact.name.map(|n| validate::text("name", &n, 1, 200)).transpose()?;
    contact.email = contact.email.map(|e| validate::email("email", &e)).transpose()?;
    if let Some(tz) = &contact.timezone {
        validate::timezone("timezone", tz)?;
    }
    if contact.attributes.len() > MAX_ATTRIBUTES {
        return Err(ApiError::validation(
            "attributes",
            format!("At most {MAX_ATTRIBUTES} attributes."),
        ));
    }
    for (key, value) in &contact.attributes {
        let param = format!("attributes.{key}");
        let well_formed = !key.is_empty()
            && key.chars().count() <= MAX_ATTRIBUTE_KEY
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !well_formed {
            return Err(ApiError::validation(
                param,
                format!("Attribute names are 1 to {MAX_ATTRIBUTE_KEY} letters, digits or underscores."),
            ));
        }
        if let AttributeValue::String(text) = value {
            validate::text(&param, text, 0, MAX_ATTRIBUTE_TEXT)?;
        }
    }
    Ok(contact)
}

/// The contact a timeline request names, by exactly one of its identifiers.
async fn timeline_contact(state: &State, req: &Request) -> Result<String, ApiError> {
    let ws = req.workspace_id()?;
    let not_found = || ApiError::new(ErrorCode::ContactNotFound, "No contact of the workspace matches.");
    let given: Vec<&str> = ["contact_id", "phone", "email"]
        .into_iter()
        .filter(|name| req.query(name).is_some())
        .collect();
    let as_parameter = |e: ApiError| e.with_code(ErrorCode::InvalidParameter);
    match given.as_slice() {
        ["contact_id"] => {
            let id = req.query("contact_id").unwrap_or_default();
            Ok(crud::find(state.contacts.as_ref(), req, id).await?.value.id)
        }
        ["phone"] => {
            let phone = state
                .phone(req, "phone", req.query("phone").unwrap_or_default())
                .await
                .map_err(as_parameter)?;
            switchboard_domain::calls::contact_for_phone(state.contacts.as_ref(), ws, &phone)
                .await?
                .ok_or_else(not_found)
        }
        ["email"] => {
            let email =
                validate::email("email", req.query("email").unwrap_or_default()).map_err(|e| as_parameter(e.into()))?;
            let query = ListQuery {
                by: ListBy::Email(email),
                limit: 1,
                ..ListQuery::default()
            };
            let found = state.contacts.query(ws, &query).await?;
            found.items.into_iter().next().map(|c| c.value.id).ok_or_else(not_found)
        }
        _ => Err(ApiError::param(
            ErrorCode::InvalidParameter,
            "contact_id",
            "Name the contact by exactly one of `contact_id`, `phone` or `email`.",
        )),
    }
}

async fn timeline(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let contact_id = timeline_contact(&state, &req).await?;
    let before = req.query_time("before", false)?;
    let filters = format!("contact={contact_id}&before={before:?}");
    let page = req.page_of(&filters, "n")?;
    let found = state
        .timeline
        .timeline(req.workspace_id()?, &contact_id, before, page)
        .await?;
    let entries: Vec<TimelineEntry> = found.items.into_iter().map(TimelineEntry::from).collect();
    Ok(req.list(entries, found.next, &filters))
}

async fn list(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let ws = req.workspace_id()?;
    if let Some(raw) = req.query("phone") {
        let phone = state
            .phone(&req, "phone", raw)
            .await
            .map_err(|e| e.with_code(ErrorCode::InvalidParameter))?;
        let filters = format!("phone={phone}");
        req.page(&filters)?;
        let found = state.contacts.find_unique(ws, &Unique::ContactPhone(phone)).await?;
        let email = req.query("email").map(str::to_lowercase);
        let data: Vec<Contact> = found
            .map(|v| v.value)
            .into_iter()
            .filter(|c| email.is_none() || c.email == email)
            .collect();
        return Ok(req.list(data, None, &filters));
    }
    if let Some(raw) = req.query("email") {
        let email =
            validate::email("email", raw).map_err(|e| ApiError::from(e).with_code(ErrorCode::InvalidParameter))?;
        let filters = format!("email={email}");
        let page = req.page(&filters)?;
        let query = ListQuery {
            by: ListBy::Email(email),
            ..ListQuery::from(page)
        };
        let found = state.contacts.query(ws, &query).await?;
        return Ok(req.list_versioned(found, &filters));
    }
    let page = req.page("")?;
    let query = ListQuery::from(page);
    let found = state.contacts.query(ws, &query).await?;
    Ok(req.list_versioned(found, ""))
}

fn blank_contact() -> Contact {
    Contact {
        id: String::new(),
        object: ContactObject,
        phone: String::new(),
        name: None,
        email: None,
        timezone: None,
        attributes: BTreeMap::new(),
        created_at: chrono::DateTime::UNIX_EPOCH,
        updated_at: chrono::DateTime::UNIX_EPOCH,
    }
}

async fn create(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: CreateContact = req.json()?;
    let phone = state.phone(&req, "phone", &input.phone).await?;
    let now = switchboard_core::clock::api_time(req.now);
    let contact = validated(Contact {
        id: ids::new_id_at(prefix::CONTACT, req.now),
        phone,
        name: input.name,
        email: input.email,
        timezone: input.timezone,
        attributes: input.attributes,
        created_at: now,
        updated_at: now,
        ..blank_contact()
    })?;
    let stored = state
        .contacts
        .insert(req.workspace_id()?, &contact, None, &[])
        .await
        .map_err(|e| phone_conflict(e.into()))?;
    Ok(Reply::created_versioned(&stored))
}

/// Points a uniqueness conflict at the `phone` parameter.
fn phone_conflict(e: ApiError) -> ApiError {
    if e.code == ErrorCode::PhoneNumberTaken {
        ApiError::param(
            ErrorCode::PhoneNumberTaken,
            "phone",
            "Another contact in this workspace has this phone number.",
        )
    } else {
        e
    }
}

async fn get(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    crud::get(state.contacts.as_ref(), &req).await
}

async fn update(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let patch: UpdateContact = req.json()?;
    let phone = match &patch.phone {
        Some(raw) => Some(state.phone(&req, "phone", raw).await?),
        None => None,
    };
    let now = switchboard_core::clock::api_time(req.now);
    let updated = crud::update(state.contacts.as_ref(), &req, req.param("id"), |mut contact| {
        if let Some(phone) = &phone {
            contact.phone = phone.clone();
        }
        patch.name.clone().apply(&mut contact.name);
        patch.email.clone().apply(&mut contact.email);
        patch.timezone.clone().apply(&mut contact.timezone);
        for (key, value) in patch.attributes.clone().unwrap_or_default() {
            match value {
                Some(value) => contact.attributes.insert(key, value),
                None => contact.attributes.remove(&key),
            };
        }
        contact.updated_at = now;
        Ok((validated(contact)?, Vec::new()))
    })
    .await
    .map_err(phone_conflict)?;
    Ok(Reply::versioned(&updated))
}

async fn delete(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let deleted = crud::delete(state.contacts.as_ref(), &req, req.param("id"), None).await?;
    Ok(Reply::ok(&Deleted::new(&deleted.value.id, "contact")))
}
