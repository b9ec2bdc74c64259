//! What a report says, worked out from the period's calls and approvals.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use switchboard_core::model::{Approval, ApprovalStatus, Call, MessageRole, objection_heard};

/// One row of the per-campaign table (or of the calls placed outside campaigns).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub name: String,
    pub calls: u64,
    pub connected: u64,
    pub seconds: u64,
    pub cost_minor: i64,
}

impl Row {
    fn add(&mut self, call: &Call) {
        self.calls += 1;
        self.connected += u64::from(call.answered_at.is_some());
        self.seconds += u64::from(call.duration_seconds.unwrap_or(0));
        self.cost_minor += call.cost.as_ref().map_or(0, |c| c.amount_minor);
    }

    /// Connected calls as a share of all, in per cent.
    pub fn connect_rate(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            self.connected as f64 * 100.0 / self.calls as f64
        }
    }

    pub fn minutes(&self) -> f64 {
        self.seconds as f64 / 60.0
    }
}

/// A period's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub workspace: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub currency: String,
    pub totals: Row,
    /// Calls by how they ended (`completed`, `busy`...), most first.
    pub statuses: Vec<(String, u64)>,
    /// Calls by the outcome their analysis gave, most first.
    pub outcomes: Vec<(String, u64)>,
    pub approvals_requested: u64,
    pub approvals_decided: u64,
    /// The library's objections heard on calls, most first (at most five).
    pub objections: Vec<(String, u64)>,
    /// Each day's calls: (day, calls, connected).
    pub days: Vec<(NaiveDate, u64, u64)>,
    pub campaigns: Vec<Row>,
}

/// Counts, most first, then by name.
fn ranked(counts: HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut ranked: Vec<(String, u64)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked
}

/// The summary of `calls` and `approvals` made in the period; `campaign_names` names the
/// campaigns' rows.
pub fn summarise(
    workspace: &str,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    calls: &[Call],
    approvals: &[Approval],
    campaign_names: &HashMap<String, String>,
) -> Summary {
    let mut totals = Row::default();
    let (mut statuses, mut outcomes, mut objections) = (HashMap::new(), HashMap::new(), HashMap::new());
    let mut days: BTreeMap<NaiveDate, (u64, u64)> = BTreeMap::new();
    let mut day = from.date_naive();
    while day <= to.date_naive() {
        days.insert(day, (0, 0));
        day = day.succ_opt().expect("a day after");
    }
    let mut campaigns: BTreeMap<Option<String>, Row> = BTreeMap::new();
    let mut currency = None;
    for call in calls {
        totals.add(call);
        if let Some(cost) = &call.cost {
            currency.get_or_insert_with(|| cost.currency.clone());
        }
        *statuses.entry(call.status.as_str().to_owned()).or_default() += 1;
        if let Some(outcome) = &call.outcome {
            *outcomes.entry(outcome.clone()).or_default() += 1;
        }
        let entry = days.entry(call.created_at.date_naive()).or_default();
        entry.0 += 1;
        entry.1 += u64::from(call.answered_at.is_some());
        campaigns.entry(call.campaign_id.clone()).or_default().add(call);
        // Each objection counts once per call, however often it was raised.
        let mut heard: Vec<&str> = call
            .transcript
            .iter()
            .filter(|m| m.role == MessageRole::User)
            .filter_map(|m| objection_heard(&m.content.to_lowercase()))
            .map(|o| o.objection)
            .collect();
        heard.sort_unstable();
        heard.dedup();
        for objection in heard {
            *objections.entry(objection.to_owned()).or_default() += 1;
        }
    }
    let campaigns = campaigns
        .into_iter()
        .map(|(id, mut row)| {
            row.name = match id {
                Some(id) => campaign_names.get(&id).cloned().unwrap_or(id),
                None => "Calls outside campaigns".into(),
            };
            row
        })
        .collect();
    let mut objections = ranked(objections);
    objections.truncate(5);
    Summary {
        workspace: workspace.to_owned(),
        from,
        to,
        currency: currency.unwrap_or_else(|| switchboard_core::model::CURRENCY.to_owned()),
        totals,
        statuses: ranked(statuses),
        outcomes: ranked(outcomes),
        approvals_requested: approvals.len() as u64,
        approvals_decided: approvals
            .iter()
            .filter(|a| matches!(a.status, ApprovalStatus::Approved | ApprovalStatus::Denied))
            .count() as u64,
        objections,
        days: days
            .into_iter()
            .map(|(day, (calls, connected))| (day, calls, connected))
            .collect(),
        campaigns,
    }
}
