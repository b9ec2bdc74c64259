//! Signup, email verification, login and `me`.

use serde_json::json;
use switchboard_core::ports::AccountStore;
use switchboard_tests::{TestApp, random_suffix};

fn email() -> String {
    format!("user-{}@example.com", random_suffix())
}

#[tokio::test]
async fn signup_creates_a_workspace_its_owner_and_the_trial_credit() {
    let app = TestApp::spawn().await;
    let address = email();
    let res = app
        .post("/v1/auth/signup")
        .json(json!({"email": address.to_uppercase(), "password": "correct horse battery", "full_name": "Ada Lovelace", "country": "gb"}))
        .send()
        .await;
    res.expect(201);
    let ws = &res.body["workspace"];
    let user = &res.body["user"];
    assert!(ws["id"].as_str().unwrap().starts_with("ws_"));
    assert_eq!(
        (
            ws["object"].as_str(),
            ws["name"].as_str(),
            ws["plan"].as_str(),
            ws["country"].as_str()
        ),
        (Some("workspace"), Some("Ada Lovelace"), Some("starter"), Some("GB"))
    );
    assert!(user["id"].as_str().unwrap().starts_with("usr_"));
    assert_eq!(
        (
            user["email"].as_str(),
            user["role"].as_str(),
            user["email_verified"].as_bool()
        ),
        (Some(address.as_str()), Some("owner"), Some(false))
    );
    assert_eq!(res.body["verify_email_sent"], true);
    assert!(!res.text.contains("password"), "no password or hash in the answer");

    let items = app.snapshot(ws["id"].as_str().unwrap()).await;
    let wallet = items.iter().find(|(k, _)| k.ends_with("|WALLET")).expect("a wallet").1;
    assert!(
        wallet.contains(r#""balance_minor":500"#) && wallet.contains(r#""currency":"USD""#),
        "{wallet}"
    );
    let ledger = items
        .iter()
        .find(|(k, _)| k.contains("#LEDGER|led_"))
        .expect("a ledger entry")
        .1;
    assert!(
        ledger.contains(r#""kind":"trial_credit""#) && ledger.contains(r#""amount_minor":500"#),
        "{ledger}"
    );

    let login = app.store.find_login(&address).await.unwrap().unwrap();
    assert!(
        login.password_hash.starts_with("$argon2id$"),
        "passwords are stored as Argon2id hashes"
    );
}

#[tokio::test]
async fn the_verification_link_verifies_once_and_answers_the_same_after() {
    let app = TestApp::spawn().await;
    let address = email();
    app.post("/v1/auth/signup")
        .json(json!({"email": address, "password": "correct horse battery"}))
        .send()
        .await
        .expect(201);
    let mails = app.mails().await;
    assert_eq!(mails.len(), 1);
    assert_eq!(
        (mails[0].to.as_str(), mails[0].kind.as_str()),
        (address.as_str(), "verify_email")
    );
    let link = mails[0]
        .text
        .lines()
        .find(|l| l.starts_with("http://switchboard.test/v1/auth/verify-email?token="))
        .expect("a link");
    let path = link.trim_start_matches("http://switchboard.test");

    let first = app.get(path).send().await;
    first.expect(200);
    assert_eq!(
        (first.body["ok"].as_bool(), first.body["email"].as_str()),
        (Some(true), Some(address.as_str()))
    );
    app.clock.advance(chrono::Duration::minutes(5));
    let again = app.get(path).send().await;
    again.expect(200);
    assert_eq!(again.body["verified_at"], first.body["verified_at"]);

    let t_login = app.login(&address, "correct horse battery").await;
    assert_eq!(t_login.body["user"]["email_verified"], true);
}

#[tokio::test]
async fn verification_tokens_expire_after_a_day_and_unknown_ones_are_refused() {
    let app = TestApp::spawn().await;
    app.post("/v1/auth/signup")
        .json(json!({"email": email(), "password": "correct horse battery"}))
        .send()
        .await
        .expect(201);
    let mail = app.mails().await.remove(0);
    let path = mail
        .text
        .lines()
        .find(|l| l.starts_with("http"))
        .unwrap()
        .trim_start_matches("http://switchboard.test")
        .to_owned();
    app.clock
        .advance(chrono::Duration::hours(24) + chrono::Duration::seconds(1));
    app.get(&path).send().await.expect_error(400, "invalid_token");
    app.get("/v1/auth/verify-email?token=nope")
        .send()
        .await
        .expect_error(400, "invalid_token");
    let res = app.get("/v1/auth/verify-email").send().await;
    res.expect_error(400, "invalid_parameter");
    assert_eq!(res.param(), "token");
}

#[tokio::test]
async fn an_email_registers_once_whatever_its_case() {
    let app = TestApp::spawn().await;
    let address = email();
    app.post("/v1/auth/signup")
        .json(json!({"email": address, "password": "correct horse battery"}))
        .send()
        .await
        .expect(201);
    let res = app
        .post("/v1/auth/signup")
        .json(json!({"email": address.to_uppercase(), "password": "another password!"}))
        .send()
        .await;
    res.expect_error(409, "email_taken");
    assert_eq!(res.param(), "email");
}

#[tokio::test]
async fn two_signups_racing_for_one_email_create_one_account() {
    let app = TestApp::spawn().await;
    let address = email();
    let results = futures::future::join_all((0..4).map(|i| {
        app.post("/v1/auth/signup")
            .json(json!({"email": address, "password": format!("password number {i}")}))
            .send()
    }))
    .await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 409, 409, 409]);
    let winner = results.iter().position(|r| r.status == 201).unwrap();
    app.login(&address, &format!("password number {winner}")).await;
}

#[tokio::test]
async fn signup_checks_its_input() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            json!({"email": "not-an-email", "password": "correct horse battery"}),
            400,
            "invalid_email",
            "email",
        ),
        (
            json!({"email": email(), "password": "short"}),
            422,
            "validation_failed",
            "password",
        ),
        (
            json!({"email": email(), "password": "correct horse battery", "country": "XX"}),
            400,
            "invalid_value",
            "country",
        ),
        (
            json!({"email": email(), "password": "correct horse battery", "full_name": ""}),
            422,
            "validation_failed",
            "full_name",
        ),
        (json!({"email": email()}), 400, "missing_field", "password"),
        (
            json!({"email": email(), "password": "correct horse battery", "plan": "enterprise"}),
            400,
            "unknown_field",
            "plan",
        ),
    ];
    for (body, status, code, param) in cases {
        let res = app.post("/v1/auth/signup").json(body).send().await;
        res.expect_error(status, code);
        assert_eq!(res.param(), param);
    }
    assert!(app.mails().await.is_empty(), "nothing was sent for refused signups");
}

#[tokio::test]
async fn login_returns_a_token_and_a_secure_cookie() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let res = app.login(&t.email, &t.password).await;
    assert_eq!(
        (res.body["token_type"].as_str(), res.body["expires_in"].as_i64()),
        (Some("Bearer"), Some(604_800))
    );
    assert_eq!(res.body["workspace"]["id"], t.workspace_id.as_str());
    let cookie = res.header("set-cookie").unwrap();
    let token = res.body["token"].as_str().unwrap();
    assert!(cookie.starts_with(&format!("sb_session={token};")));
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=604800"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
}

#[tokio::test]
async fn wrong_passwords_and_unknown_emails_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let wrong = app
        .post("/v1/auth/login")
        .json(json!({"email": t.email, "password": "not the password"}))
        .send()
        .await;
    let unknown = app
        .post("/v1/auth/login")
        .json(json!({"email": email(), "password": "not the password"}))
        .send()
        .await;
    wrong.expect_error(401, "invalid_login");
    unknown.expect_error(401, "invalid_login");
    assert_eq!(wrong.body["error"]["message"], unknown.body["error"]["message"]);
}

#[tokio::test]
async fn me_describes_the_session() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let me = app.get("/v1/auth/me").bearer(&t.token).send().await;
    me.expect(200);
    assert_eq!(
        (me.body["user"]["id"].as_str(), me.body["workspace"]["id"].as_str()),
        (Some(t.user_id.as_str()), Some(t.workspace_id.as_str()))
    );
    let expires: chrono::DateTime<chrono::Utc> = me.body["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires.timestamp() - app.clock.now().timestamp(), 7 * 24 * 3600);
}

#[tokio::test]
async fn concurrent_verifications_agree_on_one_time() {
    let app = TestApp::spawn().await;
    app.post("/v1/auth/signup")
        .json(json!({"email": email(), "password": "correct horse battery"}))
        .send()
        .await
        .expect(201);
    let mail = app.mails().await.remove(0);
    let path = mail
        .text
        .lines()
        .find(|l| l.starts_with("http"))
        .unwrap()
        .trim_start_matches("http://switchboard.test")
        .to_owned();
    let results = futures::future::join_all((0..4).map(|_| app.get(&path).send())).await;
    for r in &results {
        r.expect(200);
        assert_eq!(r.body["verified_at"], results[0].body["verified_at"]);
    }
}

#[tokio::test]
async fn sign_in_locks_an_email_after_ten_failures_known_or_not() {
    let app = TestApp::spawn().await;
    let t = app.trial_tenant().await;
    let unknown = email();
    let attempt = |email: String, password: &'static str| {
        let app = &app;
        async move {
            app.post("/v1/auth/login")
                .json(json!({"email": email, "password": password}))
                .send()
                .await
        }
    };
    for _ in 0..10 {
        attempt(t.email.clone(), "not the password")
            .await
            .expect_error(401, "invalid_login");
        attempt(unknown.clone(), "not the password")
            .await
            .expect_error(401, "invalid_login");
    }
    // Locked, even with the right password; an unknown email the same way.
    for email in [t.email.clone(), unknown.clone()] {
        let locked = attempt(email, "correct horse battery staple").await;
        locked.expect_error(429, "too_many_failed_logins");
        let retry_after: i64 = locked.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=900).contains(&retry_after), "{retry_after}");
    }
    // Another email is not affected; after the window the owner signs in again.
    let other = app.trial_tenant().await;
    app.login(&other.email, &other.password).await;
    app.clock.advance(chrono::Duration::minutes(15));
    app.login(&t.email, &t.password).await;
}

/// Guesses sent at once get no more tries than guesses sent one by one: each takes its try
/// before its password is checked.
#[tokio::test]
async fn guesses_sent_at_once_get_ten_tries_between_them() {
    let app = TestApp::unlimited().await;
    let t = app.trial_tenant().await;
    let guesses = (0..30).map(|i| {
        app.post("/v1/auth/login")
            .json(json!({"email": t.email, "password": format!("guess number {i}")}))
            .send()
    });
    let answers = futures::future::join_all(guesses).await;
    let tried = answers.iter().filter(|a| a.status == 401).count();
    let locked = answers.iter().filter(|a| a.code() == "too_many_failed_logins").count();
    assert_eq!((tried, locked), (10, 20));
    // A right password is no failure: it gives its try back.
    let other = app.trial_tenant().await;
    for _ in 0..12 {
        app.login(&other.email, &other.password).await.expect(200);
    }
}
