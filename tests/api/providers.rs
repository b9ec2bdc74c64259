//! The provider adapters against local fakes that speak their protocols.

use serde_json::json;
use switchboard_core::error::ProviderError;
use switchboard_core::ports::{Llm, LlmMessage, LlmRequest, ToolUse};
use switchboard_domain::conversation::tools;
use switchboard_llm::anthropic::Anthropic;
use switchboard_tests::fake::FakeServer;

fn request() -> LlmRequest {
    LlmRequest {
        system: "You are Sarah.".into(),
        messages: vec![
            LlmMessage::User {
                text: "Book me in tomorrow".into(),
            },
            LlmMessage::Assistant {
                text: "Sure.".into(),
                tool_uses: vec![ToolUse {
                    id: "toolu_1".into(),
                    name: tools::BOOK_APPOINTMENT.into(),
                    input: json!({"start_time": "2026-11-23T10:00:00Z", "title": "Visit"}),
                }],
            },
            LlmMessage::ToolResults {
                results: vec![("toolu_1".into(), r#"{"ok":true}"#.into())],
            },
        ],
        tools: tools::conversation_tools(),
        force_tool: None,
        now: "2026-11-22T15:00:00Z".parse().unwrap(),
        max_tokens: 400,
    }
}

#[tokio::test]
async fn the_anthropic_adapter_speaks_the_messages_api() {
    let fake = FakeServer::start(|_, _| {
        (
            200,
            "application/json",
            json!({
                "id": "msg_1", "type": "message", "role": "assistant", "stop_reason": "tool_use",
                "content": [
                    {"type": "text", "text": "One moment."},
                    {"type": "tool_use", "id": "toolu_9", "name": "end_call", "input": {"reason": "finished"}}
                ]
            })
            .to_string(),
        )
    })
    .await;
    let llm = Anthropic::new(&fake.url, "sk-ant-test", "claude-test-model");
    let reply = llm.complete(&request()).await.unwrap();
    assert_eq!(reply.text, "One moment.");
    assert_eq!(
        reply.tool_uses,
        [ToolUse {
            id: "toolu_9".into(),
            name: "end_call".into(),
            input: json!({"reason": "finished"})
        }]
    );

    let sent = &fake.requests()[0];
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/v1/messages"));
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    let body = sent.json();
    assert_eq!(
        (body["model"].as_str(), body["max_tokens"].as_u64()),
        (Some("claude-test-model"), Some(400))
    );
    assert!(
        body["system"].as_str().unwrap().contains("2026-11-22T15:00:00Z"),
        "the model is told the time"
    );
    assert_eq!(
        body["messages"][0],
        json!({"role": "user", "content": "Book me in tomorrow"})
    );
    assert_eq!(body["messages"][1]["content"][1]["type"], "tool_use");
    assert_eq!(
        body["messages"][2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "toolu_1", "content": "{\"ok\":true}"})
    );
    assert_eq!(body["tools"].as_array().unwrap().len(), 4);
    assert!(body.get("tool_choice").is_none());

    let mut forced = request();
    forced.force_tool = Some(tools::RECORD_ANALYSIS);
    llm.complete(&forced).await.unwrap();
    assert_eq!(
        fake.requests()[1].json()["tool_choice"],
        json!({"type": "tool", "name": "record_analysis"})
    );
}

#[tokio::test]
async fn anthropic_errors_say_whether_a_retry_can_help() {
    let fake = FakeServer::start(|_, _| {
        (
            400,
            "application/json",
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens too large"}})
                .to_string(),
        )
    })
    .await;
    let err = Anthropic::new(&fake.url, "k", "m")
        .complete(&request())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Rejected(m) if m.contains("max_tokens too large")),
        "{err}"
    );
    assert_eq!(fake.requests().len(), 1, "a refused request is not retried");

    let busy = FakeServer::start(|_, _| {
        (
            529,
            "application/json",
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}).to_string(),
        )
    })
    .await;
    let err = Anthropic::new(&busy.url, "k", "m")
        .complete(&request())
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable(_)));
    assert_eq!(busy.requests().len(), 2, "an overloaded API is tried once more");

    let recovers = FakeServer::start(|_, i| {
        if i == 0 {
            (500, "application/json", "{}".into())
        } else {
            (
                200,
                "application/json",
                json!({"content": [{"type": "text", "text": "Hello"}]}).to_string(),
            )
        }
    })
    .await;
    assert_eq!(
        Anthropic::new(&recovers.url, "k", "m")
            .complete(&request())
            .await
            .unwrap()
            .text,
        "Hello"
    );
}

/// Amazon SES (API v2, REST JSON) as the mailer sends through it: one `SendEmail` per mail,
/// from the configured sender, with a plain-text and an HTML part; a refusal is an error, so
/// the queue retries the mail.
#[tokio::test]
async fn mail_goes_through_ses_with_text_and_html_parts() {
    use switchboard_core::ports::{Mail, Mailer};
    let ses = FakeServer::start(|request, _| {
        if request.json()["Destination"]["ToAddresses"][0] == "bounce@example.com" {
            (
                400,
                "application/json",
                json!({"message": "Email address is not verified."}).to_string(),
            )
        } else {
            (200, "application/json", json!({"MessageId": "0100-ses-1"}).to_string())
        }
    })
    .await;
    let sdk = switchboard_tests::sdk().await;
    let client = aws_sdk_sesv2::Client::from_conf(
        aws_sdk_sesv2::config::Builder::from(&sdk)
            .endpoint_url(&ses.url)
            .build(),
    );
    let mailer = switchboard_mail::SesMailer::new(
        client,
        "Switchboard <no-reply@example.com>".into(),
        Some("transactional".into()),
    );
    let mail = Mail {
        to: "grace@example.com".into(),
        subject: "Ada invited you to Switchboard".into(),
        text: "Ada invited you as <member>.\n\nAccept within 7 days.".into(),
        kind: "invitation".into(),
        attachments: Vec::new(),
    };
    mailer.send(&mail).await.unwrap();
    let sent = &ses.requests()[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/v2/email/outbound-emails")
    );
    let body = sent.json();
    assert_eq!(body["FromEmailAddress"], "Switchboard <no-reply@example.com>");
    assert_eq!(body["ConfigurationSetName"], "transactional");
    assert_eq!(body["Destination"]["ToAddresses"], json!(["grace@example.com"]));
    let simple = &body["Content"]["Simple"];
    assert_eq!(simple["Subject"]["Data"], "Ada invited you to Switchboard");
    assert_eq!(simple["Body"]["Text"]["Data"], mail.text);
    let html = simple["Body"]["Html"]["Data"].as_str().unwrap();
    assert!(
        html.contains("Switchboard")
            && html.contains("&lt;member&gt;")
            && html.contains("<p>Accept within 7 days.</p>"),
        "{html}"
    );
    assert!(
        sent.header("authorization")
            .is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256"))
    );

    // An attachment (the weekly report's PDF) travels as a file of the message.
    let report = Mail {
        attachments: vec![switchboard_core::ports::Attachment {
            filename: "report.pdf".into(),
            content_type: "application/pdf".into(),
            content: b"%PDF-1.7 report".to_vec(),
        }],
        ..mail.clone()
    };
    mailer.send(&report).await.unwrap();
    let file = &ses.requests()[1].json()["Content"]["Simple"]["Attachments"][0];
    assert_eq!(
        (&file["FileName"], &file["ContentType"], &file["ContentDisposition"]),
        (&json!("report.pdf"), &json!("application/pdf"), &json!("ATTACHMENT"))
    );
    assert_eq!(file["RawContent"], "JVBERi0xLjcgcmVwb3J0", "base64 of the file");

    let refused = Mail {
        to: "bounce@example.com".into(),
        ..mail
    };
    let err = mailer.send(&refused).await.unwrap_err();
    assert!(
        format!("{err:#}").contains("SES refused the invitation mail"),
        "{err:#}"
    );
}
