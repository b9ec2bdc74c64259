//! `appointments`: the workspace's calendar (`/v1/appointments`). Agents book through the same
//! service during conversations.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use http::Method;
use serde::Deserialize;
use serde_json::json;
use switchboard_core::model::{Appointment, AppointmentStatus, Contact, Event, EventType};
use switchboard_core::ports::{ListBy, ListQuery, Repository};
use switchboard_core::{ErrorCode, StoreError, validate};
use switchboard_domain::appointments::{self, Booking};
use switchboard_http::crud;
use switchboard_http::{ApiError, Patch, Platform, QueryParam, Reply, Request, Route, Service, set};
use switchboard_store::DynamoStore;
use utoipa::ToSchema;

pub struct State {
    pub appointments: Arc<dyn Repository<Appointment>>,
    pub contacts: Arc<dyn Repository<Contact>>,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn service(platform: Arc<Platform>, store: &DynamoStore) -> Service<State> {
    let state = State {
        appointments: Arc::new(store.clone()),
        contacts: Arc::new(store.clone()),
    };
    Service::new(platform, state, routes())
}

const TAG: &str = "Appointments";

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/appointments", list)
            .doc(TAG, "listAppointments", "List appointments")
            .describe("By start time, earliest first. `from` and `to` bound the start time (dates or ISO 8601 times).")
            .query([
                QueryParam::string("status", "`confirmed`, `cancelled` or `completed`."),
                QueryParam::string("from", "Earliest start (inclusive)."),
                QueryParam::string("to", "Latest start (inclusive; a date means its whole day)."),
                QueryParam::string("contact_id", "Only this contact's appointments."),
            ])
            .returns_list::<Appointment>("A page of appointments."),
        Route::new(Method::POST, "/v1/appointments", create)
            .doc(TAG, "createAppointment", "Book an appointment")
            .describe("Times are on 5-minute boundaries, at most 4 hours long; confirmed appointments of a workspace never overlap (409 `appointment_conflict`).")
            .body::<CreateAppointment>(|| {
                json!({"contact_id": "con_01JD3QZ9R6X4Y7T2W8V5N1M0KA", "start_time": "2026-12-01T10:00:00Z",
                       "end_time": "2026-12-01T10:30:00Z", "title": "Product demo", "notes": "Interested in the CRM integration"})
            })
            .returns::<Appointment>(201, "The appointment."),
        Route::new(Method::GET, "/v1/appointments/{id}", get)
            .doc(TAG, "getAppointment", "Get an appointment")
            .returns::<Appointment>(200, "The appointment."),
        Route::new(Method::PATCH, "/v1/appointments/{id}", update)
            .doc(TAG, "updateAppointment", "Reschedule, cancel or complete an appointment")
            .body::<UpdateAppointment>(|| json!({"status": "cancelled"}))
            .returns::<Appointment>(200, "The updated appointment."),
    ]
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAppointment {
    pub contact_id: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    #[schema(max_length = 200)]
    pub title: String,
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAppointment {
    #[serde(default, deserialize_with = "switchboard_http::not_null")]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "switchboard_http::not_null")]
    pub end_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "switchboard_http::not_null")]
    #[schema(max_length = 200)]
    pub title: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub notes: Patch<String>,
    #[serde(default, deserialize_with = "switchboard_http::not_null")]
    pub status: Option<AppointmentStatus>,
}

async fn list(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let status = req.query_as::<AppointmentStatus>("status", "confirmed, cancelled or completed")?;
    let (from, to) = req.period()?;
    let contact = req.query("contact_id");
    let filters = format!("status={status:?}&from={from:?}&to={to:?}&contact={contact:?}");
    let page = req.page(&filters)?;
    let query = ListQuery {
        by: contact.map_or(ListBy::All, |c| ListBy::Contact(c.to_owned())),
        from,
        to,
        equals: status
            .map(|s| vec![("status", json!(s).as_str().unwrap_or_default().to_owned())])
            .unwrap_or_default(),
        ascending: true,
        ..ListQuery::from(page)
    };
    let found = state
        .appointments
        .query(req.workspace_id()?, &query)
        .await
        .map_err(appointments::store_error)?;
    Ok(req.list_versioned(found, &filters))
}

async fn create(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: CreateAppointment = req.json()?;
    let booking = Booking {
        contact_id: input.contact_id,
        start_time: input.start_time,
        end_time: input.end_time,
        title: input.title,
        notes: input.notes,
        agent_id: None,
        conversation_id: None,
        call_id: None,
    };
    let booked = appointments::book(
        state.appointments.as_ref(),
        state.contacts.as_ref(),
        req.workspace_id()?,
        booking,
        req.now,
    )
    .await?;
    Ok(Reply::created_versioned(&booked))
}

async fn get(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    crud::get(state.appointments.as_ref(), &req).await
}

async fn update(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let patch: UpdateAppointment = req.json()?;
    let title = patch
        .title
        .as_deref()
        .map(|t| validate::text("title", t, 1, 200))
        .transpose()?;
    let notes = patch
        .notes
        .clone()
        .map(|n| validate::text("notes", &n, 0, 2000))
        .transpose_patch()?;
    let now = req.now;
    let updated = crud::update(state.appointments.as_ref(), &req, req.param("id"), |mut appointment| {
        set(&mut appointment.start_time, &patch.start_time);
        set(&mut appointment.end_time, &patch.end_time);
        appointments::check_times(appointment.start_time, appointment.end_time)?;
        if let Some(title) = &title {
            appointment.title.clone_from(title);
        }
        notes.clone().apply(&mut appointment.notes);
        set(&mut appointment.status, &patch.status);
        appointment.updated_at = switchboard_core::clock::api_time(now);
        let event = Event::new(EventType::AppointmentUpdated, now, &appointment);
        Ok((appointment, vec![event]))
    })
    .await
    .map_err(|e| {
        if e.code == ErrorCode::AppointmentConflict {
            ApiError::from(appointments::store_error(StoreError::Conflict(e.code)))
        } else {
            e
        }
    })?;
    Ok(Reply::versioned(&updated))
}
