//! Appointments: times booked with a contact, by the API or by an agent during a conversation.
//!
//! The workspace has one calendar: confirmed appointments may not overlap. Each confirmed
//! appointment holds a guard item per 5-minute slot it covers, written in the same transaction,
//! so two overlapping bookings cannot both succeed.

use chrono::{DateTime, Duration, Timelike, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::object_name;

object_name!(AppointmentObject, "appointment");

/// Appointment times are multiples of this.
pub const SLOT_MINUTES: i64 = 5;
/// The longest appointment.
pub const MAX_APPOINTMENT: Duration = Duration::hours(4);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    Confirmed,
    Cancelled,
    Completed,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Appointment {
    #[schema(example = "apt_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: AppointmentObject,
    pub contact_id: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub title: String,
    pub notes: Option<String>,
    pub status: AppointmentStatus,
    /// The agent that booked it, when an agent did.
    pub agent_id: Option<String>,
    /// The conversation it was booked in.
    pub conversation_id: Option<String>,
    /// The call it was booked on.
    pub call_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Whether `at` is on a slot boundary.
pub fn on_slot(at: DateTime<Utc>) -> bool {
    at.second() == 0 && at.nanosecond() == 0 && i64::from(at.minute()) % SLOT_MINUTES == 0
}

resource!(Appointment, APPOINTMENT, AppointmentNotFound);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appointments_start_and_end_on_five_minute_slots() {
        let start: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        assert!(on_slot(start) && !on_slot(start + Duration::minutes(7)));
    }
}
