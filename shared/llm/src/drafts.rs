//! What the offline model drafts and answers for the automation assistant: the common shapes
//! of a workflow (a trigger, then steps in the order the request names them) and of a custom
//! connector, read from the request's words and the workspace's setup lines; and answers about
//! the setup from the read-only tools. Deterministic, so tests are exact; anything it does not
//! recognise is left out, with a note saying so.

use serde_json::{Value, json};
use switchboard_core::ports::{LlmMessage, LlmReply, LlmRequest, ToolUse};
use switchboard_domain::automation::assistant::{
    LIST_AGENTS, LIST_CONNECTIONS, LIST_EXECUTIONS, LIST_PHONE_NUMBERS, LIST_TRIGGERS, LIST_WORKFLOWS,
    RECORD_CONNECTOR, RECORD_WORKFLOW, SETUP_HEADER,
};

fn last_user_text(request: &LlmRequest) -> String {
    request
        .messages
        .iter()
        .rev()
        .find_map(|m| match m {
            LlmMessage::User { text } => Some(text.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn recorded(name: &str, input: Value) -> LlmReply {
    LlmReply {
        text: String::new(),
        tool_uses: vec![ToolUse {
            id: "toolu_offline_1".into(),
            name: name.into(),
            input,
        }],
    }
}

/// Where the first of `words` appears in `text`.
fn find_any(text: &str, words: &[&str]) -> Option<usize> {
    words.iter().filter_map(|w| text.find(w)).min()
}

/// `(kind, id, about)` of each setup line.
fn setup(text: &str) -> Vec<(String, String, String)> {
    let Some((_, lines)) = text.split_once(SETUP_HEADER) else {
        return Vec::new();
    };
    lines
        .lines()
        .filter_map(|line| {
            let (head, about) = line.strip_prefix("- ")?.split_once(": ")?;
            let (kind, id) = head.split_once(' ')?;
            Some((kind.to_owned(), id.to_owned(), about.to_owned()))
        })
        .collect()
}

fn first_of<'a>(setup: &'a [(String, String, String)], kind: &str, about_has: &str) -> Option<&'a str> {
    setup
        .iter()
        .find(|(k, _, about)| k == kind && about.contains(about_has))
        .map(|(_, id, _)| id.as_str())
}

/// A name from the request's first words.
fn name_from(prompt: &str, fallback: &str) -> String {
    let words: Vec<&str> = prompt.split_whitespace().take(8).collect();
    let name = words.join(" ").trim_end_matches(['.', ',', ':', ';']).to_owned();
    if name.is_empty() {
        fallback.to_owned()
    } else {
        name.chars().take(120).collect()
    }
}

/// The trigger the request describes, and the placeholder of the phone number its data holds.
fn trigger_of(said: &str, prompt: &str) -> (Value, &'static str) {
    const PHONE: &str = "{{trigger.data.phone}}";
    if said.contains("every ") || said.contains("daily") || said.contains("each morning") {
        let timezone = prompt
            .split(|c: char| c.is_whitespace() || matches!(c, ',' | '(' | ')'))
            .map(|w| w.trim_end_matches(['.', ';']))
            .find(|w| w.contains('/') && w.chars().next().is_some_and(char::is_uppercase))
            .unwrap_or("UTC");
        return (
            json!({"type": "schedule", "cron": cron_of(said), "timezone": timezone}),
            PHONE,
        );
    }
    if said.contains("booked") || said.contains("appointment") {
        return (json!({"type": "event", "event": "appointment.created"}), PHONE);
    }
    if said.contains("call end")
        || said.contains("after a call")
        || said.contains("after each call")
        || said.contains("call is over")
    {
        let status = [
            // Before "answered", which "unanswered" holds.
            (&["missed", "no answer", "unanswered", "not answered"][..], "no-answer"),
            (&["answered", "completed", "connected"][..], "completed"),
            (&["busy"][..], "busy"),
            (&["voicemail"][..], "voicemail"),
        ]
        .into_iter()
        .find(|(words, _)| find_any(said, words).is_some())
        .map(|(_, status)| status);
        let filter = status.map_or(json!({}), |s| json!({"status": s}));
        return (
            json!({"type": "event", "event": "call.ended", "filter": filter}),
            "{{trigger.data.to}}",
        );
    }
    if find_any(
        said,
        &[
            "webhook",
            "inbound",
            "when we receive",
            "when our site",
            "form is submitted",
        ],
    )
    .is_some()
    {
        return (json!({"type": "inbound"}), PHONE);
    }
    (Value::Null, PHONE)
}

/// A five-field cron for "every day at 9", "every monday at 8:30am", "every weekday", "every hour".
fn cron_of(said: &str) -> String {
    if said.contains("every hour") || said.contains("hourly") {
        return "0 * * * *".into();
    }
    let (mut hour, mut minute) = (9u32, 0u32);
    if let Some(at) = said.find(" at ") {
        let time: String = said[at + 4..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ':')
            .collect();
        let mut parts = time.split(':');
        if let Some(h) = parts.next().and_then(|h| h.parse().ok()).filter(|h| *h < 24) {
            hour = h;
        }
        minute = parts
            .next()
            .and_then(|m| m.parse().ok())
            .filter(|m| *m < 60)
            .unwrap_or(0);
        if said[at + 4 + time.len()..].trim_start().starts_with("pm") && hour < 12 {
            hour += 12;
        }
    }
    const DAYS: [(&str, &str); 7] = [
        ("monday", "MON"),
        ("tuesday", "TUE"),
        ("wednesday", "WED"),
        ("thursday", "THU"),
        ("friday", "FRI"),
        ("saturday", "SAT"),
        ("sunday", "SUN"),
    ];
    let days = if said.contains("weekday") {
        "MON-FRI".to_owned()
    } else {
        let named: Vec<&str> = DAYS.iter().filter(|(d, _)| said.contains(d)).map(|(_, c)| *c).collect();
        if named.is_empty() {
            "*".to_owned()
        } else {
            named.join(",")
        }
    };
    format!("{minute} {hour} * * {days}")
}

/// A workflow from the request: its trigger, then each step it names, in the order named.
pub(crate) fn workflow(request: &LlmRequest) -> LlmReply {
    let text = last_user_text(request);
    let prompt = text.split(SETUP_HEADER).next().unwrap_or_default().trim().to_owned();
    let said = prompt.to_lowercase();
    let setup = setup(&text);
    let (trigger, phone) = trigger_of(&said, &prompt);
    let about_the_event = match trigger["event"].as_str() {
        Some("call.ended") => "Call to {{trigger.data.to}} ended: {{trigger.data.status}}.",
        Some("appointment.created") => "New appointment: {{trigger.data.title}} at {{trigger.data.start_time}}.",
        _ => "A workflow ran: {{trigger.type}}.",
    };
    let has_phone = trigger["event"].as_str() != Some("appointment.created") && trigger["type"] != "schedule";
    let mut steps: Vec<(usize, Value)> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut need_connection = |at: Option<usize>, connector: &str, what: &str, step: &dyn Fn(&str) -> Value| {
        if let Some(at) = at {
            match first_of(&setup, "connection", &format!("connector {connector}")) {
                Some(id) => steps.push((at, step(id))),
                None => notes.push(format!(
                    "No connection to {what}: create one with connector `{connector}`, then add its step."
                )),
            }
        }
    };
    need_connection(
        find_any(
            &said,
            &[
                "team chat",
                "slack",
                "teams",
                "chat",
                "notify the team",
                "tell the team",
            ],
        ),
        "chat_webhook",
        "a team chat",
        &|id| json!({"id": "notify", "type": "http", "connection_id": id, "action": "post_message", "input": {"text": about_the_event}}),
    );
    if has_phone {
        need_connection(
            find_any(&said, &["hubspot"]),
            "hubspot",
            "HubSpot",
            &|id| json!({"id": "crm", "type": "http", "connection_id": id, "action": "create_contact", "input": {"properties": {"phone": phone}}}),
        );
        need_connection(
            find_any(&said, &["pipedrive"]),
            "pipedrive",
            "Pipedrive",
            &|id| json!({"id": "crm", "type": "http", "connection_id": id, "action": "create_person", "input": {"name": phone, "phone": phone}}),
        );
    }
    let mut push = |at: Option<usize>, step: Value| {
        if let Some(at) = at {
            steps.push((at, step));
        }
    };
    if let Some((at, minutes)) = wait_of(&said) {
        push(Some(at), json!({"id": "wait", "type": "wait", "minutes": minutes}));
    }
    let agent = first_of(&setup, "agent", "");
    let number = first_of(&setup, "number", "");
    if has_phone {
        let attributes = match trigger["event"].as_str() {
            Some("call.ended") => {
                json!({"last_call": "{{trigger.data.id}}", "last_call_status": "{{trigger.data.status}}"})
            }
            _ => json!({"source": "workflow"}),
        };
        push(
            find_any(&said, &["update the contact", "contact", "note it", "save the caller"]),
            json!({"id": "contact", "type": "upsert_contact", "phone": phone, "attributes": attributes}),
        );
        push(
            find_any(&said, &["do not call", "do-not-call", "dnc"]),
            json!({"id": "dnc", "type": "add_to_dnc", "phone": phone, "reason": "Added by a workflow."}),
        );
        let call_at = find_any(
            &said,
            &[
                "call them",
                "call back",
                "call the lead",
                "call the number",
                "place a call",
                "follow-up call",
                "follow up call",
            ],
        );
        match (agent, number) {
            (Some(agent), Some(number)) => push(
                call_at,
                json!({"id": "call", "type": "start_call", "agent_id": agent, "phone_number_id": number, "to": phone}),
            ),
            _ if call_at.is_some() => {
                notes.push("No agent on a number to call with: add both, then the call step.".into())
            }
            _ => {}
        }
    }
    let brief_at = find_any(
        &said,
        &[
            "ask the agent",
            "message the agent",
            "tell the agent",
            "brief the agent",
        ],
    );
    match agent {
        Some(agent) => push(
            brief_at,
            json!({"id": "brief", "type": "send_agent_message", "agent_id": agent, "content": about_the_event}),
        ),
        None if brief_at.is_some() => notes.push("No agent to message: create one, then the message step.".into()),
        None => {}
    }
    steps.sort_by_key(|(at, _)| *at);
    let steps: Vec<Value> = steps.into_iter().map(|(_, step)| step).collect();
    if steps.is_empty() {
        notes.push("No step recognised: name what should happen (post to the team chat, update the contact, call them back, wait 10 minutes...).".into());
    }
    recorded(
        RECORD_WORKFLOW,
        json!({
            "name": name_from(&prompt, "Drafted workflow"),
            "description": prompt.chars().take(500).collect::<String>(),
            "steps": steps,
            "trigger": trigger,
            "notes": notes,
        }),
    )
}

/// "wait 10 minutes", "after 2 hours", "wait a day": where, and how many minutes.
fn wait_of(said: &str) -> Option<(usize, u32)> {
    let at = find_any(said, &["wait ", "after "])?;
    let rest = &said[at..];
    let words: Vec<&str> = rest.split_whitespace().take(4).collect();
    let count = words.iter().find_map(|w| match *w {
        "a" | "an" | "one" => Some(1),
        w => w.parse::<u32>().ok(),
    })?;
    let unit = words.iter().find_map(|w| {
        let w = w.trim_end_matches([',', '.']);
        if w.starts_with("minute") {
            Some(1)
        } else if w.starts_with("hour") {
            Some(60)
        } else if w.starts_with("day") {
            Some(1440)
        } else {
            None
        }
    })?;
    // Longer than a workflow may wait is for the workflow's check to refuse, not to overflow.
    Some((at, count.saturating_mul(unit)))
}

/// A custom connector from the request: its base URL, auth and the `METHOD /path` actions it names.
pub(crate) fn connector(request: &LlmRequest) -> LlmReply {
    let text = last_user_text(request);
    let prompt = text.split(SETUP_HEADER).next().unwrap_or_default().trim().to_owned();
    let said = prompt.to_lowercase();
    let clean = |w: &str| {
        w.trim_matches(|c: char| matches!(c, ',' | ';' | '(' | ')' | '"' | '\'' | '.'))
            .to_owned()
    };
    let raw: Vec<&str> = prompt.split_whitespace().collect();
    let words: Vec<String> = raw.iter().map(|w| clean(w)).collect();
    let base_url = words
        .iter()
        .find(|w| w.starts_with("https://") || w.starts_with("http://"))
        .cloned()
        .unwrap_or_default();
    let auth = if find_any(&said, &["oauth", "client credentials"]).is_some() {
        json!({"type": "oauth2_client_credentials", "token_url": format!("{}/oauth/token", base_url.trim_end_matches('/'))})
    } else if find_any(&said, &["api key", "api-key", "apikey"]).is_some() {
        let header = words
            .iter()
            .find(|w| w.to_lowercase().starts_with("x-"))
            .cloned()
            .unwrap_or_else(|| "X-API-Key".into());
        json!({"type": "api_key_header", "header": header})
    } else if find_any(&said, &["bearer", "token"]).is_some() {
        json!({"type": "bearer"})
    } else if find_any(&said, &["basic", "username and password"]).is_some() {
        json!({"type": "basic"})
    } else {
        json!({"type": "none"})
    };
    const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
    const FILLER: [&str; 5] = ["a", "an", "the", "to", "and"];
    let mut actions: Vec<Value> = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let Some(path) = words.get(i + 1).filter(|p| p.starts_with('/')) else {
            continue;
        };
        if !METHODS.contains(&word.as_str()) {
            continue;
        }
        // The words of the clause before the method name the action ("create a lead (POST /leads"):
        // at most three, back to the end of the clause before.
        let start = (i.saturating_sub(3)..i)
            .rev()
            .find(|&j| j > 0 && raw[j - 1].ends_with([',', ':', ';', ')', '.']))
            .unwrap_or(i.saturating_sub(3));
        let named: Vec<String> = words[start..i]
            .iter()
            .filter(|w| !METHODS.contains(&w.as_str()))
            .map(|w| {
                w.to_lowercase()
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
            })
            .filter(|w| !w.is_empty() && !FILLER.contains(&w.as_str()))
            .collect();
        let mut name = named.join("_");
        if name.is_empty() || actions.iter().any(|a| a["name"] == name.as_str()) {
            name = format!(
                "{}_{}",
                word.to_lowercase(),
                path.trim_matches('/').replace(['/', '{', '}'], "_").trim_matches('_')
            );
        }
        let path = path.replace('{', "{{input.").replace('}', "}}");
        // "with name and phone": the body's fields, for the methods that send one.
        let body = (word != "GET" && word != "DELETE").then(|| {
            // Up to the end of the action's clause: "(POST /leads with name and phone),".
            let clause_end = (i + 1..raw.len())
                .find(|&j| raw[j].ends_with([')', ',', ';', '.']))
                .unwrap_or(raw.len() - 1);
            let fields: Vec<String> = words[i + 2..=clause_end.max(i + 1)]
                .iter()
                .skip_while(|w| w.as_str() != "with")
                .skip(1)
                .map(|w| w.to_lowercase())
                .filter(|w| !FILLER.contains(&w.as_str()) && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                .take(10)
                .collect();
            Value::Object(
                fields
                    .into_iter()
                    .map(|f| (f.clone(), json!(format!("{{{{input.{f}}}}}"))))
                    .collect(),
            )
        });
        let mut action = json!({"name": name, "method": word, "path": path, "outputs": {}});
        if let Some(body) = body {
            action["body"] = body;
        }
        actions.push(action);
    }
    let test_action = actions
        .iter()
        .find(|a| a["method"] == "GET" && !a["path"].as_str().unwrap_or_default().contains("{{"))
        .map(|a| a["name"].clone())
        .unwrap_or(Value::Null);
    let mut notes = Vec::new();
    if base_url.is_empty() {
        notes.push("No base URL: write the API's address (https://...).".to_owned());
    }
    if actions.is_empty() {
        notes.push(
            "No action recognised: name each as `METHOD /path`, e.g. `POST /leads with name and phone`.".to_owned(),
        );
    }
    let name = prompt
        .split_once(" for ")
        .map(|(_, rest)| {
            rest.split([',', '.', '('])
                .next()
                .unwrap_or_default()
                .split(" at ")
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "Custom API".into());
    recorded(
        RECORD_CONNECTOR,
        json!({
            "name": name.chars().take(120).collect::<String>(),
            "description": prompt.chars().take(500).collect::<String>(),
            "base_url": base_url,
            "auth": auth,
            "actions": actions,
            "test_action": test_action,
            "notes": notes,
        }),
    )
}

/// The assistant's chat: the tools the question is about, then what they returned.
pub(crate) fn chat(request: &LlmRequest) -> LlmReply {
    if let Some(LlmMessage::ToolResults { results }) = request.messages.last() {
        let found: Vec<&str> = results.iter().map(|(_, content)| content.as_str()).collect();
        return LlmReply {
            text: format!("Here is what I found.\n\n{}", found.join("\n\n")),
            tool_uses: Vec::new(),
        };
    }
    let said = last_user_text(request).to_lowercase();
    let asked: Vec<&str> = [
        (&["agent"][..], LIST_AGENTS),
        (&["number", "phone"][..], LIST_PHONE_NUMBERS),
        (&["connection", "integration", "connector"][..], LIST_CONNECTIONS),
        (&["workflow", "automation"][..], LIST_WORKFLOWS),
        (&["trigger", "schedule"][..], LIST_TRIGGERS),
        (&["run", "execution", "fail"][..], LIST_EXECUTIONS),
    ]
    .into_iter()
    .filter(|(words, _)| find_any(&said, words).is_some())
    .map(|(_, tool)| tool)
    .collect();
    if asked.is_empty() {
        return LlmReply {
            text: "I can tell you about this workspace's agents, phone numbers, connections, workflows, triggers and \
                   recent runs. What would you like to know?"
                .into(),
            tool_uses: Vec::new(),
        };
    }
    LlmReply {
        text: String::new(),
        tool_uses: asked
            .into_iter()
            .enumerate()
            .map(|(n, name)| ToolUse {
                id: format!("toolu_offline_{}", n + 1),
                name: name.into(),
                input: json!({}),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_read_the_days_and_time_asked_for() {
        assert_eq!(cron_of("every weekday at 8:30am"), "30 8 * * MON-FRI");
        assert_eq!(cron_of("every monday and friday at 5pm"), "0 17 * * MON,FRI");
        assert_eq!(cron_of("every day"), "0 9 * * *");
        assert_eq!(cron_of("every hour"), "0 * * * *");
    }

    #[test]
    fn waits_read_their_length() {
        assert_eq!(wait_of("then wait 10 minutes and call").map(|w| w.1), Some(10));
        assert_eq!(wait_of("after 2 hours, post").map(|w| w.1), Some(120));
        assert_eq!(wait_of("wait a day").map(|w| w.1), Some(1440));
        assert_eq!(wait_of("post to the chat"), None);
        assert_eq!(wait_of("wait 4000000 days").map(|w| w.1), Some(u32::MAX));
    }
}
