//! The weekly report: a PDF that opens, whose every page renders, with the seeded week's
//! figures in its text.

use std::process::Command;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{Call, CallCost, CallObject, CallStatus, Direction, Message, MessageRole};
use switchboard_core::ports::Repository;
use switchboard_tests::{Res, Tenant, TestApp};

/// A call made at `at`: answered for `seconds` (costing `cents`) unless `seconds` is 0.
pub(crate) fn call(at: DateTime<Utc>, seconds: u32, cents: i64, campaign: Option<&str>, heard: &[&str]) -> Call {
    let answered = seconds > 0;
    Call {
        id: ids::new_id_at(prefix::CALL, at),
        object: CallObject,
        direction: Direction::Outbound,
        status: if answered {
            CallStatus::Completed
        } else {
            CallStatus::Busy
        },
        agent_id: "agt_1".into(),
        phone_number_id: "num_1".into(),
        from: "+14155550199".into(),
        to: "+14155550100".into(),
        contact_id: None,
        campaign_id: campaign.map(str::to_owned),
        conversation_id: None,
        provider: "simulator".into(),
        provider_call_id: None,
        metadata: Default::default(),
        transcript: heard
            .iter()
            .map(|said| Message {
                role: MessageRole::User,
                content: (*said).to_owned(),
                created_at: at,
            })
            .collect(),
        summary: None,
        sentiment: None,
        outcome: answered.then(|| "interested".to_owned()),
        recording_url: None,
        recording: None,
        duration_seconds: answered.then_some(seconds),
        cost: answered.then(|| CallCost {
            amount_minor: cents,
            currency: "USD".into(),
            billed_minutes: seconds.div_ceil(60),
            per_minute_minor: 10,
        }),
        ended_reason: None,
        answered_at: answered.then_some(at),
        ended_at: Some(at + Duration::seconds(i64::from(seconds))),
        created_at: at,
        updated_at: at,
    }
}

async fn report(app: &TestApp, t: &Tenant, query: &str) -> Res {
    app.get(&format!("/v1/reports/weekly?{query}"))
        .bearer(&t.key)
        .send()
        .await
}

/// Runs a poppler tool on the PDF; its standard output.
pub(crate) fn poppler(tool: &str, args: &[&str], pdf: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("report-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("report.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = Command::new(tool)
        .args(args)
        .arg(&file)
        .args(if tool == "pdftoppm" {
            vec![dir.join("page").display().to_string()]
        } else {
            vec!["-".into()]
        })
        .output()
        .unwrap_or_else(|e| panic!("{tool} runs (scripts/setup installs poppler-utils): {e}"));
    assert!(out.status.success(), "{tool}: {}", String::from_utf8_lossy(&out.stderr));
    let pages = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "png"))
        .count();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    std::fs::remove_dir_all(&dir).unwrap();
    if tool == "pdftoppm" { pages.to_string() } else { text }
}

#[tokio::test]
async fn the_weekly_report_is_a_pdf_with_the_weeks_figures() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    // A week that began three days ago; the approvals are asked for now.
    let start = (app.clock.now() - Duration::days(3))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let campaign = switchboard_tests::draft_campaign(&app, &t, json!({"name": "Winter check-ups"})).await;
    let calls: &dyn Repository<Call> = &app.store;
    let seeded = [
        call(
            start + Duration::hours(10),
            90,
            20,
            Some(&campaign),
            &["Honestly, it's too expensive."],
        ),
        call(
            start + Duration::hours(34),
            30,
            10,
            Some(&campaign),
            &["I'm busy right now, it's too expensive"],
        ),
        call(start + Duration::hours(35), 0, 0, Some(&campaign), &[]),
        call(
            start + Duration::hours(60),
            60,
            15,
            None,
            &["How did you get my number?"],
        ),
        // Outside the week.
        call(start - Duration::hours(5), 600, 500, None, &[]),
    ];
    for c in &seeded {
        calls.insert(&t.workspace_id, c, None, &[]).await.unwrap();
    }
    for rationale in ["Refund the fee", "Call back tomorrow"] {
        app.create(
            &t,
            "/v1/approvals",
            json!({"proposed_action": "callback", "rationale": rationale}),
        )
        .await;
    }
    let period = format!(
        "from={}&to={}",
        start.format("%Y-%m-%d"),
        (start + Duration::days(6)).format("%Y-%m-%d")
    );
    let res = report(&app, &t, &period).await;
    res.expect(200);
    assert_eq!(res.header("content-type"), Some("application/pdf"));
    let pdf = res.bytes.clone();
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    let pages: usize = poppler("pdftoppm", &["-r", "40", "-png"], &pdf).parse().unwrap();
    assert!(pages >= 1, "every page renders");
    let text = poppler("pdftotext", &["-layout"], &pdf);
    let line = |label: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(label))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| panic!("no {label} in:\n{text}"))
    };
    assert_eq!(line("Calls "), "Calls 4");
    assert_eq!(line("Connect rate"), "Connect rate 75.0%");
    assert_eq!(line("Minutes"), "Minutes 3.0");
    assert_eq!(line("Cost"), "Cost $0.45");
    assert_eq!(line("Approvals requested"), "Approvals requested 2");
    assert_eq!(line("Approvals decided"), "Approvals decided 0");
    assert_eq!(line("It's too expensive."), "It's too expensive. 2 calls");
    assert!(text.contains("How did you get my number?"), "{text}");
    assert_eq!(line("Winter check-ups"), "Winter check-ups 3 67% 2.0 $0.30");
    assert_eq!(
        line("Calls outside campaigns"),
        "Calls outside campaigns 1 100% 1.0 $0.15"
    );
    assert!(text.contains("Calls per day"), "the chart's heading");
}

#[tokio::test]
async fn a_report_needs_a_sound_period_and_a_credential_of_the_workspace() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let before = app.snapshot(&t.workspace_id).await;
    for (query, param) in [
        ("from=2026-11-29&to=2026-11-23", "from"),
        ("from=2026-01-01&to=2026-11-23", "from"),
        ("from=yesterday", "from"),
        ("to=soon", "to"),
    ] {
        let res = report(&app, &t, query).await;
        assert!(matches!(res.status, 400 | 422), "{query}: {}", res.text);
        assert_eq!(res.param(), param, "{query}");
    }
    assert_eq!(before, app.snapshot(&t.workspace_id).await, "nothing written");
    app.get("/v1/reports/weekly")
        .send()
        .await
        .expect_error(401, "missing_credential");
    // Another workspace's calls are not in this one's report.
    let other = app.tenant().await;
    let calls: &dyn Repository<Call> = &app.store;
    let now = app.clock.now();
    calls
        .insert(
            &other.workspace_id,
            &call(now - Duration::hours(1), 60, 10, None, &[]),
            None,
            &[],
        )
        .await
        .unwrap();
    let mine = report(&app, &t, "").await;
    mine.expect(200);
    let text = poppler("pdftotext", &["-layout"], &mine.bytes);
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Calls", "0"]),
        "{text}"
    );
}
