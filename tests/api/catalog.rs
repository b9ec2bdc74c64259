//! The service's own endpoints: health, the OpenAPI document, the reference page.

use switchboard_tests::TestApp;

#[tokio::test]
async fn health_reports_the_table_and_the_providers() {
    let app = TestApp::spawn().await;
    let res = app.get("/v1/healthz").send().await;
    res.expect(200);
    assert_eq!(res.body["status"], "ok");
    assert_eq!(res.body["checks"]["dynamodb"], "ok");
    assert_eq!(
        res.body["providers"],
        serde_json::json!({"telephony": "simulator", "llm": "offline", "mail": "outbox", "speech": "offline"})
    );
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = TestApp::spawn().await;
    let res = app.get("/v1/openapi.json").send().await;
    res.expect(200);
    assert_eq!(res.header("content-type"), Some("application/json"));
    let doc = &res.body;
    assert_eq!(doc["openapi"], "3.1.0");
    let mut operation_ids = std::collections::HashSet::new();
    for route in crate::isolation::routes() {
        let method = route.method.as_str().to_lowercase();
        let op = &doc["paths"][route.path][&method];
        assert!(op.is_object(), "{method} {} is not documented", route.path);
        assert!(
            operation_ids.insert(op["operationId"].as_str().unwrap().to_owned()),
            "duplicate operationId"
        );
        assert!(
            op["responses"]["default"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .unwrap()
                .ends_with("/ErrorBody")
        );
        if let Some(example) = route.doc.example {
            assert_eq!(op["requestBody"]["content"]["application/json"]["example"], example());
        }
        // Every operation that takes input has an example to be called with.
        let parameters = op["parameters"].as_array().cloned().unwrap_or_default();
        for parameter in parameters.iter().filter(|p| p["in"] == "path" || p["name"] == "limit") {
            assert!(
                !parameter["example"].is_null(),
                "{method} {}: `{}` has no example",
                route.path,
                parameter["name"]
            );
        }
        if route.doc.request.is_some() {
            assert!(
                route.doc.example.is_some(),
                "{method} {}: its body has no example",
                route.path
            );
        }
    }
    let description = doc["info"]["description"].as_str().unwrap();
    for code in switchboard_core::ErrorCode::ALL {
        assert!(
            description.contains(&format!("`{}`", code.as_str())),
            "the error table lacks {}",
            code.as_str()
        );
    }
    let create_agent = &doc["components"]["schemas"]["CreateAgent"];
    assert_eq!(
        create_agent["additionalProperties"], false,
        "request bodies refuse unknown fields, and say so"
    );
}

/// `docs/openapi.json`, which the `catalog` function serves, is the document the route tables
/// make. `UPDATE_OPENAPI=1` writes it anew.
#[test]
fn the_served_document_is_the_one_the_route_tables_make() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
    let made = switchboard_tests::openapi_document();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &made).unwrap();
        return;
    }
    assert!(
        catalog::DOCUMENT == made,
        "docs/openapi.json is not the document the routes make: run `UPDATE_OPENAPI=1 scripts/test -p switchboard-tests --test api catalog` and commit it"
    );
}

#[tokio::test]
async fn the_reference_page_loads_the_document() {
    let app = TestApp::spawn().await;
    let res = app.get("/docs").send().await;
    res.expect(200);
    assert!(res.header("content-type").unwrap().starts_with("text/html"));
    assert!(res.text.contains("/v1/openapi.json"));
    // Nothing from elsewhere: every script and style sheet is the API's own, and the policy
    // allows no other.
    assert!(
        !res.text.contains("http://") && !res.text.contains("https://"),
        "{}",
        res.text
    );
    let policy = res.header("content-security-policy").unwrap();
    assert!(
        policy.contains("default-src 'none'") && policy.contains("script-src 'self'"),
        "{policy}"
    );
    for (path, kind) in [
        ("/docs/reference.js", "text/javascript"),
        ("/docs/reference.css", "text/css"),
    ] {
        assert!(res.text.contains(path), "the page uses {path}");
        let asset = app.get(path).send().await;
        asset.expect(200);
        assert!(asset.header("content-type").unwrap().starts_with(kind));
        assert!(!asset.text.contains("https://"), "{path} loads nothing from elsewhere");
    }
}

#[tokio::test]
async fn voices_are_listed_and_agents_may_name_only_them() {
    let app = TestApp::spawn().await;
    let res = app.get("/v1/voices").send().await;
    res.expect(200);
    let voices = res.body["data"].as_array().unwrap();
    let english = voices
        .iter()
        .filter(|v| v["language"].as_str().unwrap().starts_with("en-"))
        .count();
    let hindi = voices.iter().filter(|v| v["language"] == "hi-IN").count();
    assert!(english >= 6 && hindi >= 1, "{english} English voices, {hindi} Hindi");
    for field in ["id", "name", "gender", "accent", "description", "provider_voice_id"] {
        assert!(
            voices.iter().all(|v| v[field].is_string()),
            "every voice has its {field}"
        );
    }
    assert_eq!(res.body["has_more"], false);

    let tenant = app.tenant().await;
    let hindi_voice = voices.iter().find(|v| v["language"] == "hi-IN").unwrap()["id"]
        .as_str()
        .unwrap();
    let created = app
        .post("/v1/agents")
        .bearer(&tenant.key)
        .json(serde_json::json!({"name": "Kavya", "system_prompt": "p", "voice": hindi_voice}))
        .send()
        .await;
    created.expect(201);
    let refused = app
        .post("/v1/agents")
        .bearer(&tenant.key)
        .json(serde_json::json!({"name": "J", "system_prompt": "p", "voice": "jennifer"}))
        .send()
        .await;
    refused.expect(400);
    let message = refused.body["error"]["message"].as_str().unwrap();
    for voice in voices {
        assert!(
            message.contains(voice["id"].as_str().unwrap()),
            "the error names every voice: {message}"
        );
    }
}

#[tokio::test]
async fn objections_are_filtered_by_category_and_locale() {
    let app = TestApp::spawn().await;
    let all = app.get("/v1/objections").send().await;
    all.expect(200);
    let all = all.body["data"].as_array().unwrap().clone();
    assert!(
        all.iter()
            .all(|o| (2..=3).contains(&o["rebuttals"].as_array().unwrap().len()))
    );

    let hindi_price = app.get("/v1/objections?category=price&locale=hi").send().await;
    hindi_price.expect(200);
    let hindi_price = hindi_price.body["data"].as_array().unwrap();
    assert!(!hindi_price.is_empty());
    assert!(
        hindi_price
            .iter()
            .all(|o| o["category"] == "price" && o["locale"] == "hi")
    );
    let expected = all
        .iter()
        .filter(|o| o["category"] == "price" && o["locale"] == "hi")
        .count();
    assert_eq!(hindi_price.len(), expected, "the filter keeps every match");

    for (query, param) in [("category=cost", "category"), ("locale=fr", "locale")] {
        let res = app.get(&format!("/v1/objections?{query}")).send().await;
        res.expect(400);
        assert_eq!(res.body["error"]["param"], param);
    }
}

#[tokio::test]
async fn the_providers_a_workspace_may_bring_are_listed_without_credentials() {
    let app = TestApp::spawn().await;
    let res = app.get("/v1/onboarding/providers").send().await;
    res.expect(200);
    let providers = res.body["data"].as_array().unwrap();
    let summary: Vec<(&str, &str, bool)> = providers
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap(),
                p["kind"].as_str().unwrap(),
                p["bundled"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("twilio", "telephony", true),
            ("anthropic", "llm", true),
            ("elevenlabs", "tts", false)
        ]
    );
    let twilio: Vec<(&str, bool)> = providers[0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f["secret"].as_bool().unwrap()))
        .collect();
    assert_eq!(twilio, [("account_sid", false), ("auth_token", true)]);
    assert!(providers.iter().all(|p| p["object"] == "onboarding_provider"));
}
