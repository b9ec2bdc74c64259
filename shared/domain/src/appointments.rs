//! Booking appointments, for the API and for agents' `book_appointment` tool alike.

use chrono::{DateTime, Utc};

use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{
    Appointment, AppointmentObject, AppointmentStatus, Contact, Event, EventType, MAX_APPOINTMENT, SLOT_MINUTES,
    on_slot,
};
use switchboard_core::ports::{Repository, Versioned};
use switchboard_core::validate;
use switchboard_core::{Error, ErrorCode, StoreError};

/// What is needed to book.
#[derive(Debug, Clone)]
pub struct Booking {
    pub contact_id: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub title: String,
    pub notes: Option<String>,
    pub agent_id: Option<String>,
    pub conversation_id: Option<String>,
    pub call_id: Option<String>,
}

/// Checks an appointment's times: on 5-minute boundaries, ending after they start, at most 4 h.
pub fn check_times(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<(), Error> {
    for (param, at) in [("start_time", start), ("end_time", end)] {
        if !on_slot(at) {
            return Err(Error::validation(
                param,
                format!("`{param}` must be on a {SLOT_MINUTES}-minute boundary, e.g. 10:00 or 10:05."),
            ));
        }
    }
    if end <= start {
        return Err(Error::validation("end_time", "`end_time` must be after `start_time`."));
    }
    if end - start > MAX_APPOINTMENT {
        return Err(Error::validation("end_time", "An appointment lasts at most 4 hours."));
    }
    Ok(())
}

/// The error for a write refused because another appointment holds the time.
pub fn store_error(e: StoreError) -> Error {
    match e {
        StoreError::Conflict(ErrorCode::AppointmentConflict) => Error::invalid(
            ErrorCode::AppointmentConflict,
            "start_time",
            "Another confirmed appointment overlaps this time.",
        ),
        e => e.into(),
    }
}

/// Books a confirmed appointment for a contact of the workspace (`appointment.created`).
pub async fn book(
    appointments: &dyn Repository<Appointment>,
    contacts: &dyn Repository<Contact>,
    workspace_id: &str,
    booking: Booking,
    now: DateTime<Utc>,
) -> Result<Versioned<Appointment>, Error> {
    check_times(booking.start_time, booking.end_time)?;
    let title = validate::text("title", &booking.title, 1, 200)?;
    let notes = booking
        .notes
        .map(|n| validate::text("notes", &n, 0, 2000))
        .transpose()?;
    let contact_exists = ids::is_valid(prefix::CONTACT, &booking.contact_id)
        && contacts.get(workspace_id, &booking.contact_id).await?.is_some();
    if !contact_exists {
        return Err(Error::invalid(
            ErrorCode::ContactNotFound,
            "contact_id",
            "No contact with this id in the workspace.",
        ));
    }
    let at = switchboard_core::clock::api_time(now);
    let appointment = Appointment {
        id: ids::new_id_at(prefix::APPOINTMENT, now),
        object: AppointmentObject,
        contact_id: booking.contact_id,
        start_time: booking.start_time,
        end_time: booking.end_time,
        title,
        notes,
        status: AppointmentStatus::Confirmed,
        agent_id: booking.agent_id,
        conversation_id: booking.conversation_id,
        call_id: booking.call_id,
        created_at: at,
        updated_at: at,
    };
    let event = Event::new(EventType::AppointmentCreated, now, &appointment);
    appointments
        .insert(workspace_id, &appointment, None, &[event])
        .await
        .map_err(store_error)
}
