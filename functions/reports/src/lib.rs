//! `reports`: the weekly report (`GET /v1/reports/weekly`), a PDF of a period's calls,
//! connect rate, minutes, cost, outcomes, approvals, objections heard and campaigns.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use http::Method;
use switchboard_core::model::{Approval, Call, Campaign};
use switchboard_core::ports::{AccountStore, ListQuery, Repository};
use switchboard_core::{ErrorCode, StoreError};
use switchboard_http::{ApiError, Platform, QueryParam, Reply, Request, Route, Service};
use switchboard_store::DynamoStore;

pub mod pdf;
pub mod summary;

pub struct State {
    pub accounts: Arc<dyn AccountStore>,
    pub calls: Arc<dyn Repository<Call>>,
    pub approvals: Arc<dyn Repository<Approval>>,
    pub campaigns: Arc<dyn Repository<Campaign>>,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn service(platform: Arc<Platform>, store: &DynamoStore) -> Service<State> {
    let state = State {
        accounts: Arc::new(store.clone()),
        calls: Arc::new(store.clone()),
        approvals: Arc::new(store.clone()),
        campaigns: Arc::new(store.clone()),
    };
    Service::new(platform, state, routes())
}

const TAG: &str = "Reports";
/// The longest period a report covers.
pub const MAX_DAYS: i64 = 31;
/// Items read at once while walking a period.
const PAGE: u32 = 500;

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/reports/weekly", weekly)
            .doc(TAG, "weeklyReport", "The weekly report, as a PDF")
            .describe(
                "A PDF of the period's calls, connect rate, minutes and cost, how calls ended and their outcomes, \
                 approvals requested and decided, the objections heard most (from the objection library), calls \
                 per day as a chart, and a table per campaign. The period is the last 7 days unless `from` and \
                 `to` say otherwise (at most 31 days).",
            )
            .query([
                QueryParam::string(
                    "from",
                    "Start of the period (ISO 8601, or a date). Default: 7 days before `to`.",
                ),
                QueryParam::string("to", "End of the period (ISO 8601, or a date: its end). Default: now."),
            ])
            .returns_nothing(200, "application/pdf."),
    ]
}

/// Every item of a collection made in the period.
async fn all_in<T: switchboard_core::ports::Resource>(
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

async fn weekly(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let ws = req.workspace_id()?;
    let to = req.query_time("to", true)?.unwrap_or(req.now);
    let from = req.query_time("from", false)?.unwrap_or(to - Duration::days(7));
    if from >= to {
        return Err(ApiError::param(
            ErrorCode::ValidationFailed,
            "from",
            "`from` must be before `to`.",
        ));
    }
    if to - from > Duration::days(MAX_DAYS) {
        return Err(ApiError::param(
            ErrorCode::ValidationFailed,
            "from",
            format!("A report covers at most {MAX_DAYS} days."),
        ));
    }
    let workspace = state
        .accounts
        .get_workspace(ws)
        .await?
        .map(|w| w.name)
        .unwrap_or_default();
    let calls = all_in(state.calls.as_ref(), ws, (from, to)).await?;
    let approvals = all_in(state.approvals.as_ref(), ws, (from, to)).await?;
    let mut names = HashMap::new();
    for id in calls.iter().filter_map(|c| c.campaign_id.as_ref()) {
        if !names.contains_key(id)
            && let Some(campaign) = state.campaigns.get(ws, id).await?
        {
            names.insert(id.clone(), campaign.value.name);
        }
    }
    let summary = summary::summarise(&workspace, (from, to), &calls, &approvals, &names);
    let bytes = pdf::render(&summary);
    let file = format!(
        "inline; filename=\"switchboard-report-{}-{}.pdf\"",
        from.format("%Y%m%d"),
        to.format("%Y%m%d")
    );
    Ok(Reply::raw("application/pdf", bytes).header(http::header::CONTENT_DISPOSITION, &file))
}
