//! Campaigns: an agent calling a list of people (the targets) from one number, inside a call
//! window, a number of calls at a time, with retries.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::call::CallStatus;
use crate::object_name;

object_name!(CampaignObject, "campaign");
object_name!(TargetObject, "campaign_target");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    Draft,
    /// Started, waiting for its `scheduled_start`.
    Scheduled,
    Active,
    Paused,
    Completed,
    Cancelled,
}

impl CampaignStatus {
    pub fn is_final(self) -> bool {
        matches!(self, CampaignStatus::Completed | CampaignStatus::Cancelled)
    }
}

/// Days of the week, as the call window names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    pub const ALL: [Day; 7] = [Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri, Day::Sat, Day::Sun];

    fn of(weekday: Weekday) -> Self {
        Self::ALL[weekday.num_days_from_monday() as usize]
    }
}

/// The earliest and latest a callee is ever called, in their own time: whatever a window says.
pub const EARLIEST: NaiveTime = NaiveTime::from_hms_opt(8, 0, 0).expect("a time");
pub const LATEST: NaiveTime = NaiveTime::from_hms_opt(21, 0, 0).expect("a time");

/// When calls may be placed, in the callee's local time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallWindow {
    /// `HH:MM`, local.
    #[schema(example = "09:00")]
    pub start: String,
    /// `HH:MM`, local, after `start`.
    #[schema(example = "17:00")]
    pub end: String,
    /// The days calls are placed on; every day when left out.
    #[serde(default = "every_day")]
    pub days: Vec<Day>,
}

fn every_day() -> Vec<Day> {
    Day::ALL.to_vec()
}

fn hh_mm(raw: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(raw, "%H:%M").ok()
}

impl CallWindow {
    /// Start and end, parsed, narrowed to 08:00–21:00; `None` when malformed or empty.
    pub fn bounds(&self) -> Option<(NaiveTime, NaiveTime)> {
        let (start, end) = (hh_mm(&self.start)?, hh_mm(&self.end)?);
        let (start, end) = (start.max(EARLIEST), end.min(LATEST));
        (start < end && !self.days.is_empty()).then_some((start, end))
    }

    /// Whether `at` is inside the window in `tz`.
    pub fn contains(&self, at: DateTime<Utc>, tz: Tz) -> bool {
        let Some((start, end)) = self.bounds() else {
            return false;
        };
        let local = at.with_timezone(&tz);
        let time = local.time();
        self.days.contains(&Day::of(local.weekday())) && time >= start && time < end
    }

    /// The first moment from `at` on that is inside the window in `tz` (`at` itself when it
    /// is); `None` for a window that never opens.
    pub fn next_open(&self, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        if self.contains(at, tz) {
            return Some(at);
        }
        let (start, _) = self.bounds()?;
        let today = at.with_timezone(&tz).date_naive();
        (0..8).find_map(|offset| {
            let date = today + Duration::days(offset);
            if !self.days.contains(&Day::of(date.weekday())) {
                return None;
            }
            // A start that falls in a DST gap opens when the clocks have jumped.
            let open = (0..3).find_map(|hours| {
                tz.from_local_datetime(&date.and_time(start + Duration::hours(hours)))
                    .earliest()
            })?;
            let open = open.with_timezone(&Utc);
            (open > at).then_some(open)
        })
    }
}

/// Which calls are tried again, how often and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Calls to one target at most, the first included (1 to 10).
    #[schema(minimum = 1, maximum = 10)]
    pub max_attempts: u32,
    /// The outcomes that are tried again: `busy`, `no-answer`, `failed`, `voicemail`.
    #[serde(default)]
    pub retry_on: Vec<CallStatus>,
    /// Seconds before trying again (60 to 604800).
    #[schema(minimum = 60, maximum = 604800)]
    pub retry_delay_seconds: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 1,
            retry_on: Vec::new(),
            retry_delay_seconds: 3600,
        }
    }
}

/// How the agent conducts the campaign's calls, generated from `nl_prompt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RuleBook {
    pub system_prompt: String,
    pub opening: String,
    pub objection_handlers: Vec<ObjectionHandler>,
    pub closing: String,
    /// What the agent must never do or say.
    pub never: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ObjectionHandler {
    pub objection: String,
    pub response: String,
}

/// A signed-in user's attestation that the people called consented to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Compliance {
    pub consent_statement: String,
    pub attested_by: String,
    pub attested_at: DateTime<Utc>,
}

/// A campaign's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CampaignStats {
    /// Targets in the audience.
    pub targets_total: u64,
    /// Targets waiting for a call (retries included).
    pub pending: u64,
    /// Calls under way now.
    pub in_flight: u64,
    /// Calls placed.
    pub calls_total: u64,
    /// Targets whose call was answered and completed.
    pub calls_completed: u64,
    /// Targets given up on: their last call failed and no retry is left.
    pub calls_failed: u64,
    /// Targets skipped at dial time: on a do-not-call list, a registry, or in a cool-down.
    pub skipped: u64,
    /// Chunks of audience imports not written yet: the campaign neither starts nor completes
    /// while some are.
    #[serde(skip)]
    pub chunks_pending: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Campaign {
    #[schema(example = "cmp_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: CampaignObject,
    pub name: String,
    pub agent_id: String,
    pub phone_number_id: String,
    pub status: CampaignStatus,
    pub scheduled_start: Option<DateTime<Utc>>,
    /// IANA time zone of callees whose own zone is not known.
    #[schema(example = "America/New_York")]
    pub timezone: String,
    pub call_window: CallWindow,
    pub max_concurrent_calls: u32,
    pub retry_policy: RetryPolicy,
    pub nl_prompt: Option<String>,
    pub rule_book: Option<RuleBook>,
    pub compliance: Option<Compliance>,
    /// Why the campaign paused itself, when it did.
    pub paused_reason: Option<String>,
    /// Counters, kept on their own item.
    #[serde(default, skip_deserializing)]
    pub stats: CampaignStats,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Campaign {
    pub fn tz(&self) -> Tz {
        self.timezone.parse().unwrap_or(Tz::UTC)
    }
}

resource!(Campaign, CAMPAIGN, CampaignNotFound);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetStatus {
    /// Waiting for a call (its first, or a retry) at `next_attempt_at`.
    Pending,
    /// A call holds a slot for it until `lease_until`.
    Dialing,
    Completed,
    Failed,
    /// On a do-not-call list, a registry or in a cool-down when its turn came.
    Skipped,
}

/// One person a campaign calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Target {
    #[schema(example = "tgt_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: TargetObject,
    pub campaign_id: String,
    /// E.164; one target per number in a campaign.
    pub phone: String,
    pub name: Option<String>,
    pub contact_id: Option<String>,
    /// The callee's IANA time zone, when known.
    pub timezone: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub status: TargetStatus,
    /// Calls placed to the target.
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_call_id: Option<String>,
    pub last_outcome: Option<CallStatus>,
    pub skip_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

object_name!(AudienceImportObject, "audience_import");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    Processing,
    Completed,
}

/// An audience upload and what became of its rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AudienceCounts {
    pub accepted: u64,
    pub rejected_dnc: u64,
    pub rejected_cooldown: u64,
    pub rejected_invalid: u64,
    pub rejected_duplicate: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AudienceImport {
    #[schema(example = "imp_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: AudienceImportObject,
    pub campaign_id: String,
    pub status: ImportStatus,
    /// Rows in the upload.
    pub rows: u64,
    #[serde(flatten)]
    pub counts: AudienceCounts,
    /// Targets of the campaign once the import is done.
    pub total_targets: Option<u64>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// Countries with a single time zone: the zone of a number from one of them is its country's.
const ONE_ZONE: &[(&str, Tz)] = &[
    ("AE", Tz::Asia__Dubai),
    ("AT", Tz::Europe__Vienna),
    ("BD", Tz::Asia__Dhaka),
    ("BE", Tz::Europe__Brussels),
    ("CH", Tz::Europe__Zurich),
    ("CZ", Tz::Europe__Prague),
    ("DK", Tz::Europe__Copenhagen),
    ("EG", Tz::Africa__Cairo),
    ("FI", Tz::Europe__Helsinki),
    ("FR", Tz::Europe__Paris),
    ("GB", Tz::Europe__London),
    ("GH", Tz::Africa__Accra),
    ("GR", Tz::Europe__Athens),
    ("HK", Tz::Asia__Hong_Kong),
    ("HU", Tz::Europe__Budapest),
    ("IE", Tz::Europe__Dublin),
    ("IL", Tz::Asia__Jerusalem),
    ("IN", Tz::Asia__Kolkata),
    ("IT", Tz::Europe__Rome),
    ("JP", Tz::Asia__Tokyo),
    ("KE", Tz::Africa__Nairobi),
    ("KR", Tz::Asia__Seoul),
    ("LK", Tz::Asia__Colombo),
    ("NG", Tz::Africa__Lagos),
    ("NL", Tz::Europe__Amsterdam),
    ("NO", Tz::Europe__Oslo),
    ("NP", Tz::Asia__Kathmandu),
    ("PH", Tz::Asia__Manila),
    ("PK", Tz::Asia__Karachi),
    ("PL", Tz::Europe__Warsaw),
    ("QA", Tz::Asia__Qatar),
    ("RO", Tz::Europe__Bucharest),
    ("SA", Tz::Asia__Riyadh),
    ("SE", Tz::Europe__Stockholm),
    ("SG", Tz::Asia__Singapore),
    ("TH", Tz::Asia__Bangkok),
    ("TW", Tz::Asia__Taipei),
    ("VN", Tz::Asia__Ho_Chi_Minh),
    ("ZA", Tz::Africa__Johannesburg),
];

/// The callee's time zone: theirs when known, the country's when the number's country has
/// only one, else the campaign's.
pub fn callee_zone(target: &Target, campaign: &Campaign) -> Tz {
    if let Some(zone) = target.timezone.as_deref().and_then(|z| z.parse().ok()) {
        return zone;
    }
    let country = phonenumber::parse(None, &target.phone)
        .ok()
        .and_then(|n| n.country().id())
        .map(|id| id.as_ref().to_owned());
    country
        .and_then(|c| ONE_ZONE.iter().find(|(code, _)| *code == c).map(|(_, tz)| *tz))
        .unwrap_or_else(|| campaign.tz())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(start: &str, end: &str, days: &[Day]) -> CallWindow {
        CallWindow {
            start: start.into(),
            end: end.into(),
            days: days.to_vec(),
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_window_is_local_time_and_never_before_8_or_after_21() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let w = window("06:00", "23:00", &Day::ALL);
        assert_eq!(w.bounds(), Some((EARLIEST, LATEST)));
        assert!(!w.contains(t("2026-06-01T11:59:00Z"), ny), "07:59 EDT");
        assert!(w.contains(t("2026-06-01T12:00:00Z"), ny), "08:00 EDT");
        assert!(!w.contains(t("2026-06-02T01:00:00Z"), ny), "21:00 EDT");
        assert_eq!(
            w.next_open(t("2026-06-02T01:30:00Z"), ny),
            Some(t("2026-06-02T12:00:00Z"))
        );
        assert!(window("10:00", "09:00", &Day::ALL).bounds().is_none());
        assert!(window("9am", "17:00", &Day::ALL).bounds().is_none());
    }

    #[test]
    fn the_window_follows_daylight_saving_time() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let w = window("09:00", "17:00", &Day::ALL);
        // Saturday 2026-03-07 09:00 is EST (14:00 UTC); Monday 2026-03-09 09:00 is EDT (13:00 UTC).
        assert_eq!(
            w.next_open(t("2026-03-07T13:30:00Z"), ny),
            Some(t("2026-03-07T14:00:00Z"))
        );
        assert_eq!(
            w.next_open(t("2026-03-09T12:30:00Z"), ny),
            Some(t("2026-03-09T13:00:00Z"))
        );
        assert!(w.contains(t("2026-03-09T13:00:00Z"), ny));
        assert!(!w.contains(t("2026-03-07T13:30:00Z"), ny));
    }

    #[test]
    fn a_window_skips_days_it_does_not_list() {
        let london: Tz = "Europe/London".parse().unwrap();
        let w = window("09:00", "17:00", &[Day::Mon]);
        // Friday 2026-06-05 10:00 BST: next is Monday 2026-06-08 09:00 BST.
        assert_eq!(
            w.next_open(t("2026-06-05T09:00:00Z"), london),
            Some(t("2026-06-08T08:00:00Z"))
        );
    }
}
