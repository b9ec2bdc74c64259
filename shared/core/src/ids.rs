//! Type-prefixed, time-sortable identifiers (`agt_01J...`): a prefix and a ULID.
//!
//! ULIDs sort by creation time, so a Query over ids returns newest or oldest first for free.

use std::sync::Mutex;
use std::time::SystemTime;

use chrono::{DateTime, SubsecRound, Utc};
use ulid::Ulid;

/// Id prefixes (the table is in `docs/conventions.md`).
pub mod prefix {
    pub const WORKSPACE: &str = "ws";
    pub const USER: &str = "usr";
    pub const API_KEY: &str = "key";
    pub const AGENT: &str = "agt";
    pub const CONTACT: &str = "con";
    pub const REQUEST: &str = "req";
    pub const SESSION: &str = "ses";
    pub const LEDGER_ENTRY: &str = "led";
    pub const EVENT: &str = "evt";
    pub const CALL: &str = "call";
    pub const APPOINTMENT: &str = "apt";
    pub const APPROVAL: &str = "apr";
    pub const NUMBER: &str = "num";
    pub const CONVERSATION: &str = "cnv";
    pub const WEBHOOK: &str = "wh";
    pub const DELIVERY: &str = "dlv";
    pub const CAMPAIGN: &str = "cmp";
    pub const TARGET: &str = "tgt";
    pub const IMPORT: &str = "imp";
    pub const ROLE: &str = "rol";
    pub const INVITATION: &str = "inv";
    pub const AUDIT_ENTRY: &str = "aud";
    pub const SECRET: &str = "sec";
    pub const CUSTOMER: &str = "cus";
    pub const CONNECTOR: &str = "cnr";
    pub const CONNECTION: &str = "cxn";
    pub const WORKFLOW: &str = "wf";
    pub const TRIGGER: &str = "trg";
    pub const EXECUTION: &str = "exe";
}

/// A new id created at `at`. Ids made in the same millisecond by this process are increasing,
/// so they list in the order they were made; ids of other milliseconds keep their own time.
pub fn new_id_at(prefix: &str, at: DateTime<Utc>) -> String {
    // The last id of each of the most recent milliseconds ids were made in (threads with
    // different clocks interleave).
    const REMEMBERED: usize = 64;
    static LAST: Mutex<Vec<Ulid>> = Mutex::new(Vec::new());
    let fresh = Ulid::from_datetime(SystemTime::from(at));
    let mut last = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let ulid = match last.iter().position(|u| u.timestamp_ms() == fresh.timestamp_ms()) {
        Some(i) => {
            let next = last[i].increment().unwrap_or(fresh);
            last.remove(i);
            next
        }
        None => fresh,
    };
    if last.len() == REMEMBERED {
        last.remove(0);
    }
    last.push(ulid);
    format!("{prefix}_{ulid}")
}

/// A new id created now.
pub fn new_id(prefix: &str) -> String {
    new_id_at(prefix, Utc::now())
}

/// Whether `id` is `<prefix>_<ULID>`. Ids of the wrong shape are answered as "not found".
/// The lowest and highest ids of `prefix` made between `from` and the end of the second `to`
/// is in (API times are whole seconds): ids sort by time, so a time range is a range of ids.
pub fn time_range(prefix: &str, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> (String, String) {
    let to = to.map(|t| t.trunc_subsecs(0) + chrono::Duration::milliseconds(999));
    let bound = |at: DateTime<Utc>, random: u128| {
        let ms = u64::try_from(at.timestamp_millis()).unwrap_or(0);
        format!("{prefix}_{}", Ulid::from_parts(ms, random))
    };
    (
        from.map_or_else(|| format!("{prefix}_0"), |at| bound(at, 0)),
        to.map_or_else(|| format!("{prefix}_~"), |at| bound(at, u128::MAX)),
    )
}

/// An id of `prefix` derived from `source` (an id) and `salt`: the same for the same two, made
/// in the millisecond of `source` — for work a retry must find rather than repeat (the
/// delivery of an event to an endpoint, the run an event starts through a trigger).
pub fn derived(prefix: &str, source: &str, salt: &str) -> String {
    let ms = source
        .rsplit('_')
        .next()
        .and_then(|ulid| Ulid::from_string(ulid).ok())
        .map_or(0, |ulid| ulid.timestamp_ms());
    derived_in(prefix, ms, &format!("{source}/{salt}"))
}

/// An id of `prefix` made in the millisecond of `at`, the same for the same `at` and `source`
/// (the run a schedule starts at a given minute).
pub fn derived_at(prefix: &str, at: DateTime<Utc>, source: &str) -> String {
    let ms = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    derived_in(prefix, ms, &format!("{source}@{}", at.timestamp()))
}

fn derived_in(prefix: &str, ms: u64, seed: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(seed);
    let mut random = [0u8; 16];
    random[6..].copy_from_slice(&digest[..10]);
    format!("{prefix}_{}", Ulid::from_parts(ms, u128::from_be_bytes(random)))
}

pub fn is_valid(prefix: &str, id: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|ulid| ulid.len() == 26 && Ulid::from_string(ulid).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_sort_by_time() {
        let earlier = new_id_at(prefix::AGENT, "2026-01-01T00:00:00Z".parse().unwrap());
        let later = new_id_at(prefix::AGENT, "2026-01-01T00:00:01Z".parse().unwrap());
        assert!(is_valid("agt", &earlier));
        assert!(earlier < later);
        assert!(!is_valid("con", &earlier));
        assert!(!is_valid("agt", "agt_nope"));
        assert!(!is_valid("agt", "agt01JD3QZ9R6X4Y7T2W8V5N1M0KA"));
    }

    #[test]
    fn a_time_range_holds_exactly_the_ids_made_in_it() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let (low, high) = time_range(
            prefix::CALL,
            Some(t("2026-01-01T00:00:00Z")),
            Some(t("2026-01-01T00:00:01Z")),
        );
        for inside in [
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00.500Z",
            "2026-01-01T00:00:01.999Z",
        ] {
            let id = new_id_at(prefix::CALL, t(inside));
            assert!(low <= id && id <= high, "{inside}");
        }
        for outside in ["2025-12-31T23:59:59.999Z", "2026-01-01T00:00:02Z"] {
            let id = new_id_at(prefix::CALL, t(outside));
            assert!(id < low || id > high, "{outside}");
        }
        let (low, high) = time_range(prefix::CALL, None, None);
        assert!(low < new_id(prefix::CALL) && new_id(prefix::CALL) < high);
    }

    #[test]
    fn ids_of_one_millisecond_increase() {
        let at: DateTime<Utc> = "2026-01-01T00:00:00.123Z".parse().unwrap();
        let ids: Vec<String> = (0..50).map(|_| new_id_at(prefix::AGENT, at)).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let earlier = new_id_at(prefix::AGENT, "2025-01-01T00:00:00Z".parse().unwrap());
        assert!(earlier < ids[0], "an earlier time still sorts first");
    }
}
