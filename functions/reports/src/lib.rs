//! `reports`: the weekly report (`GET /v1/reports/weekly`), a PDF of a period's calls,
//! connect rate, minutes, cost, outcomes, approvals, objections heard and campaigns.

use std::sync::Arc;

use chrono::Duration;
use http::Method;
use switchboard_core::ErrorCode;
use switchboard_core::model::{Approval, Call, Campaign};
use switchboard_core::ports::{Repository, Workspaces};
use switchboard_http::{ApiError, Platform, QueryParam, Reply, Request, Route, Service};
use switchboard_reports::{Sources, pdf};
use switchboard_store::DynamoStore;

pub struct State {
    pub accounts: Arc<dyn Workspaces>,
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
    let sources = Sources {
        accounts: state.accounts.as_ref(),
        calls: state.calls.as_ref(),
        approvals: state.approvals.as_ref(),
        campaigns: state.campaigns.as_ref(),
    };
    let summary = switchboard_reports::gather(sources, ws, (from, to)).await?;
    let bytes = pdf::render(&summary);
    let file = format!(
        "inline; filename=\"switchboard-report-{}-{}.pdf\"",
        from.format("%Y%m%d"),
        to.format("%Y%m%d")
    );
    Ok(Reply::raw("application/pdf", bytes).header(http::header::CONTENT_DISPOSITION, &file))
}
