//! Appointments: times booked with a contact, by the API or by an agent during a conversation.
//!
//! The workspace has one calendar: confirmed appointments may not overlap. Each confirmed
//! appointment holds a guard item per 5-minute slot it covers, written in the same transaction,
//! so two overlapping bookings cannot both succeed.

use chrono::{DateTime, Duration, Timelike, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ErrorCode;
use crate::object_name;
use crate::ports::{Index, IndexEntry, Resource, UniqueValue};

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

fn sort_key(at: DateTime<Utc>, id: &str) -> String {
    format!("{}#{id}", at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// The GSI2 partition of a contact's appointments.
pub fn contact_partition(contact_id: &str) -> String {
    format!("CONTACT#{contact_id}")
}

/// The GSI1 partition of all appointments by start time.
pub const BY_START: &str = "START";

impl Resource for Appointment {
    const COLLECTION: &'static str = "APPOINTMENT";
    const ID_PREFIX: &'static str = crate::ids::prefix::APPOINTMENT;
    const NOT_FOUND: ErrorCode = ErrorCode::AppointmentNotFound;

    fn id(&self) -> &str {
        &self.id
    }

    fn unique_values(&self) -> Vec<UniqueValue> {
        if self.status != AppointmentStatus::Confirmed {
            return Vec::new();
        }
        let mut slots = Vec::new();
        let mut slot = self.start_time;
        while slot < self.end_time {
            slots.push(UniqueValue {
                kind: "APPOINTMENT_SLOT",
                value: slot.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                conflict: ErrorCode::AppointmentConflict,
                global: false,
            });
            slot += Duration::minutes(SLOT_MINUTES);
        }
        slots
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        vec![
            IndexEntry {
                index: Index::Gsi1,
                partition: BY_START.into(),
                sort: sort_key(self.start_time, &self.id),
            },
            IndexEntry {
                index: Index::Gsi2,
                partition: contact_partition(&self.contact_id),
                sort: sort_key(self.start_time, &self.id),
            },
            IndexEntry {
                index: Index::Timeline,
                partition: self.contact_id.clone(),
                sort: super::timeline_sort(self.created_at, &self.id),
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmed_appointments_hold_every_slot_they_cover() {
        let start: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        let mut a = Appointment {
            id: "apt_1".into(),
            object: AppointmentObject,
            contact_id: "con_1".into(),
            start_time: start,
            end_time: start + Duration::minutes(30),
            title: "Demo".into(),
            notes: None,
            status: AppointmentStatus::Confirmed,
            agent_id: None,
            conversation_id: None,
            call_id: None,
            created_at: start,
            updated_at: start,
        };
        let slots: Vec<String> = a.unique_values().into_iter().map(|u| u.value).collect();
        assert_eq!(slots.len(), 6);
        assert_eq!(slots[0], "2026-12-01T10:00:00Z");
        assert_eq!(slots[5], "2026-12-01T10:25:00Z");
        a.status = AppointmentStatus::Cancelled;
        assert!(a.unique_values().is_empty(), "cancelled appointments free their time");
        assert!(on_slot(start) && !on_slot(start + Duration::minutes(7)));
    }
}
