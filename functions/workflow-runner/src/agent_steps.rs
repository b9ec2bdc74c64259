//! The steps that reach an agent: a call placed (`start_call`) and a message sent
//! (`send_agent_message`). Each may run again after a worker died before recording it, so
//! what it makes has an id derived from the run, the step and the attempt: running it again
//! finds the call or conversation instead of making a second one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{Call, Channel, Execution, MessageRole, SendAgentMessageStep, StartCallStep};
use switchboard_core::{Error, ErrorCode, validate};
use switchboard_domain::automation::executions;
use switchboard_domain::calls::{self, CallBook, CallRequest, Outbound};
use switchboard_domain::conversation::Party;
use switchboard_domain::phones;

use crate::{Outcome, Runner};

/// A domain refusal fails the step for good (no funds, a number on the do-not-call list, an
/// inactive agent); anything else, and too many calls at once, is tried again.
fn failed(e: Error) -> Outcome {
    let code = e.code();
    Outcome::Failed {
        error: format!("{}: {}", code.as_str(), e.message()),
        status_code: None,
        retryable: !e.is_refusal() || code == ErrorCode::ConcurrencyLimitReached,
    }
}

/// The id of what the step makes: the same for every try of one attempt (the run is not
/// written between them), in the time the step became due.
fn made_id(kind: &str, execution: &Execution, step_id: &str) -> String {
    let attempts = execution
        .steps
        .iter()
        .find(|run| run.id == step_id)
        .map_or(0, |run| run.attempts.len());
    ids::derived_at(
        kind,
        execution.updated_at,
        &format!("{}/{step_id}/{attempts}", execution.id),
    )
}

impl Runner {
    fn outbound(&self) -> Outbound<'_> {
        Outbound {
            agents: self.agents.as_ref(),
            numbers: self.numbers.as_ref(),
            contacts: self.contacts.as_ref(),
            dnc: self.dnc.as_ref(),
            providers: self.providers.as_ref(),
            book: CallBook {
                calls: self.calls.as_ref(),
                wallets: self.wallets.as_ref(),
                jobs: self.call_jobs.as_ref(),
                campaign_ends: None,
            },
        }
    }

    /// Places the call as `POST /v1/calls` would for the workspace, paid from its wallet.
    pub(crate) async fn start_call(
        &self,
        ws: &str,
        execution: &Execution,
        step: &StartCallStep,
        input: &Value,
        now: DateTime<Utc>,
    ) -> Result<Value, Outcome> {
        let output = |call: &Call| json!({"call_id": call.id, "status": call.status, "to": call.to});
        let id = made_id(prefix::CALL, execution, &step.id);
        if let Some(placed) = self.calls.get(ws, &id).await.map_err(|e| failed(e.into()))? {
            return Ok(output(&placed.value));
        }
        let to = phones::normalize(
            self.accounts.as_ref(),
            ws,
            "to",
            input["to"].as_str().unwrap_or_default(),
        )
        .await
        .map_err(failed)?;
        let mut metadata: BTreeMap<String, String> =
            serde_json::from_value(input.get("metadata").cloned().unwrap_or(Value::Null)).unwrap_or_default();
        validate::metadata(&metadata).map_err(failed)?;
        metadata.extend(executions::placed_by(execution));
        let plan = self
            .accounts
            .get_workspace(ws)
            .await
            .map_err(|e| failed(e.into()))?
            .ok_or_else(|| Outcome::Failed {
                error: "the workspace no longer exists".into(),
                status_code: None,
                retryable: false,
            })?
            .plan;
        let request = CallRequest {
            agent_id: step.agent_id.clone(),
            phone_number_id: step.phone_number_id.clone(),
            to,
            contact_id: None,
            metadata,
            id: Some(id),
        };
        calls::start_outbound(self.outbound(), ws, request, plan, now)
            .await
            .map(|placed| output(&placed.value))
            .map_err(failed)
    }

    /// Sends the message to the agent in a chat of the step's own, as
    /// `POST /v1/agents/{id}/messages` would; its output holds the agent's answer.
    pub(crate) async fn message_agent(
        &self,
        ws: &str,
        execution: &Execution,
        step: &SendAgentMessageStep,
        input: &Value,
        now: DateTime<Utc>,
    ) -> Result<Value, Outcome> {
        let content =
            validate::text("content", input["content"].as_str().unwrap_or_default(), 1, 4000).map_err(failed)?;
        let agent = calls::active_agent(self.agents.as_ref(), ws, &step.agent_id)
            .await
            .map_err(failed)?;
        let id = made_id(prefix::CONVERSATION, execution, &step.id);
        let engine = &self.engine;
        let started = match engine.conversations.get(ws, &id).await.map_err(|e| failed(e.into()))? {
            Some(found) => found,
            None => engine
                .start_with_id(ws, id, &agent, Channel::Chat, None, Party::default(), now)
                .await
                .map_err(failed)?,
        };
        // A try before this one got as far as saying it: its answer stands.
        let answered = if started.value.messages.iter().any(|m| m.role == MessageRole::User) {
            started
        } else {
            engine.say(ws, &agent, &started, &content, now).await.map_err(failed)?
        };
        let reply = answered
            .value
            .messages
            .iter()
            .rev()
            .find(|m| m.role == MessageRole::Agent)
            .map(|m| m.content.clone());
        Ok(json!({
            "conversation_id": answered.value.id,
            "reply": reply,
            "status": answered.value.status,
        }))
    }
}
