//! End-to-end over HTTP, through the stack a user starts: `cargo lambda watch` serving every
//! function, DynamoDB Local, moto, and the SQS bridge feeding the mailer.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is set by scripts/test"))
}

fn url(path: &str) -> String {
    format!("{}{path}", env("SWITCHBOARD_API_URL"))
}

fn client() -> reqwest::Client {
    // reqwest is built without a TLS provider of its own; the services use ring, and so do we.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

fn unique_email() -> String {
    format!("e2e-{}@example.com", switchboard_tests::random_suffix())
}

/// Polls `check` until it returns `Some`, failing after `timeout`.
async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} did not happen within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

struct Session {
    email: String,
    token: String,
    key: String,
}

async fn new_workspace() -> Session {
    let http = client();
    let email = unique_email();
    let password = "correct horse battery";
    let res = http
        .post(url("/v1/auth/signup"))
        .json(&json!({"email": email, "password": password, "country": "US"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let login: Value = http
        .post(url("/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_owned();
    let key: Value = http
        .post(url("/v1/api-keys"))
        .bearer_auth(&token)
        .json(&json!({"name": "e2e"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Session {
        email,
        token,
        key: key["secret"].as_str().unwrap().to_owned(),
    }
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap()
}

#[tokio::test]
async fn the_readme_quickstart_works_as_written() {
    let readme = readme();
    let start = readme
        .find("<!-- quickstart:start -->")
        .expect("README marks its quickstart");
    let end = readme.find("<!-- quickstart:end -->").unwrap();
    let block: String = readme[start..end]
        .lines()
        .skip_while(|l| !l.starts_with("```bash"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(block.contains("curl"), "the quickstart is a shell block");
    // A fresh email per run, as a reader would pick their own.
    let block = block.replace("you@example.com", &unique_email());
    let output = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &block])
        .env("SWITCHBOARD_API_URL", env("SWITCHBOARD_API_URL"))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "quickstart failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // curl prints each answer without a newline: read them as a stream of JSON values.
    let answers: Vec<Value> = serde_json::Deserializer::from_str(&stdout)
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("every command prints JSON");
    assert_eq!(
        answers[0]["user"]["email"]
            .as_str()
            .map(|e| e.ends_with("@example.com")),
        Some(true),
        "{stdout}"
    );
    let last = answers.last().unwrap();
    assert!(last["id"].as_str().unwrap().starts_with("agt_"), "{stdout}");
    assert_eq!(last["object"], "agent");
}

/// The newest mail of `kind` to `email` in the local outbox, once the mailer wrote it there.
async fn outbox_mail(email: &str, kind: &str) -> Value {
    let outbox = PathBuf::from(env("MAIL_OUTBOX_DIR"));
    eventually(
        &format!("the {kind} mail to {email} reaching the outbox"),
        Duration::from_secs(90),
        || {
            let outbox = outbox.clone();
            async move {
                std::fs::read_dir(&outbox)
                    .ok()?
                    .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                    .filter_map(|t| serde_json::from_str::<Value>(&t).ok())
                    .find(|m| m["to"] == email && m["kind"] == kind)
            }
        },
    )
    .await
}

/// Follows the verification link mailed to `email`.
async fn verify_through_the_outbox(http: &reqwest::Client, email: &str) {
    let mail = outbox_mail(email, "verify_email").await;
    let link = mail["text"]
        .as_str()
        .unwrap()
        .lines()
        .find(|l| l.contains("/v1/auth/verify-email?token="))
        .unwrap()
        .trim()
        .to_owned();
    let res = http.get(&link).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["email"], email);
}

/// The reference page, rendered by a headless Chromium from the running API: it lists every
/// operation of the document, having loaded nothing from anywhere else.
#[tokio::test]
async fn the_reference_page_renders_every_operation_in_a_browser() {
    let res = client().get(url("/v1/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let document: Value = res.json().await.unwrap();
    let operations: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|methods| methods.as_object().unwrap().len())
        .sum();
    // The page renders once its script has fetched the document: looked at until it has.
    let dom = eventually("the rendered reference", Duration::from_secs(120), || async {
        let out = tokio::process::Command::new("chromium-headless-shell")
            .args([
                "--no-sandbox",
                "--disable-gpu",
                "--virtual-time-budget=15000",
                "--dump-dom",
            ])
            .arg(url("/docs"))
            .output()
            .await
            .expect("chromium-headless-shell runs (scripts/setup installs it)");
        let dom = String::from_utf8_lossy(&out.stdout).into_owned();
        dom.contains("data-operations=").then_some(dom)
    })
    .await;
    assert!(
        dom.contains(&format!("data-operations=\"{operations}\"")),
        "{operations} operations in:\n{dom}"
    );
    for id in ["createAgent", "exportSubject", "weeklyReport", "previewVoice"] {
        assert!(dom.contains(&format!("id=\"{id}\"")), "{id} is listed");
    }
}

#[tokio::test]
async fn the_verification_mail_travels_the_queue_to_the_outbox() {
    let http = client();
    let email = unique_email();
    let res = http
        .post(url("/v1/auth/signup"))
        .json(&json!({"email": email, "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    verify_through_the_outbox(&http, &email).await;
}

#[tokio::test]
async fn a_colleague_joins_from_the_emailed_invitation_and_acts_within_their_role() {
    let http = client();
    let (owner, password) = (unique_email(), "correct horse battery");
    let res = http
        .post(url("/v1/auth/signup"))
        .json(&json!({"email": owner, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    verify_through_the_outbox(&http, &owner).await;
    let login: Value = http
        .post(url("/v1/auth/login"))
        .json(&json!({"email": owner, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let colleague = unique_email();
    let res = http
        .post(url("/v1/users/invite"))
        .bearer_auth(login["token"].as_str().unwrap())
        .json(&json!({"email": colleague, "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);

    let mail = outbox_mail(&colleague, "invitation").await;
    let text = mail["text"].as_str().unwrap();
    let (_, rest) = text
        .split_once("\"token\": \"")
        .expect("the invitation carries its token");
    let token = rest.split('"').next().unwrap();
    let joined: Value = http
        .post(url("/v1/auth/accept-invitation"))
        .json(&json!({"token": token, "password": "the colleague's password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(joined["user"]["role"], "viewer", "{joined}");
    let as_colleague = joined["token"].as_str().unwrap();
    let res = http
        .get(url("/v1/agents"))
        .bearer_auth(as_colleague)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = http
        .post(url("/v1/agents"))
        .bearer_auth(as_colleague)
        .json(&json!({"name": "not mine to make", "system_prompt": "p"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "permission_denied");
}

#[tokio::test]
async fn a_poison_message_ends_in_the_dead_letter_queue_without_blocking_others() {
    let sdk = &switchboard_tests::sdk().await;
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let marker = switchboard_tests::random_suffix();
    let poison = format!("not a mail {marker}");
    let good_to = format!("dlq-{marker}@example.com");
    let good = json!({"to": good_to, "subject": "s", "text": "t", "kind": "test"}).to_string();
    sqs.send_message()
        .queue_url(env("MAIL_QUEUE_URL"))
        .message_body(&poison)
        .send()
        .await
        .unwrap();
    sqs.send_message()
        .queue_url(env("MAIL_QUEUE_URL"))
        .message_body(&good)
        .send()
        .await
        .unwrap();

    let outbox = PathBuf::from(env("MAIL_OUTBOX_DIR"));
    eventually("the good mail being delivered", Duration::from_secs(90), || {
        let outbox = outbox.clone();
        let good_to = good_to.clone();
        async move {
            std::fs::read_dir(&outbox)
                .ok()?
                .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                .find(|t| t.contains(&good_to))
                .map(|_| ())
        }
    })
    .await;
    in_dead_letter_queue(&sqs, &env("MAIL_DEAD_LETTER_QUEUE_URL"), &poison).await;
}

#[tokio::test]
async fn the_weekly_report_mail_reaches_a_verified_owner_through_the_stack() {
    let http = client();
    let s = new_workspace().await;
    verify_through_the_outbox(&http, &s.email).await;
    // What the Monday schedule sends; the worker fans it out to every workspace's job.
    let sqs = aws_sdk_sqs::Client::new(&switchboard_tests::sdk().await);
    sqs.send_message()
        .queue_url(env("REPORT_QUEUE_URL"))
        .message_body(r#"{"job": "start"}"#)
        .send()
        .await
        .unwrap();
    let mail = outbox_mail(&s.email, "weekly_report").await;
    let file = &mail["attachments"][0];
    assert_eq!(
        file["filename"].as_str().unwrap().len(),
        "switchboard-report-20261123-20261130.pdf".len()
    );
    let pdf = base64::engine::general_purpose::STANDARD
        .decode(file["content"].as_str().unwrap())
        .unwrap();
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
}

/// Waits for a message with `body` to reach the dead-letter queue `dlq`.
async fn in_dead_letter_queue(sqs: &aws_sdk_sqs::Client, dlq: &str, body: &str) {
    eventually(
        "the poison message reaching the DLQ",
        Duration::from_secs(120),
        || async {
            let out = sqs
                .receive_message()
                .queue_url(dlq)
                .max_number_of_messages(10)
                .visibility_timeout(0)
                .send()
                .await
                .ok()?;
            out.messages
                .unwrap_or_default()
                .into_iter()
                .find(|m| m.body.as_deref() == Some(body))
                .map(|_| ())
        },
    )
    .await;
}

#[tokio::test]
async fn answers_over_http_follow_the_conventions() {
    let http = client();
    let s = new_workspace().await;

    let res = http.get(url("/v1/no/such/path")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["error"]["code"].as_str(), body["error"]["request_id"].as_str()),
        (Some("route_not_found"), Some(request_id.as_str()))
    );

    let res = http
        .request(Method::OPTIONS, url("/v1/agents"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");

    let res = http.put(url("/v1/agents")).bearer_auth(&s.key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "GET, POST");

    let res = http.get(url("/v1/agents")).bearer_auth(&s.key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    for header in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-request-id",
    ] {
        assert!(res.headers().contains_key(header), "{header}");
    }

    let res = http
        .post(url("/v1/agents"))
        .bearer_auth(&s.key)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = http.get(url("/v1/agents")).bearer_auth(&s.token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "session tokens work too");
}

#[tokio::test]
async fn an_agent_lives_and_dies_over_http() {
    let http = client();
    let s = new_workspace().await;
    let res = http
        .post(url("/v1/agents"))
        .bearer_auth(&s.key)
        .header("idempotency-key", "e2e-agent")
        .json(&json!({"name": "Sarah", "system_prompt": "Be helpful.", "voice": "priya", "language": "en-IN"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let agent: Value = res.json().await.unwrap();
    let path = url(&format!("/v1/agents/{}", agent["id"].as_str().unwrap()));

    let replay = http
        .post(url("/v1/agents"))
        .bearer_auth(&s.key)
        .header("idempotency-key", "e2e-agent")
        .json(&json!({"name": "Sarah", "system_prompt": "Be helpful.", "voice": "priya", "language": "en-IN"}))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");

    let res = http
        .patch(&path)
        .bearer_auth(&s.key)
        .header("if-match", &etag)
        .json(&json!({"name": "Sara"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = http
        .patch(&path)
        .bearer_auth(&s.key)
        .header("if-match", &etag)
        .json(&json!({"name": "Sarah"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);

    let listed: Value = http
        .get(url("/v1/agents"))
        .bearer_auth(&s.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][0]["name"], "Sara");
    assert_eq!(
        http.delete(&path).bearer_auth(&s.key).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        http.get(&path).bearer_auth(&s.key).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_session_cookie_works_for_browsers() {
    let http = client();
    let email = unique_email();
    http.post(url("/v1/auth/signup"))
        .json(&json!({"email": email, "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    let res = http
        .post(url("/v1/auth/login"))
        .json(&json!({"email": email, "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("SameSite=Lax"));
    let pair = cookie.split(';').next().unwrap().to_owned();
    let me = http
        .get(url("/v1/auth/me"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let logout = http
        .post(url("/v1/auth/logout"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        http.get(url("/v1/auth/me"))
            .header("cookie", &pair)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_simulated_call_ends_with_transcript_analysis_and_recording_over_http() {
    let http = client();
    let s = new_workspace().await;
    let post = |path: &str, body: Value| http.post(url(path)).bearer_auth(&s.key).json(&body).send();
    let (agent, number) = agent_on_a_number(
        &http,
        &s,
        json!({"name": "Sarah", "system_prompt": "You are Sarah of Acme Dental.", "first_message": "Hi, this is Sarah from Acme Dental.",
               "record_calls": true}),
    )
    .await;
    let mut ids = Vec::new();
    for to in ["+14155550100", "+14155550001"] {
        let res = post(
            "/v1/calls",
            json!({"agent_id": agent["id"], "phone_number_id": number["id"], "to": to}),
        )
        .await
        .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let call: Value = res.json().await.unwrap();
        ids.push(call["id"].as_str().unwrap().to_owned());
    }
    let fetch = |id: String| {
        let http = &http;
        let key = s.key.clone();
        async move { get_json(http, &key, &format!("/v1/calls/{id}")).await }
    };
    // The call worker runs behind the SQS bridge, as behind Lambda's event source mapping.
    let answered = eventually("the answered call's analysis", Duration::from_secs(90), || async {
        let call = fetch(ids[0].clone()).await?;
        call["summary"].is_string().then_some(call)
    })
    .await;
    assert_eq!(answered["status"], "completed");
    assert_eq!(
        answered["transcript"][0]["content"],
        "This call is recorded; if you'd rather it wasn't, just say so. Hi, this is Sarah from Acme Dental."
    );
    assert_eq!(answered["sentiment"], "positive");
    // Spoken by the call worker through espeak-ng into the stack's bucket in moto, and served
    // by the link the call carries.
    let link = eventually("the answered call's recording", Duration::from_secs(60), || async {
        let call = fetch(ids[0].clone()).await?;
        call["recording_url"].as_str().map(str::to_owned)
    })
    .await;
    let audio = http.get(&link).send().await.unwrap().bytes().await.unwrap();
    let wav = hound::WavReader::new(audio.as_ref()).expect("the recording is WAV");
    assert!(wav.duration() > wav.spec().sample_rate * 5, "several seconds of speech");
    let busy = eventually("the busy call's end", Duration::from_secs(60), || async {
        let call = fetch(ids[1].clone()).await?;
        (call["status"] != "queued" && call["status"] != "ringing").then_some(call)
    })
    .await;
    assert_eq!(busy["status"], "busy");
}

/// Starts a run of `workflow` (`body`: its `data`) and waits for its end; the execution.
async fn run_to_end(http: &reqwest::Client, s: &Session, workflow: &Value, body: Value) -> Value {
    let started = post_json(
        http,
        s,
        &format!("/v1/workflows/{}/run", workflow["id"].as_str().unwrap()),
        body,
    )
    .await;
    let path = format!("/v1/executions/{}", started["id"].as_str().unwrap());
    eventually("the run ends", Duration::from_secs(90), || async {
        let run = get_json(http, &s.key, &path).await?;
        (run["status"] != "running").then_some(run)
    })
    .await
}

/// Tops up through the offline payment provider (which posts the signed payment webhook to the
/// stack) and waits for the credit.
async fn top_up(http: &reqwest::Client, s: &Session, amount_minor: i64) {
    let before = balance(http, s).await["balance_minor"].as_i64().unwrap();
    let checkout = post_json(http, s, "/v1/billing/topup", json!({"amount_minor": amount_minor})).await;
    assert_eq!(checkout["provider"], "offline", "{checkout}");
    eventually("the top-up's credit", Duration::from_secs(30), || async {
        let now = balance(http, s).await["balance_minor"].as_i64().unwrap();
        (now == before + amount_minor).then_some(())
    })
    .await;
}

async fn balance(http: &reqwest::Client, s: &Session) -> Value {
    eventually("the balance", Duration::from_secs(30), || {
        get_json(http, &s.key, "/v1/billing/balance")
    })
    .await
}

#[tokio::test]
async fn calls_are_paid_from_the_wallet_until_it_runs_dry_then_a_top_up_pays_again() {
    let http = client();
    let s = new_workspace().await;
    let wallet = balance(&http, &s).await;
    assert_eq!(
        (&wallet["balance_minor"], &wallet["funded"]),
        (&json!(500), &json!(false))
    );
    // Calls as long as the trial's 500 cents can hold: one at a time, and none once the first
    // is charged a minute or more.
    let precheck = eventually("the precheck", Duration::from_secs(30), || {
        get_json(&http, &s.key, "/v1/billing/precheck")
    })
    .await;
    let rate = precheck["per_minute_minor"].as_i64().unwrap();
    let (agent, number) = agent_on_a_number(
        &http,
        &s,
        json!({"name": "Sarah", "system_prompt": "You are Sarah of Acme Dental.", "max_call_duration": 500 / rate * 60}),
    )
    .await;
    let call = json!({"agent_id": agent["id"], "phone_number_id": number["id"], "to": "+14155550100"});
    let first = post_json(&http, &s, "/v1/calls", call.clone()).await;
    assert_eq!(first["object"], "call", "{first}");
    let id = first["id"].as_str().unwrap().to_owned();
    let ended = eventually("the first call's charge", Duration::from_secs(90), || async {
        let call = get_json(&http, &s.key, &format!("/v1/calls/{id}")).await?;
        let wallet = balance(&http, &s).await;
        (call["status"] == "completed" && wallet["held_minor"] == 0).then_some(call)
    })
    .await;
    let cost = ended["cost"]["amount_minor"].as_i64().unwrap();
    assert!(cost > 0, "{ended}");
    let refused = http
        .post(url("/v1/calls"))
        .bearer_auth(&s.key)
        .json(&call)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::PAYMENT_REQUIRED);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "insufficient_funds");

    top_up(&http, &s, 2000).await;
    let wallet = balance(&http, &s).await;
    assert_eq!(
        (&wallet["balance_minor"], &wallet["funded"]),
        (&json!(2500 - cost), &json!(true))
    );
    let again = post_json(&http, &s, "/v1/calls", call).await;
    assert_eq!(again["object"], "call", "{again}");
    let history = get_json(&http, &s.key, "/v1/billing/history").await.unwrap();
    let kinds: Vec<&str> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["top_up", "call_charge", "trial_credit"]);
}

type ReceiverLines = tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>;

/// A webhook endpoint of `s`'s workspace subscribed to `events`, and the example receiver
/// listening for it on a free port.
async fn subscribed_receiver(
    http: &reqwest::Client,
    s: &Session,
    events: &[&str],
) -> (Value, tokio::process::Child, ReceiverLines) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = post_json(
        http,
        s,
        "/v1/webhooks",
        json!({"url": format!("http://127.0.0.1:{port}/events"), "events": events}),
    )
    .await;
    let (receiver, lines) = example_receiver(port, endpoint["secret"].as_str().unwrap()).await;
    (endpoint, receiver, lines)
}

/// An agent made of `agent`, answering on a newly imported number: (agent, number).
async fn agent_on_a_number(http: &reqwest::Client, s: &Session, agent: Value) -> (Value, Value) {
    let agent = post_json(http, s, "/v1/agents", agent).await;
    let number = post_json(
        http,
        s,
        "/v1/numbers/import",
        json!({"phone_number": switchboard_tests::unique_phone(), "agent_id": agent["id"]}),
    )
    .await;
    (agent, number)
}

/// What a GET with `key` answers; `None` while the rate limit refuses it (to be asked again).
async fn get_json(http: &reqwest::Client, key: &str, path: &str) -> Option<Value> {
    let res = http.get(url(path)).bearer_auth(key).send().await.unwrap();
    if res.status() == StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    Some(res.json().await.unwrap())
}

/// What a POST with the workspace's API key answers.
async fn post_json(http: &reqwest::Client, s: &Session, path: &str, body: Value) -> Value {
    http.post(url(path))
        .bearer_auth(&s.key)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The next delivery the receiver printed, parsed and as printed; two minutes at most.
async fn next_delivery(lines: &mut ReceiverLines) -> (Value, String) {
    let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
        .await
        .expect("a delivery within two minutes")
        .unwrap()
        .expect("the receiver is still running");
    (serde_json::from_str(&line).unwrap(), line)
}

/// The example receiver (`scripts/webhook-receiver.py`) on `port`, checking with `secret`;
/// its stdout gives one JSON line per delivery.
async fn example_receiver(port: u16, secret: &str) -> (tokio::process::Child, ReceiverLines) {
    use tokio::io::AsyncBufReadExt;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/webhook-receiver.py");
    let mut child = tokio::process::Command::new("python3")
        .arg(script)
        .args(["--port", &port.to_string(), "--secret", secret])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs the example receiver");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(first.contains("listening"), "{first}");
    (child, lines)
}

#[tokio::test]
async fn a_call_ended_event_reaches_a_subscribed_receiver_signed_both_ways() {
    let http = client();
    let s = new_workspace().await;
    let (endpoint, _receiver, mut lines) = subscribed_receiver(&http, &s, &["call.ended"]).await;
    let (agent, number) =
        agent_on_a_number(&http, &s, json!({"name": "Sarah", "system_prompt": "You are Sarah."})).await;
    let call = post_json(
        &http,
        &s,
        "/v1/calls",
        json!({"agent_id": agent["id"], "phone_number_id": number["id"], "to": "+14155550100"}),
    )
    .await;

    // Through the table's stream, the event router, the webhook queue and the dispatcher.
    let (got, line) = next_delivery(&mut lines).await;
    assert_eq!(got["event"], "call.ended", "{line}");
    assert_eq!(
        got["simple_signature"], true,
        "the VoxForge-style signature verifies: {line}"
    );
    assert_eq!(got["timed_signature"], true, "the t= signature verifies: {line}");
    let deliveries = eventually("the delivery in the log", Duration::from_secs(30), || async {
        let log: Value = http
            .get(url(&format!(
                "/v1/webhooks/{}/deliveries",
                endpoint["id"].as_str().unwrap()
            )))
            .bearer_auth(&s.key)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (log["data"][0]["status"] == "succeeded").then_some(log)
    })
    .await;
    assert_eq!(
        deliveries["data"].as_array().unwrap().len(),
        1,
        "one call.ended, delivered once"
    );
    assert_eq!(deliveries["data"][0]["attempts"][0]["status_code"], 204);
    let event_id = got["id"].as_str().unwrap();
    assert_eq!(deliveries["data"][0]["event_id"], event_id);
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
}

#[tokio::test]
async fn a_poison_delivery_ends_in_the_webhook_dead_letter_queue() {
    let sdk = &switchboard_tests::sdk().await;
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let poison = format!("not a delivery {}", switchboard_tests::random_suffix());
    sqs.send_message()
        .queue_url(env("WEBHOOK_QUEUE_URL"))
        .message_body(&poison)
        .send()
        .await
        .unwrap();
    in_dead_letter_queue(&sqs, &env("WEBHOOK_DEAD_LETTER_QUEUE_URL"), &poison).await;
}

/// Every item of a list, following its cursors.
async fn list_all(http: &reqwest::Client, key: &str, path: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let page_path = format!("{path}?limit=100{cursor}");
        let page = eventually("a page within the rate limit", Duration::from_secs(120), || {
            get_json(http, key, &page_path)
        })
        .await;
        let items = page["data"]
            .as_array()
            .unwrap_or_else(|| panic!("a page of {path}: {page}"));
        all.extend(items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return all,
        }
    }
}

/// A hundred simulator numbers: half answer, a fifth are busy, a fifth do not answer and a
/// tenth reach voicemail; every 20th (all answering ones) is on the do-not-call list, three
/// fifths of those before the upload and the rest after it. The in-process campaign tests and
/// `scripts/bench campaigns` hold the dialer's guarantees at scale; this shows them through
/// the stack a user starts.
#[tokio::test]
async fn a_hundred_number_campaign_runs_to_completion_over_http() {
    let size: usize = 100;
    let http = client();
    let s = new_workspace().await;
    let post = |path: &str, body: Value| http.post(url(path)).bearer_auth(&s.key).json(&body).send();
    let (_, _receiver, mut lines) = subscribed_receiver(&http, &s, &["campaign.started", "campaign.completed"]).await;
    // Short calls hold their slots briefly.
    let (agent, number) = agent_on_a_number(
        &http,
        &s,
        json!({"name": "Sarah", "system_prompt": "You are Sarah of Acme Dental.", "max_call_duration": 180}),
    )
    .await;

    let fates = [
        "0100", "0100", "0100", "0100", "0100", "0001", "0001", "0002", "0002", "0004",
    ];
    let phones: Vec<String> = (0..size)
        .map(|i| format!("+1{}{}{}", ["415", "628"][i / 800], 200 + i % 800, fates[i % 10]))
        .collect();
    let on_list: Vec<&String> = phones.iter().step_by(20).collect();
    let listed_before = on_list.len() * 3 / 5;
    // The trial's $5 would not last this many calls.
    top_up(&http, &s, 20_000).await;
    let listed = post_json(&http, &s, "/v1/dnc/import", json!({"phones": on_list[..listed_before]})).await;
    assert_eq!(listed["added"], listed_before, "{listed}");
    let campaign = post_json(
        &http,
        &s,
        "/v1/campaigns",
        json!({"name": "Check-ups", "agent_id": agent["id"], "phone_number_id": number["id"], "timezone": switchboard_tests::afternoon_zone(),
               "call_window": {"start": "08:00", "end": "21:00"}, "max_concurrent_calls": 20,
               "retry_policy": {"max_attempts": 2, "retry_on": ["busy", "no-answer"], "retry_delay_seconds": 60}}),
    )
    .await;
    let id = campaign["id"].as_str().expect("a campaign").to_owned();
    let csv: String = std::iter::once("phone,name".to_owned())
        .chain(phones.iter().enumerate().map(|(i, p)| format!("{p},Patient {i}")))
        .collect::<Vec<_>>()
        .join("\n");
    let res = http
        .post(url(&format!("/v1/campaigns/{id}/audience")))
        .bearer_auth(&s.key)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let import: Value = res.json().await.unwrap();
    assert_eq!(
        (import["accepted"].as_u64(), import["rejected_dnc"].as_u64()),
        (Some((size - listed_before) as u64), Some(listed_before as u64)),
        "{import}"
    );
    let listed = post_json(&http, &s, "/v1/dnc/import", json!({"phones": on_list[listed_before..]})).await;
    assert_eq!(listed["added"], on_list.len() - listed_before, "{listed}");
    let res = http
        .put(url(&format!("/v1/campaigns/{id}/compliance")))
        .bearer_auth(&s.token)
        .json(&json!({"consent_statement": "Every patient agreed to reminder calls."}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        post(&format!("/v1/campaigns/{id}/start"), json!({}))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // Watch it run: never more than 20 calls at once.
    let most = std::cell::Cell::new(0);
    let done = eventually("the campaign's completion", Duration::from_secs(900), || {
        let (http, key, id, most) = (&http, &s.key, &id, &most);
        async move {
            let campaign = get_json(http, key, &format!("/v1/campaigns/{id}")).await?;
            most.set(most.get().max(campaign["stats"]["in_flight"].as_u64()?));
            (campaign["status"] == "completed").then_some(campaign)
        }
    })
    .await;
    let most = most.get();
    assert!(
        (10..=20).contains(&most),
        "in flight at most 20 (and the slots used), was {most}"
    );
    let stats = &done["stats"];
    let n = |k: &str| stats[k].as_u64().unwrap();
    let tenth = size as u64 / 10;
    let listed_after = (on_list.len() - listed_before) as u64;
    assert_eq!(
        (n("targets_total"), n("pending"), n("in_flight"), n("skipped")),
        (size as u64 - listed_before as u64, 0, 0, listed_after),
        "{stats}"
    );
    // Answered (less the listed ones) vs busy, unanswered and voicemail.
    assert_eq!(
        (n("calls_completed"), n("calls_failed")),
        (5 * tenth - on_list.len() as u64, 5 * tenth),
        "{stats}"
    );
    // Every unlisted number once; the busy and the unanswered twice.
    let dialled = size as u64 - on_list.len() as u64 + 4 * tenth;
    assert_eq!(n("calls_total"), dialled, "{stats}");
    let calls = list_all(&http, &s.key, &format!("/v1/campaigns/{id}/runs")).await;
    assert_eq!(calls.len() as u64, dialled);
    let mut per_number = std::collections::HashMap::<&str, usize>::new();
    for call in &calls {
        *per_number.entry(call["to"].as_str().unwrap()).or_default() += 1;
    }
    for (i, phone) in phones.iter().enumerate() {
        let expected = match (i % 20 == 0, fates[i % 10]) {
            (true, _) => 0,
            (false, "0001" | "0002") => 2,
            (false, _) => 1,
        };
        assert_eq!(
            per_number.get(phone.as_str()).copied().unwrap_or(0),
            expected,
            "calls to {phone}"
        );
    }
    let mut events = Vec::new();
    while events.len() < 2 {
        let (got, line) = next_delivery(&mut lines).await;
        assert_eq!(got["timed_signature"], true, "{line}");
        events.push(got["event"].as_str().unwrap().to_owned());
    }
    events.sort();
    assert_eq!(events, ["campaign.completed", "campaign.started"]);
}

#[tokio::test]
async fn a_workspace_that_brings_its_own_accounts_calls_through_them() {
    let http = client();
    let s = new_workspace().await;
    let put = |path: &str, body: Value| http.put(url(path)).bearer_auth(&s.key).json(&body).send();
    let status = |res: reqwest::Response| async move { (res.status(), res.json::<Value>().await.unwrap()) };
    let (code, mode) = status(put("/v1/onboarding/mode", json!({"mode": "byok"})).await.unwrap()).await;
    assert_eq!(
        (code, &mode["missing"]),
        (StatusCode::OK, &json!(["twilio", "anthropic"]))
    );
    // Locally the simulator and the offline model stand for Twilio and Anthropic, and take test
    // credentials only, as the providers take only their own.
    let twilio = |token: &str| json!({"account_sid": "AC0123456789abcdef0123456789abcdef", "auth_token": token});
    let (code, refused) = status(
        put("/v1/onboarding/credentials/twilio", twilio("live_token"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (code, &refused["error"]["code"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("credential_rejected"))
    );
    let (code, _) = status(
        put("/v1/onboarding/credentials/twilio", twilio("test_token"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    let (code, _) = status(
        put(
            "/v1/onboarding/credentials/anthropic",
            json!({"api_key": "test_model_key"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    let onboarding = get_json(&http, &s.key, "/v1/onboarding/status").await.unwrap();
    let states: Vec<&str> = onboarding["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["valid", "valid", "missing"], "{onboarding}");
    // Its own voices too: locally the offline voice stands for ElevenLabs.
    let (code, voices) = status(
        put(
            "/v1/onboarding/credentials/elevenlabs",
            json!({"api_key": "test_voice_key", "voices": {"amelia": "ownVoice1"}}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (code, &voices["providers"][2]["fields"]),
        (StatusCode::OK, &json!({"voices": {"amelia": "ownVoice1"}}))
    );
    let done = post_json(&http, &s, "/v1/onboarding/complete", json!({})).await;
    assert_eq!(done["ready"], true, "{done}");

    let (agent, number) = agent_on_a_number(
        &http,
        &s,
        json!({"name": "Sarah", "system_prompt": "You are Sarah of Acme Dental."}),
    )
    .await;
    let preview = http
        .post(url(&format!("/v1/agents/{}/preview", agent["id"].as_str().unwrap())))
        .bearer_auth(&s.key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (preview.status(), preview.headers()["content-type"].to_str().unwrap()),
        (StatusCode::OK, "audio/wav")
    );
    let call = post_json(
        &http,
        &s,
        "/v1/calls",
        json!({"agent_id": agent["id"], "phone_number_id": number["id"], "to": "+14155550100"}),
    )
    .await;
    let id = call["id"]
        .as_str()
        .unwrap_or_else(|| panic!("a call: {call}"))
        .to_owned();
    let ended = eventually("the call's analysis", Duration::from_secs(90), || async {
        let call = get_json(&http, &s.key, &format!("/v1/calls/{id}")).await?;
        call["summary"].is_string().then_some(call)
    })
    .await;
    assert_eq!(ended["status"], "completed", "{ended}");
}

/// A workflow run started by an event, through the stack: a simulated call ends, the table's
/// stream hands its `call.ended` to the event router, whose trigger (filtered on the call's
/// status) starts a run; the SQS bridge feeds its steps to the `workflow-runner`, which posts
/// through a connection to a local receiver and notes the contact.
#[tokio::test]
async fn a_call_ended_event_runs_a_live_workflow_over_the_stack() {
    let http = client();
    let s = new_workspace().await;
    let receiver =
        switchboard_tests::fake::FakeServer::start(|_, _| (200, "application/json", r#"{"ok": true}"#.into())).await;
    let connection = post_json(
        &http,
        &s,
        "/v1/connections",
        json!({"connector_id": "http", "name": "receiver", "base_url": receiver.url}),
    )
    .await;
    let workflow = post_json(
        &http,
        &s,
        "/v1/workflows",
        json!({"name": "Answered calls", "status": "live", "steps": [
            {"id": "tell", "type": "http", "connection_id": connection["id"], "action": "post",
             "input": {"path": "/answered", "body": {"to": "{{trigger.data.to}}", "call": "{{trigger.data.id}}"}}},
            {"id": "contact", "type": "upsert_contact", "phone": "{{trigger.data.to}}",
             "attributes": {"last_call": "{{trigger.data.id}}"}}]}),
    )
    .await;
    let trigger = post_json(
        &http,
        &s,
        "/v1/triggers",
        json!({"workflow_id": workflow["id"], "type": "event", "event": "call.ended", "filter": {"status": "completed"}}),
    )
    .await;
    assert_eq!(trigger["object"], "trigger", "{trigger}");
    let (agent, number) =
        agent_on_a_number(&http, &s, json!({"name": "Sarah", "system_prompt": "You are Sarah."})).await;
    let to = switchboard_tests::phone_ending("0100");
    let call = post_json(
        &http,
        &s,
        "/v1/calls",
        json!({"agent_id": agent["id"], "phone_number_id": number["id"], "to": to}),
    )
    .await;
    let run = eventually("the call's end runs the workflow", Duration::from_secs(90), || async {
        let runs = get_json(&http, &s.key, "/v1/executions?status=succeeded").await?;
        runs["data"].as_array()?.first().cloned()
    })
    .await;
    assert_eq!(
        (&run["trigger"], &run["input"]["event"]),
        (&json!("event"), &json!("call.ended")),
        "{run}"
    );
    // Steps are at-least-once (a first, cold invocation may outlast the queue's visibility
    // timeout): every request of the step is the same one, under the run's one key.
    let key = format!("{}:tell", run["id"].as_str().unwrap());
    let sent = receiver.requests();
    assert!(!sent.is_empty());
    for request in &sent {
        assert_eq!(request.path, "/answered");
        assert_eq!(request.header("idempotency-key"), Some(key.as_str()));
        assert_eq!(request.json(), json!({"to": to, "call": call["id"]}));
    }
    let contacts = get_json(&http, &s.key, "/v1/contacts").await.unwrap();
    let noted = contacts["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["phone"] == to.as_str())
        .cloned();
    assert_eq!(
        noted.map(|c| c["attributes"]["last_call"].clone()),
        Some(call["id"].clone())
    );
}

#[tokio::test]
async fn a_scheduled_workflow_starts_on_its_minute_over_the_stack() {
    let http = client();
    let s = new_workspace().await;
    let workflow = post_json(
        &http,
        &s,
        "/v1/workflows",
        json!({"name": "Every minute", "status": "live", "steps": [
            {"id": "note", "type": "upsert_contact", "phone": "+14155550123",
             "attributes": {"digest_for": "{{trigger.data.scheduled_for}}"}}]}),
    )
    .await;
    let trigger = post_json(
        &http,
        &s,
        "/v1/triggers",
        json!({"workflow_id": workflow["id"], "type": "schedule", "cron": "* * * * *", "timezone": "Europe/Berlin"}),
    )
    .await;
    let due = trigger["next_run_at"]
        .as_str()
        .expect("a schedule's next minute")
        .to_owned();
    let due_at: chrono::DateTime<chrono::Utc> = due.parse().unwrap();
    // The stack's scheduler ticks every 2 s (30 times a minute, where AWS ticks once).
    let run = eventually(
        "the schedule's minute starts a run",
        Duration::from_secs(90),
        || async {
            let runs = get_json(&http, &s.key, "/v1/executions?status=succeeded").await?;
            runs["data"].as_array()?.last().cloned()
        },
    )
    .await;
    assert_eq!(
        (&run["trigger"], &run["input"]["data"]["scheduled_for"]),
        (&json!("schedule"), &json!(due)),
        "{run}"
    );
    let started: chrono::DateTime<chrono::Utc> = run["started_at"].as_str().unwrap().parse().unwrap();
    let late = started - due_at;
    assert!(
        late >= chrono::Duration::zero() && late < chrono::Duration::seconds(15),
        "started {late} after its minute"
    );
    // Off again: it would start a run every minute for the rest of the stack's life.
    let off = http
        .patch(url(&format!("/v1/triggers/{}", trigger["id"].as_str().unwrap())))
        .bearer_auth(&s.key)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), 200);
}

#[tokio::test]
async fn a_wait_resumes_and_a_failing_step_is_retried_then_fails_over_the_stack() {
    let http = client();
    let s = new_workspace().await;
    let receiver =
        switchboard_tests::fake::FakeServer::start(|_, _| (503, "application/json", r#"{"error": "down"}"#.into()))
            .await;
    let connection = post_json(
        &http,
        &s,
        "/v1/connections",
        json!({"connector_id": "http", "name": "down", "base_url": receiver.url}),
    )
    .await;
    let workflow = post_json(
        &http,
        &s,
        "/v1/workflows",
        json!({"name": "Wait, then tell", "status": "live", "steps": [
            {"id": "pause", "type": "wait", "minutes": 1},
            {"id": "tell", "type": "http", "connection_id": connection["id"], "action": "post",
             "input": {"path": "/hook", "body": {"n": 1}}, "max_attempts": 3}]}),
    )
    .await;
    // The test stack runs workflow time at 1/20: the minute's wait is 3 s, backoff 1.5 s, 6 s.
    let run = run_to_end(&http, &s, &workflow, json!({"data": {}})).await;
    assert_eq!(run["status"], "failed", "{run}");
    let (pause, tell) = (&run["steps"][0], &run["steps"][1]);
    assert_eq!(pause["status"], "succeeded", "{run}");
    let waited = pause["finished_at"]
        .as_str()
        .unwrap()
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap()
        - pause["started_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap();
    assert!(
        waited >= chrono::Duration::seconds(2),
        "the wait resumed after {waited}"
    );
    assert_eq!(tell["status"], "failed", "{run}");
    let attempts = tell["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{run}");
    for attempt in attempts {
        assert_eq!(attempt["status_code"], 503, "{attempt}");
    }
    assert!(receiver.requests().len() >= 3);
}

#[tokio::test]
async fn a_workflow_places_a_call_messages_the_agent_and_lists_the_number_over_the_stack() {
    let http = client();
    let s = new_workspace().await;
    let (agent, number) =
        agent_on_a_number(&http, &s, json!({"name": "Sarah", "system_prompt": "You are Sarah."})).await;
    let to = switchboard_tests::phone_ending("0100");
    let workflow = post_json(
        &http,
        &s,
        "/v1/workflows",
        json!({"name": "Call the lead", "status": "live", "steps": [
            {"id": "call", "type": "start_call", "agent_id": agent["id"], "phone_number_id": number["id"],
             "to": "{{trigger.data.to}}"},
            {"id": "brief", "type": "send_agent_message", "agent_id": agent["id"],
             "content": "Hello, can I book an appointment tomorrow?"},
            {"id": "done", "type": "add_to_dnc", "phone": "{{steps.call.output.to}}", "reason": "called once"}]}),
    )
    .await;
    let run = run_to_end(&http, &s, &workflow, json!({"data": {"to": to}})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let call_id = run["steps"][0]["output"]["call_id"].as_str().unwrap();
    let call = get_json(&http, &s.key, &format!("/v1/calls/{call_id}")).await.unwrap();
    assert_eq!(call["to"], json!(to), "{call}");
    assert!(
        !run["steps"][1]["output"]["reply"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "{run}"
    );
    let check = get_json(
        &http,
        &s.key,
        &format!("/v1/dnc/check?phone_e164={}", to.replace('+', "%2B")),
    )
    .await
    .unwrap();
    assert_eq!(check["on_dnc"], true, "{check}");
}

#[tokio::test]
async fn an_ai_built_draft_validates_and_runs_once_made_live_over_the_stack() {
    let http = client();
    let s = new_workspace().await;
    let built = post_json(
        &http,
        &s,
        "/v1/ai/build",
        json!({"kind": "workflow", "prompt": "Update the contact, then add them to the do not call list."}),
    )
    .await;
    assert_eq!(built["workflow"]["status"], "draft", "{built}");
    let mut workflow = built["workflow"].clone();
    workflow["status"] = json!("live");
    let created = post_json(&http, &s, "/v1/workflows", workflow).await;
    let phone = switchboard_tests::phone_ending("0100");
    let run = run_to_end(&http, &s, &created, json!({"data": {"phone": phone}})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let check = get_json(
        &http,
        &s.key,
        &format!("/v1/dnc/check?phone_e164={}", phone.replace('+', "%2B")),
    )
    .await
    .unwrap();
    assert_eq!(check["on_dnc"], true, "{check}");
}

#[tokio::test]
async fn a_connection_s_credentials_appear_in_no_log_line_of_the_stack() {
    let http = client();
    let s = new_workspace().await;
    let receiver =
        switchboard_tests::fake::FakeServer::start(|_, _| (200, "application/json", r#"{"ok": true}"#.into())).await;
    let connector = post_json(
        &http,
        &s,
        "/v1/connectors",
        json!({"name": "Token API", "base_url": receiver.url, "auth": {"type": "bearer"},
               "actions": [{"name": "note", "method": "POST", "path": "/notes", "body": {"text": "{{input.text}}"}}]}),
    )
    .await;
    let token = format!("tok_{}", switchboard_tests::random_suffix());
    let connection = post_json(
        &http,
        &s,
        "/v1/connections",
        json!({"connector_id": connector["id"], "name": "token api", "credentials": {"token": token}}),
    )
    .await;
    let tested = post_json(
        &http,
        &s,
        &format!("/v1/connections/{}/test", connection["id"].as_str().unwrap()),
        json!({}),
    )
    .await;
    assert!(!tested.to_string().contains(&token), "{tested}");
    let workflow = post_json(
        &http,
        &s,
        "/v1/workflows",
        json!({"name": "Note", "status": "live", "steps": [
            {"id": "note", "type": "http", "connection_id": connection["id"], "action": "note", "input": {"text": "hi"}}]}),
    )
    .await;
    let run = run_to_end(&http, &s, &workflow, json!({"data": {}})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(
        receiver.requests()[0].header("authorization"),
        Some(format!("Bearer {token}").as_str()),
        "the token reached the API"
    );
    let logs = std::path::PathBuf::from(env("SWITCHBOARD_STACK_LOGS"));
    let mut read = 0;
    for file in std::fs::read_dir(&logs).unwrap() {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap_or_default();
        read += text.len();
        assert!(!text.contains(&token), "a log line holds the connection's token");
    }
    assert!(read > 0, "the stack's logs are read");
}
