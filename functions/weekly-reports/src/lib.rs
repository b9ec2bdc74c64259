//! `weekly-reports`: on Monday mornings the schedule puts a start job on the report queue; it
//! becomes a job per workspace, and each mails the workspace's owners (active, with a verified
//! email) the report of the seven days before the last midnight (UTC) as a PDF. A week's report
//! goes out once per workspace: the note that it went is written after the mail, so a worker
//! that dies in between sends it again rather than never.

use std::sync::Arc;

use anyhow::Context;
use aws_lambda_events::event::sqs::SqsMessage;
use chrono::{Duration, NaiveDate, NaiveTime};
use switchboard_core::clock::Clock;
use switchboard_core::model::{Approval, Call, Campaign, Role, UserStatus};
use switchboard_core::ports::{
    Attachment, Mail, Mailer, ReportJob, ReportLog, ReportQueue, Repository, Team, Workspaces,
};
use switchboard_reports::{Sources, pdf, summary::Summary};
use switchboard_store::DynamoStore;

/// How long the note that a week's report went out is kept: past any retry of that week.
const NOTE_DAYS: i64 = 60;

pub struct State {
    pub accounts: Arc<dyn Workspaces>,
    pub team: Arc<dyn Team>,
    pub calls: Arc<dyn Repository<Call>>,
    pub approvals: Arc<dyn Repository<Approval>>,
    pub campaigns: Arc<dyn Repository<Campaign>>,
    pub log: Arc<dyn ReportLog>,
    pub queue: Arc<dyn ReportQueue>,
    /// The transport itself: a PDF is too large for the mail queue.
    pub mailer: Arc<dyn Mailer>,
    pub clock: Clock,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn state(store: &DynamoStore, queue: Arc<dyn ReportQueue>, mailer: Arc<dyn Mailer>, clock: Clock) -> State {
    State {
        accounts: Arc::new(store.clone()),
        team: Arc::new(store.clone()),
        calls: Arc::new(store.clone()),
        approvals: Arc::new(store.clone()),
        campaigns: Arc::new(store.clone()),
        log: Arc::new(store.clone()),
        queue,
        mailer,
        clock,
    }
}

/// Does one job.
pub async fn run(state: &State, job: ReportJob) -> anyhow::Result<()> {
    match job {
        ReportJob::Start => {
            let week_end = state.clock.now().date_naive();
            let jobs: Vec<ReportJob> = state
                .log
                .workspace_ids()
                .await?
                .into_iter()
                .map(|workspace_id| ReportJob::Workspace { workspace_id, week_end })
                .collect();
            tracing::info!(workspaces = jobs.len(), %week_end, "weekly reports started");
            state.queue.enqueue(&jobs).await
        }
        ReportJob::Workspace { workspace_id, week_end } => mail_report(state, &workspace_id, week_end).await,
    }
}

async fn mail_report(state: &State, ws: &str, week_end: NaiveDate) -> anyhow::Result<()> {
    if state.log.report_sent(ws, week_end).await? {
        return Ok(());
    }
    let owners: Vec<String> = state
        .team
        .members(ws)
        .await?
        .into_iter()
        .filter(|m| m.role == Role::Owner && m.status == UserStatus::Active && m.email_verified)
        .map(|m| m.email)
        .collect();
    if !owners.is_empty() {
        let to = week_end.and_time(NaiveTime::MIN).and_utc();
        let sources = Sources {
            accounts: state.accounts.as_ref(),
            calls: state.calls.as_ref(),
            approvals: state.approvals.as_ref(),
            campaigns: state.campaigns.as_ref(),
        };
        let summary = switchboard_reports::gather(sources, ws, (to - Duration::days(7), to)).await?;
        let file = Attachment {
            filename: format!(
                "switchboard-report-{}-{}.pdf",
                summary.from.format("%Y%m%d"),
                summary.to.format("%Y%m%d")
            ),
            content_type: "application/pdf".into(),
            content: pdf::render(&summary),
        };
        for owner in owners {
            let mail = Mail {
                to: owner,
                subject: format!("Your week on Switchboard: {}", summary.workspace),
                text: mail_text(&summary),
                kind: "weekly_report".into(),
                attachments: vec![file.clone()],
            };
            state.mailer.send(&mail).await.context("mailing the weekly report")?;
        }
    }
    let expires = state.clock.now() + Duration::days(NOTE_DAYS);
    state.log.note_report_sent(ws, week_end, expires.timestamp()).await?;
    Ok(())
}

/// The mail's text: the headline figures; the rest is in the PDF.
fn mail_text(summary: &Summary) -> String {
    let totals = &summary.totals;
    format!(
        "Your weekly report for {} ({} to {}) is attached.\n\n\
         Calls: {}\nConnect rate: {:.1}%\nMinutes: {}\nCost: {}\n\
         Approvals: {} requested, {} decided\n\n\
         You get this mail as an owner of the workspace.",
        summary.workspace,
        summary.from.format("%-d %B"),
        (summary.to - Duration::days(1)).format("%-d %B %Y"),
        totals.calls,
        totals.connect_rate(),
        totals.seconds.div_ceil(60),
        pdf::money(totals.cost_minor, &summary.currency),
        summary.approvals_requested,
        summary.approvals_decided,
    )
}

/// Does the job a queue message carries.
pub async fn handle(state: &State, message: SqsMessage) -> anyhow::Result<()> {
    let body = message.body.context("message without a body")?;
    let job: ReportJob = serde_json::from_str(&body).context("message is not a report job")?;
    run(state, job).await
}
