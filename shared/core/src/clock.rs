//! The time source. Handlers read time from here so tests can move it.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, SubsecRound, Utc};

#[derive(Clone, Default)]
pub enum Clock {
    #[default]
    System,
    /// A clock tests set and advance by hand.
    Manual(Arc<Mutex<DateTime<Utc>>>),
}

impl Clock {
    pub fn manual(start: DateTime<Utc>) -> Self {
        Clock::Manual(Arc::new(Mutex::new(start)))
    }

    /// Now, to the millisecond.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now().trunc_subsecs(3),
            Clock::Manual(t) => *t.lock().expect("clock lock"),
        }
    }

    /// Moves a manual clock forward; does nothing to the system clock.
    pub fn advance(&self, by: chrono::Duration) {
        if let Clock::Manual(t) = self {
            let mut t = t.lock().expect("clock lock");
            *t += by;
        }
    }
}

/// A timestamp as the API shows it: ISO 8601 UTC to the second (`2026-05-07T10:30:00Z`).
pub fn api_time(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(0)
}
