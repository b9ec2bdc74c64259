//! The weekly report: [`gather`] reads a workspace's period through the ports, [`summary`]
//! works out what it adds up to, [`pdf`] draws it. The `reports` function serves it; the
//! `weekly-reports` worker mails it to owners.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use switchboard_core::StoreError;
use switchboard_core::model::{Approval, Call, Campaign};
use switchboard_core::ports::{ListQuery, Repository, Resource, Workspaces};

pub mod pdf;
pub mod summary;

/// Items read at once while walking a period.
const PAGE: u32 = 500;

/// What a report reads.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    pub accounts: &'a dyn Workspaces,
    pub calls: &'a dyn Repository<Call>,
    pub approvals: &'a dyn Repository<Approval>,
    pub campaigns: &'a dyn Repository<Campaign>,
}

/// Every item of a collection made in the period.
async fn all_in<T: Resource>(
    repository: &dyn Repository<T>,
    ws: &str,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<T>, StoreError> {
    let query = ListQuery {
        from: Some(from),
        to: Some(to),
        ascending: true,
        limit: PAGE,
        ..ListQuery::default()
    };
    Ok(repository
        .query_all(ws, query)
        .await?
        .into_iter()
        .map(|v| v.value)
        .collect())
}

/// The workspace's report of the period `[from, to)`.
pub async fn gather(
    sources: Sources<'_>,
    ws: &str,
    period: (DateTime<Utc>, DateTime<Utc>),
) -> Result<summary::Summary, StoreError> {
    let workspace = sources
        .accounts
        .get_workspace(ws)
        .await?
        .map(|w| w.name)
        .unwrap_or_default();
    let calls = all_in(sources.calls, ws, period).await?;
    let approvals = all_in(sources.approvals, ws, period).await?;
    let mut names = HashMap::new();
    for id in calls.iter().filter_map(|c| c.campaign_id.as_ref()) {
        if !names.contains_key(id)
            && let Some(campaign) = sources.campaigns.get(ws, id).await?
        {
            names.insert(id.clone(), campaign.value.name);
        }
    }
    Ok(summary::summarise(&workspace, period, &calls, &approvals, &names))
}
