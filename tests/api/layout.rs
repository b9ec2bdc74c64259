//! The project's shape: the routes each function serves, the routes template.yaml gives it and
//! the routes of the `cargo lambda watch` router are one set; every function is built and
//! deployed the same way with its own narrow policy; the sample events work.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use yaml_serde::Value as Yaml;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn template() -> Yaml {
    yaml_serde::from_str(&std::fs::read_to_string(root().join("template.yaml")).unwrap()).unwrap()
}

fn functions(template: &Yaml) -> Vec<(String, Yaml)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(_, r)| {
            (
                r["Metadata"]["BuildProperties"]["Binary"]
                    .as_str()
                    .expect("every function names its binary")
                    .to_owned(),
                r.clone(),
            )
        })
        .collect()
}

/// The catch-all: `$default` on the HTTP API, `/{*path}` in the cargo-lambda router.
const DEFAULT: &str = "<default>";

#[test]
fn served_declared_and_routed_paths_are_the_same() {
    let served: BTreeSet<(String, String)> = switchboard_tests::all_routes()
        .into_iter()
        .flat_map(|(function, routes)| {
            routes
                .into_iter()
                .map(move |r| (function.to_owned(), r.path.to_owned()))
        })
        .chain([("catalog".to_owned(), DEFAULT.to_owned())])
        .collect();

    let mut declared = BTreeSet::new();
    for (binary, function) in functions(&template()) {
        for event in function["Properties"]["Events"]
            .as_mapping()
            .into_iter()
            .flat_map(|m| m.values())
        {
            if event["Type"].as_str() == Some("HttpApi") {
                assert_eq!(
                    event["Properties"]["Method"].as_str().unwrap_or("ANY"),
                    "ANY",
                    "methods are routed in code (405s)"
                );
                let path = event["Properties"]["Path"].as_str().unwrap_or(DEFAULT);
                declared.insert((binary.clone(), path.to_owned()));
            }
        }
    }

    let cargo: toml::Table = std::fs::read_to_string(root().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let router = cargo["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .unwrap();
    let routed: BTreeSet<(String, String)> = router
        .iter()
        .map(|(path, function)| {
            let path = if path == "/{*path}" { DEFAULT } else { path.as_str() };
            (function.as_str().unwrap().to_owned(), path.to_owned())
        })
        .collect();

    assert_eq!(served, declared, "routes served vs template.yaml");
    assert_eq!(served, routed, "routes served vs the cargo lambda watch router");
}

#[test]
fn every_function_is_a_cargo_lambda_arm64_binary_of_the_workspace() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(globals["Architectures"][0].as_str(), Some("arm64"));
    // Built from the workspace root, a function would get every member's features (the tests'
    // too), and link what it never uses.
    assert!(globals["CodeUri"].is_null(), "no CodeUri shared by every function");
    assert_eq!(globals["Handler"].as_str(), Some("bootstrap"));
    let binaries: BTreeSet<String> = functions(&template).into_iter().map(|(b, _)| b).collect();
    let crates: BTreeSet<String> = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("src/main.rs").exists())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(binaries, crates, "one deployed function per function crate");
    for (binary, function) in functions(&template) {
        assert_eq!(
            function["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{binary}"
        );
        assert_eq!(
            function["Properties"]["CodeUri"].as_str(),
            Some(format!("functions/{binary}").as_str()),
            "{binary} is built from its own crate"
        );
    }
}

#[test]
fn policies_name_their_actions_and_resources() {
    for (binary, function) in functions(&template()) {
        for policy in function["Properties"]["Policies"].as_sequence().into_iter().flatten() {
            for statement in policy["Statement"].as_sequence().unwrap() {
                // `!If [condition, statement, AWS::NoValue]`: check the statement.
                let statement = match statement {
                    Yaml::Tagged(tagged) => &tagged.value[1],
                    plain => plain,
                };
                let actions: Vec<&str> = match &statement["Action"] {
                    Yaml::Sequence(list) => list.iter().map(|a| a.as_str().unwrap()).collect(),
                    one => vec![one.as_str().unwrap()],
                };
                assert!(
                    actions.iter().all(|a| !a.contains('*')),
                    "{binary}: wildcard action {actions:?}"
                );
                assert!(
                    statement["Resource"].as_str() != Some("*"),
                    "{binary}: wildcard resource"
                );
                assert!(!actions.contains(&"dynamodb:Scan"), "{binary}: no request path scans");
            }
        }
    }
}

#[tokio::test]
async fn sample_http_events_reach_their_function() {
    let app = switchboard_tests::TestApp::spawn().await;
    let mut seen = 0;
    for entry in std::fs::read_dir(root().join("events")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        // SQS batches, relay WebSocket messages and schedules have tests of their own.
        if json.get("Records").is_some()
            || json["requestContext"].get("connectionId").is_some()
            || json.get("job").is_some()
        {
            continue;
        }
        let request = lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let route = request.uri().path().to_owned();
        assert!(
            app.routes_to(&route).is_some(),
            "{}: {route} is not a route",
            path.display()
        );
        let res = app.dispatch_raw(request).await;
        assert!(
            res.status < 500 && res.header("x-request-id").is_some(),
            "{}: {}",
            path.display(),
            res.text
        );
        seen += 1;
    }
    assert!(seen >= 4);
}

#[tokio::test]
async fn the_sample_sqs_event_is_delivered() {
    let text = std::fs::read_to_string(root().join("events/mail-batch.json")).unwrap();
    let event: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_str(&text).unwrap();
    let dir = std::env::temp_dir().join(format!("outbox-{}", switchboard_tests::random_suffix()));
    let transport = switchboard_mail::OutboxMailer::new(Some(dir.clone()));
    let response = switchboard_runtime::worker::process_batch(event, &|m| mailer::deliver(&transport, m)).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
}

#[tokio::test]
async fn the_sample_call_jobs_run_and_a_poison_job_fails_alone() {
    let app = switchboard_tests::TestApp::spawn().await;
    let text = std::fs::read_to_string(root().join("events/call-jobs.json")).unwrap();
    let mut event: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_str(&text).unwrap();
    assert_eq!(event.records.len(), 2);
    let mut poison = event.records[0].clone();
    poison.message_id = Some("poison".into());
    poison.body = Some("{\"type\": \"teleport\"}".into());
    event.records.push(poison);
    let state = &app.call_worker;
    let response = switchboard_runtime::worker::process_batch(event, &|m| call_worker::handle(state, m)).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    // The sample jobs are about a call that does not exist: nothing to do, done.
    assert_eq!(failed, ["poison"]);
}

#[tokio::test]
async fn a_poison_message_fails_alone() {
    let text = std::fs::read_to_string(root().join("events/mail-batch.json")).unwrap();
    let mut event: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_str(&text).unwrap();
    let mut poison = event.records[0].clone();
    poison.message_id = Some("poison".into());
    poison.body = Some("not a mail".into());
    event.records.push(poison);
    let dir = std::env::temp_dir().join(format!("outbox-{}", switchboard_tests::random_suffix()));
    let transport = switchboard_mail::OutboxMailer::new(Some(dir.clone()));
    let response = switchboard_runtime::worker::process_batch(event, &|m| mailer::deliver(&transport, m)).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["poison"]);
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "the good message was delivered"
    );
}

#[tokio::test]
async fn the_sample_relay_message_is_a_relay_event() {
    let text = std::fs::read_to_string(root().join("events/relay-prompt.json")).unwrap();
    let event: aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest = serde_json::from_str(&text).unwrap();
    assert_eq!(event.request_context.route_key.as_deref(), Some("$default"));
    let message: switchboard_telephony::twilio::relay::FromTwilio =
        serde_json::from_str(event.body.as_deref().unwrap()).unwrap();
    assert!(matches!(
        message,
        switchboard_telephony::twilio::relay::FromTwilio::Prompt { last: true, .. }
    ));
}

#[test]
fn the_sample_schedule_events_are_what_the_schedules_send() {
    let functions = functions(&template());
    for (binary, event, sample) in [
        ("number-renewals", "Daily", "number-renewals.json"),
        ("workflow-scheduler", "EveryMinute", "workflow-scheduler-tick.json"),
    ] {
        let (_, function) = functions.iter().find(|(b, _)| b == binary).unwrap();
        let input = function["Properties"]["Events"][event]["Properties"]["Input"]
            .as_str()
            .unwrap()
            .to_owned();
        let sample = std::fs::read_to_string(root().join("events").join(sample)).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&input).unwrap(),
            serde_json::from_str::<serde_json::Value>(&sample).unwrap(),
            "{binary}"
        );
    }
}
