//! Rule books: how the agent conducts a campaign's calls, written by the model from the
//! campaign's brief and checked before it is kept.

use chrono::{DateTime, Utc};
use switchboard_core::model::RuleBook;
use switchboard_core::ports::{Llm, LlmMessage, LlmRequest};
use switchboard_core::{Error, ErrorCode};

use crate::automation::assistant::model_error;
use crate::conversation::tools;

/// What is wrong with a rule book, if anything.
pub fn rule_book_problems(book: &RuleBook) -> Vec<String> {
    let mut problems = Vec::new();
    let mut check = |what: &str, text: &str, min: usize, max: usize| {
        let len = text.trim().chars().count();
        if len < min || len > max {
            problems.push(format!("{what} must have {min} to {max} characters (it has {len})"));
        }
    };
    check("system_prompt", &book.system_prompt, 20, 8000);
    check("opening", &book.opening, 1, 500);
    check("closing", &book.closing, 1, 500);
    for (i, handler) in book.objection_handlers.iter().enumerate() {
        check(
            &format!("objection_handlers[{i}].objection"),
            &handler.objection,
            1,
            500,
        );
        check(&format!("objection_handlers[{i}].response"), &handler.response, 1, 500);
    }
    for (i, rule) in book.never.iter().enumerate() {
        check(&format!("never[{i}]"), rule, 1, 200);
    }
    if book.objection_handlers.len() > 20 {
        problems.push("at most 20 objection_handlers".into());
    }
    if book.never.len() > 20 {
        problems.push("at most 20 never rules".into());
    }
    problems
}

/// The rule book of a campaign briefed with `brief`, written by the model and checked.
pub async fn rule_book(llm: &dyn Llm, brief: &str, now: DateTime<Utc>) -> Result<RuleBook, Error> {
    let request = LlmRequest {
        system: "You write the rule book an AI voice agent follows on the calls of an outbound campaign: its instructions, \
                 how it opens, how it answers objections, how it closes, and what it must never do. Stay within the brief."
            .into(),
        messages: vec![LlmMessage::User { text: brief.to_owned() }],
        tools: vec![tools::rule_book_tool()],
        force_tool: Some(tools::RECORD_RULE_BOOK),
        now,
        max_tokens: 1500,
    };
    let reply = llm.complete(&request).await.map_err(model_error)?;
    let invalid = |problems: String| {
        Error::invalid(
            ErrorCode::RuleBookInvalid,
            "nl_prompt",
            format!("The rule book written from this brief does not pass validation: {problems}."),
        )
    };
    let book: RuleBook = reply
        .tool_uses
        .into_iter()
        .find(|t| t.name == tools::RECORD_RULE_BOOK)
        .and_then(|t| serde_json::from_value(t.input).ok())
        .ok_or_else(|| invalid("the model did not write one".into()))?;
    let problems = rule_book_problems(&book);
    if problems.is_empty() {
        Ok(book)
    } else {
        Err(invalid(problems.join("; ")))
    }
}
