//! The offline model: answers deterministically from the agent's prompt and the other party's
//! words, and calls the same tools a real model would (booking when asked for an appointment,
//! requesting an approval for a refund or a manager, the do-not-call list for "stop calling
//! me", ending on goodbye). It needs no network and makes tests exact.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use switchboard_core::error::ProviderError;
use switchboard_core::model::{OBJECTIONS, ObjectionCategory, objection_heard};
use switchboard_core::ports::{Llm, LlmMessage, LlmReply, LlmRequest, ToolUse};
use switchboard_domain::automation::assistant;
use switchboard_domain::conversation::tools::{
    ADD_TO_DNC, BOOK_APPOINTMENT, END_CALL, RECORD_ANALYSIS, RECORD_RULE_BOOK, REQUEST_APPROVAL,
};

pub struct Offline;

impl Offline {
    /// Whether the offline model takes an API key: as a provider takes only its own keys, it
    /// takes only test keys (`test_...`), so that a workspace can try `byok` locally.
    pub fn check_key(api_key: &str) -> Result<(), ProviderError> {
        if api_key.starts_with(TEST_PREFIX) {
            Ok(())
        } else {
            Err(ProviderError::Rejected(format!(
                "invalid x-api-key (the offline model takes only test keys, which start with `{TEST_PREFIX}`)"
            )))
        }
    }
}

/// What test credentials start with, for the offline providers.
pub const TEST_PREFIX: &str = "test_";

fn contains_any(text: &str, words: &[&str]) -> bool {
    words.iter().any(|w| text.contains(w))
}

fn tool(n: usize, name: &str, input: Value) -> ToolUse {
    ToolUse {
        id: format!("toolu_offline_{n}"),
        name: name.to_owned(),
        input,
    }
}

/// An amount such as "$25" or "25.50 dollars", in cents.
fn amount_minor(text: &str) -> Option<i64> {
    let number = |s: &str| -> Option<i64> {
        let digits: String = s.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        let value: f64 = digits.trim_end_matches('.').parse().ok()?;
        Some((value * 100.0).round() as i64)
    };
    if let Some(at) = text.find('$') {
        return number(&text[at + 1..]);
    }
    let at = text.find(" dollars")?;
    let start = text[..at]
        .rfind(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or(0, |i| i + 1);
    number(&text[start..at])
}

/// An ISO 8601 time written in the text, else tomorrow at 10:00 UTC.
fn wanted_time(text: &str, now: DateTime<Utc>) -> DateTime<Utc> {
    text.split_whitespace()
        .find_map(|word| DateTime::parse_from_rfc3339(word.trim_end_matches(['.', ',', '?', '!'])).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| {
            (now.date_naive() + Duration::days(1))
                .and_hms_opt(10, 0, 0)
                .expect("valid time")
                .and_utc()
        })
}

/// The agent's prompt, turned into what it would say about itself.
fn about_me(system: &str) -> String {
    let first = system
        .split(['.', '\n'])
        .map(str::trim)
        .find(|s| !s.is_empty())
        .unwrap_or("I'm here to help");
    let first = first
        .replacen("You are", "I'm", 1)
        .replacen("you are", "I'm", 1)
        .replacen("Your", "My", 1)
        .replacen("You ", "I ", 1);
    format!("{first}.")
}

fn reply_to(request: &LlmRequest, text: &str) -> LlmReply {
    let said = text.to_lowercase();
    // The engine tells the agent how a human decided on its approval request.
    if let Some(decision) = said.strip_prefix("[approval ") {
        let text = if decision.starts_with("approved") {
            "Good news: my team approved that. Is there anything else I can do for you?"
        } else if decision.starts_with("denied") {
            "I'm sorry, my team couldn't approve that. Is there anything else I can do for you?"
        } else {
            "I'm sorry, I couldn't get an answer on that in time. Is there anything else I can do for you?"
        };
        return LlmReply {
            text: text.into(),
            tool_uses: Vec::new(),
        };
    }
    if contains_any(
        &said,
        &[
            "stop calling",
            "don't call",
            "do not call",
            "remove me",
            "unsubscribe",
            "take me off",
        ],
    ) {
        return LlmReply {
            text: String::new(),
            tool_uses: vec![
                tool(
                    1,
                    ADD_TO_DNC,
                    json!({"reason": "The callee asked not to be called again."}),
                ),
                tool(2, END_CALL, json!({"reason": "do_not_call"})),
            ],
        };
    }
    let approval = if contains_any(&said, &["refund", "waive"]) {
        Some("refund_waiver")
    } else if contains_any(&said, &["discount", "cheaper", "lower price", "credit"]) {
        Some("concession")
    } else if contains_any(&said, &["manager", "supervisor", "a human", "escalate"]) {
        Some("escalation")
    } else if contains_any(&said, &["call me back", "call back later"]) {
        Some("callback")
    } else {
        None
    };
    if let Some(action) = approval {
        let mut input =
            json!({"proposed_action": action, "rationale": format!("The other party said: \"{}\"", text.trim())});
        if let Some(value) = amount_minor(&said) {
            input["proposed_value_minor"] = json!(value);
            input["currency"] = json!("USD");
        }
        return LlmReply {
            text: String::new(),
            tool_uses: vec![tool(1, REQUEST_APPROVAL, input)],
        };
    }
    if contains_any(&said, &["appointment", "book", "schedule", "meeting"]) {
        let start = wanted_time(text, request.now);
        let input = json!({"start_time": start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "duration_minutes": 30, "title": "Appointment"});
        return LlmReply {
            text: String::new(),
            tool_uses: vec![tool(1, BOOK_APPOINTMENT, input)],
        };
    }
    if contains_any(&said, &["not interested"]) {
        return LlmReply {
            text: "No problem at all. Thanks for your time, goodbye!".into(),
            tool_uses: vec![tool(1, END_CALL, json!({"reason": "not_interested"}))],
        };
    }
    if contains_any(&said, &["bye", "that's all", "thats all", "hang up", "nothing else"]) {
        return LlmReply {
            text: "Thanks for your time. Goodbye!".into(),
            tool_uses: vec![tool(1, END_CALL, json!({"reason": "finished"}))],
        };
    }
    // An objection from the shared library gets the library's first rebuttal.
    if let Some(objection) = objection_heard(&said) {
        return LlmReply {
            text: objection.rebuttals[0].to_owned(),
            tool_uses: Vec::new(),
        };
    }
    LlmReply {
        text: format!("{} What else can I help you with?", about_me(&request.system)),
        tool_uses: Vec::new(),
    }
}

/// What the agent says once its tools ran.
fn after_tools(request: &LlmRequest, results: &[(String, String)]) -> LlmReply {
    let asked: Vec<&ToolUse> = request
        .messages
        .iter()
        .rev()
        .find_map(|m| match m {
            LlmMessage::Assistant { tool_uses, .. } if !tool_uses.is_empty() => Some(tool_uses.iter().collect()),
            _ => None,
        })
        .unwrap_or_default();
    let mut said = Vec::new();
    for (id, content) in results {
        let result: Value = serde_json::from_str(content).unwrap_or(Value::Null);
        let ok = result["ok"].as_bool().unwrap_or(false);
        match asked.iter().find(|t| &t.id == id).map(|t| t.name.as_str()) {
            Some(BOOK_APPOINTMENT) if ok => said.push(format!(
                "You're all set for {}. Anything else?",
                result["appointment"]["start_time"].as_str().unwrap_or("then")
            )),
            Some(BOOK_APPOINTMENT) => {
                said.push("I'm sorry, that time isn't available. Would another time work?".into())
            }
            Some(REQUEST_APPROVAL) => said.push(
                match result["status"].as_str() {
                    Some("approved") => "Good news: that's approved.",
                    Some("denied") => "I'm sorry, I wasn't able to get that approved.",
                    Some("expired") => "I'm sorry, I couldn't get an answer in time.",
                    _ => "Let me check that with my team. One moment, please.",
                }
                .into(),
            ),
            Some(ADD_TO_DNC) => said.push("Understood. We won't call you again.".into()),
            Some(END_CALL) => said.push("Goodbye!".into()),
            _ => {}
        }
    }
    LlmReply {
        text: said.join(" "),
        tool_uses: Vec::new(),
    }
}

/// A call's analysis, from the transcript the request carries.
fn analysis(request: &LlmRequest) -> LlmReply {
    let transcript = request
        .messages
        .iter()
        .filter_map(|m| match m {
            LlmMessage::User { text } => Some(text.to_lowercase()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let callee: String = transcript
        .lines()
        .filter(|l| l.starts_with("callee:"))
        .collect::<Vec<_>>()
        .join(" ");
    let positive = [
        "thanks",
        "thank you",
        "great",
        "perfect",
        "sounds good",
        "yes",
        "love",
        "wonderful",
    ];
    let negative = [
        "not interested",
        "stop calling",
        "angry",
        "terrible",
        "bad",
        "annoyed",
        "no thanks",
    ];
    let score = positive.iter().filter(|w| callee.contains(*w)).count() as i64
        - negative.iter().filter(|w| callee.contains(*w)).count() as i64;
    let sentiment = match score {
        s if s > 0 => "positive",
        0 => "neutral",
        _ => "negative",
    };
    let (outcome, what) = if transcript.contains(&format!("[action] {ADD_TO_DNC}")) {
        (
            "do_not_call",
            "The callee asked not to be called again and was added to the do-not-call list.",
        )
    } else if transcript.contains(&format!("[action] {BOOK_APPOINTMENT}: ok")) {
        ("appointment_booked", "An appointment was booked.")
    } else if transcript.contains(&format!("[action] {REQUEST_APPROVAL}")) {
        ("approval_requested", "The agent asked a human to approve a request.")
    } else if transcript.contains("[voicemail]") {
        ("voicemail", "The call reached voicemail.")
    } else if callee.contains("not interested") {
        ("not_interested", "The callee was not interested.")
    } else {
        ("completed", "The conversation ended normally.")
    };
    let turns = transcript
        .lines()
        .filter(|l| l.starts_with("agent:") || l.starts_with("callee:"))
        .count();
    let summary = format!("The agent and the callee exchanged {turns} turns. {what}");
    LlmReply {
        text: String::new(),
        tool_uses: vec![tool(
            1,
            RECORD_ANALYSIS,
            json!({"summary": summary, "sentiment": sentiment, "outcome": outcome}),
        )],
    }
}

/// A campaign's rule book from its brief (the last user message): the brief becomes the
/// instructions, its first sentence the opening, with the objections every campaign meets.
fn rule_book(request: &LlmRequest) -> LlmReply {
    let brief = request
        .messages
        .iter()
        .rev()
        .find_map(|m| match m {
            LlmMessage::User { text } => Some(text.trim().to_owned()),
            _ => None,
        })
        .unwrap_or_default();
    let first = brief
        .split(['.', '\n'])
        .map(str::trim)
        .find(|s| !s.is_empty())
        .unwrap_or("")
        .to_owned();
    // One English answer per kind of objection, from the shared library.
    let mut handlers = Vec::new();
    for category in ObjectionCategory::ALL {
        if let Some(o) = OBJECTIONS.iter().find(|o| o.category == category && o.locale == "en") {
            handlers.push(json!({"objection": o.objection, "response": o.rebuttals[0]}));
        }
    }
    let input = json!({
        "system_prompt": format!("You are calling on behalf of the business for this campaign: {brief} Be brief, friendly and honest; respect a no."),
        "opening": if first.is_empty() { String::new() } else { format!("Hi! I'm calling about this: {first}.") },
        "objection_handlers": handlers,
        "closing": "Thank you for your time. Goodbye!",
        "never": ["promise what the brief does not offer", "call again someone who asked not to be called"]
    });
    LlmReply {
        text: String::new(),
        tool_uses: vec![tool(1, RECORD_RULE_BOOK, input)],
    }
}

#[async_trait]
impl Llm for Offline {
    fn provider(&self) -> &'static str {
        "offline"
    }

    async fn complete(&self, request: &LlmRequest) -> Result<LlmReply, ProviderError> {
        if request.force_tool == Some(RECORD_ANALYSIS) {
            return Ok(analysis(request));
        }
        if request.force_tool == Some(RECORD_RULE_BOOK) {
            return Ok(rule_book(request));
        }
        match request.force_tool {
            Some(assistant::RECORD_WORKFLOW) => return Ok(crate::drafts::workflow(request)),
            Some(assistant::RECORD_CONNECTOR) => return Ok(crate::drafts::connector(request)),
            _ => {}
        }
        if request.tools.iter().any(|t| t.name == assistant::LIST_AGENTS) {
            return Ok(crate::drafts::chat(request));
        }
        Ok(match request.messages.last() {
            Some(LlmMessage::ToolResults { results }) => after_tools(request, results),
            Some(LlmMessage::User { text }) => reply_to(request, text),
            _ => LlmReply {
                text: about_me(&request.system),
                tool_uses: Vec::new(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> LlmRequest {
        LlmRequest {
            system: "You are Sarah, a friendly agent for Acme Dental. Be brief.".into(),
            messages: vec![LlmMessage::User { text: text.into() }],
            tools: Vec::new(),
            force_tool: None,
            now: "2026-11-22T15:00:00Z".parse().unwrap(),
            max_tokens: 300,
        }
    }

    async fn reply(text: &str) -> LlmReply {
        Offline.complete(&request(text)).await.unwrap()
    }

    #[tokio::test]
    async fn asking_not_to_be_called_puts_the_number_on_the_list_and_ends() {
        let names: Vec<String> = reply("Please stop calling me.")
            .await
            .tool_uses
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, [ADD_TO_DNC, END_CALL]);
    }

    #[tokio::test]
    async fn appointments_are_booked_at_the_time_asked_or_tomorrow_morning() {
        let r = reply("Can I book an appointment for 2026-12-01T15:30:00Z?").await;
        assert_eq!(r.tool_uses[0].input["start_time"], "2026-12-01T15:30:00Z");
        let r = reply("I'd like to schedule a visit").await;
        assert_eq!(r.tool_uses[0].input["start_time"], "2026-11-23T10:00:00Z");
    }

    #[tokio::test]
    async fn money_and_managers_need_a_human() {
        let r = reply("Can you waive the $25 fee?").await;
        assert_eq!(
            (
                r.tool_uses[0].input["proposed_action"].as_str(),
                r.tool_uses[0].input["proposed_value_minor"].as_i64()
            ),
            (Some("refund_waiver"), Some(2500))
        );
        let r = reply("Let me talk to your manager").await;
        assert_eq!(r.tool_uses[0].input["proposed_action"], "escalation");
    }

    #[tokio::test]
    async fn other_questions_are_answered_from_the_prompt() {
        let r = reply("Who is this?").await;
        assert_eq!(
            r.text,
            "I'm Sarah, a friendly agent for Acme Dental. What else can I help you with?"
        );
        assert!(r.tool_uses.is_empty());
    }

    #[tokio::test]
    async fn objections_get_the_librarys_first_rebuttal() {
        let r = reply("Honestly, it's too expensive for us.").await;
        let library = OBJECTIONS.iter().find(|o| o.id == "obj_price_too_expensive").unwrap();
        assert_eq!(r.text, library.rebuttals[0]);
        let r = reply("आपको मेरा नंबर कहाँ से मिला?").await;
        assert!(r.text.starts_with("आप हमारी ग्राहक सूची में हैं"), "{}", r.text);
    }

    #[test]
    fn drafted_rule_books_answer_each_kind_of_objection_from_the_library() {
        let request = request("Remind customers their annual check-up is due.");
        let book = &rule_book(&request).tool_uses[0].input;
        let handlers = book["objection_handlers"].as_array().unwrap();
        assert_eq!(handlers.len(), ObjectionCategory::ALL.len());
        assert!(
            handlers
                .iter()
                .all(|h| OBJECTIONS.iter().any(|o| o.rebuttals[0] == h["response"]))
        );
    }
}
