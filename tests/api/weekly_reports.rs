//! The weekly report mail: the schedule's start job reaches every workspace, and each
//! workspace's verified owners get its week as a PDF, once.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine as _;
use chrono::{Duration, NaiveDate};
use serde_json::Value;
use switchboard_core::clock::Clock;
use switchboard_core::model::Call;
use switchboard_core::ports::{ReportJob, ReportQueue, Repository};
use switchboard_tests::{TestApp, random_suffix};

use crate::reports::{call, poppler};

/// The report queue, as what the start job put on it.
#[derive(Default)]
struct Queued(Mutex<Vec<ReportJob>>);

#[async_trait]
impl ReportQueue for Queued {
    async fn enqueue(&self, jobs: &[ReportJob]) -> anyhow::Result<()> {
        self.0.lock().unwrap().extend_from_slice(jobs);
        Ok(())
    }
}

/// The mails the outbox folder holds.
fn outbox(dir: &std::path::Path) -> Vec<Value> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut mails: Vec<(String, Value)> = entries
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.display().to_string(),
                serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap(),
            )
        })
        .collect();
    mails.sort_by(|a, b| a.0.cmp(&b.0));
    mails.into_iter().map(|(_, mail)| mail).collect()
}

#[tokio::test]
async fn each_verified_owner_gets_the_weeks_report_once_with_the_pdf_attached() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let other = app.tenant().await;
    let co_owner = app.invite_member(&t, "owner").await;
    let admin = app.invite_member(&t, "admin").await;
    // The week before the last midnight: two answered calls of ours, one of another workspace.
    let week_end: NaiveDate = app.clock.now().date_naive();
    let monday = week_end.and_hms_opt(0, 0, 0).unwrap().and_utc() - Duration::days(7);
    let calls: &dyn Repository<Call> = &app.store;
    for (ws, seconds, cents) in [(&t, 90, 20), (&t, 30, 10), (&other, 600, 500)] {
        let made = call(monday + Duration::hours(30), seconds, cents, None, &[]);
        calls.insert(&ws.workspace_id, &made, None, &[]).await.unwrap();
    }

    let dir = std::env::temp_dir().join(format!("weekly-{}", random_suffix()));
    let queue = Arc::new(Queued::default());
    let mailer = Arc::new(switchboard_mail::OutboxMailer::new(Some(dir.clone())));
    let state = weekly_reports::state(&app.store, queue.clone(), mailer, Clock::manual(app.clock.now()));

    weekly_reports::run(&state, ReportJob::Start).await.unwrap();
    let jobs = queue.0.lock().unwrap().clone();
    for ws in [&t.workspace_id, &other.workspace_id] {
        let job = ReportJob::Workspace {
            workspace_id: ws.clone(),
            week_end,
        };
        assert!(jobs.contains(&job), "every workspace signed up has its job");
    }

    let ours = ReportJob::Workspace {
        workspace_id: t.workspace_id.clone(),
        week_end,
    };
    weekly_reports::run(&state, ours.clone()).await.unwrap();
    let mails = outbox(&dir);
    let mut to: Vec<&str> = mails.iter().map(|m| m["to"].as_str().unwrap()).collect();
    to.sort();
    // Inviting made the first owner verify their email; the invited owner verified by accepting.
    let mut owners = vec![t.email.as_str(), co_owner.email.as_str()];
    owners.sort();
    assert_eq!(to, owners, "owners only: not the admin {}", admin.email);
    let mail = &mails[0];
    assert_eq!(mail["kind"], "weekly_report");
    let text = mail["text"].as_str().unwrap();
    assert!(text.contains("Calls: 2\n") && text.contains("Cost: $0.30"), "{text}");
    let file = &mail["attachments"][0];
    assert_eq!(file["content_type"], "application/pdf");
    let pdf = base64::engine::general_purpose::STANDARD
        .decode(file["content"].as_str().unwrap())
        .unwrap();
    assert!(poppler("pdftoppm", &["-r", "30", "-png"], &pdf).parse::<u32>().unwrap() >= 1);
    let words = poppler("pdftotext", &["-layout"], &pdf);
    assert!(
        words.contains("$0.30") && !words.contains("$5.00"),
        "our calls only: {words}"
    );

    // Sent once: the same week again mails nobody.
    weekly_reports::run(&state, ours).await.unwrap();
    assert_eq!(outbox(&dir).len(), mails.len());
    // The other workspace's owner never verified their email: no report to an unproven address.
    let theirs = ReportJob::Workspace {
        workspace_id: other.workspace_id.clone(),
        week_end,
    };
    weekly_reports::run(&state, theirs).await.unwrap();
    assert_eq!(outbox(&dir).len(), mails.len());
    std::fs::remove_dir_all(&dir).ok();
}
