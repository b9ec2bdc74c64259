//! Schedules: a five-field cron read in an IANA time zone, and the minute it next falls on.

use std::str::FromStr;

use chrono::{DateTime, SubsecRound, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// The longest a cron may be written.
const MAX_CRON_LEN: usize = 100;

#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    zone: Tz,
}

/// Why a schedule was refused, and which field it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub field: &'static str,
    pub message: String,
}

impl Schedule {
    /// Minute, hour, day of month, month, day of week (names and `L`, `#` allowed; no seconds:
    /// the scheduler ticks once a minute), read in `timezone`.
    pub fn parse(cron: &str, timezone: &str) -> Result<Self, Refused> {
        let zone = Tz::from_str(timezone).map_err(|_| Refused {
            field: "timezone",
            message: format!("`{timezone}` is not an IANA time zone (`America/New_York`, `UTC`)."),
        })?;
        let refuse = |why: String| Refused {
            field: "cron",
            message: format!(
                "{why} A schedule is five fields: minute, hour, day of month, month, day of week (`0 9 * * MON-FRI`)."
            ),
        };
        if cron.len() > MAX_CRON_LEN {
            return Err(refuse(format!("At most {MAX_CRON_LEN} characters.")));
        }
        if cron.split_whitespace().count() != 5 && !cron.trim_start().starts_with('@') {
            return Err(refuse("Not five fields.".into()));
        }
        let parsed = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(cron)
            .map_err(|e| refuse(format!("{e}.")))?;
        let schedule = Schedule { cron: parsed, zone };
        if schedule.next_after(Utc::now()).is_none() {
            return Err(refuse("It never falls on a date.".into()));
        }
        Ok(schedule)
    }

    /// The first minute after `after` the schedule falls on, in UTC.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Whole seconds in: the occurrence found keeps the fraction of a second it is given.
        self.cron
            .find_next_occurrence(&after.trunc_subsecs(0).with_timezone(&self.zone), false)
            .ok()
            .map(|at| at.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn falls_on_the_zone_s_wall_clock_across_daylight_saving() {
        let nine = Schedule::parse("0 9 * * *", "America/New_York").unwrap();
        // Winter: UTC-5; summer: UTC-4. DST began 2026-03-08.
        assert_eq!(
            nine.next_after(at("2026-03-07T15:00:00Z")),
            Some(at("2026-03-08T13:00:00Z"))
        );
        assert_eq!(
            nine.next_after(at("2026-03-06T15:00:00Z")),
            Some(at("2026-03-07T14:00:00Z"))
        );
        let every_minute = Schedule::parse("* * * * *", "UTC").unwrap();
        assert_eq!(
            every_minute.next_after(Utc.with_ymd_and_hms(2026, 12, 3, 5, 30, 59).unwrap()),
            Some(at("2026-12-03T05:31:00Z"))
        );
        // On the minute, whatever fraction of a second it is asked from.
        assert_eq!(
            every_minute.next_after(at("2026-12-03T05:30:59.649Z")),
            Some(at("2026-12-03T05:31:00Z"))
        );
        // Strictly after: a run at 05:31:00 is not due again at 05:31:00.
        assert_eq!(
            every_minute.next_after(at("2026-12-03T05:31:00Z")),
            Some(at("2026-12-03T05:32:00Z"))
        );
        let weekdays = Schedule::parse("30 8 * * MON-FRI", "Europe/Paris").unwrap();
        // Friday 2026-12-04 after 08:30 Paris → Monday 07:30 UTC.
        assert_eq!(
            weekdays.next_after(at("2026-12-04T08:00:00Z")),
            Some(at("2026-12-07T07:30:00Z"))
        );
    }

    #[test]
    fn refuses_what_is_not_a_five_field_cron_in_a_zone() {
        for (cron, zone, field) in [
            ("* * * * * *", "UTC", "cron"),
            ("* * * *", "UTC", "cron"),
            ("61 * * * *", "UTC", "cron"),
            ("0 9 * * FUNDAY", "UTC", "cron"),
            ("0 0 31 2 *", "UTC", "cron"),
            ("0 9 * * *", "Mars/Olympus", "timezone"),
            ("0 9 * * *", "", "timezone"),
        ] {
            let refused = Schedule::parse(cron, zone).unwrap_err();
            assert_eq!(refused.field, field, "{cron} in {zone}");
        }
    }
}
