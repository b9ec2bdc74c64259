//! The telephony simulator: calls to numbers ending 0001 are busy, 0002 unanswered, 0003
//! failed, 0004 reach voicemail; any other number answers, and a simulated callee talks with
//! the agent through the conversation engine. The calls run on the call queue (the
//! `call-worker` function takes each step) and every status goes through
//! [`calls::report`], the path a real provider's callbacks take, after realistic delays that
//! the time scale compresses (0 runs a call at once; durations stay realistic).
//!
//! The callee's lines depend on the last four digits of its number: `0005` asks not to be
//! called again, `0006` asks for a late fee to be waived (an approval), any other number books
//! an appointment for tomorrow and says goodbye.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CallJob, CallQueue};
use crate::engine::Engine;
use crate::error::{ApiError, ErrorCode};
use crate::model::{Agent, Call, CallStatus, ConversationStatus, Direction, MessageRole};
use crate::ports::{OutboundCall, ProviderCall, ProviderError, Repository, Telephony};
use crate::service::calls::{self, StatusReport};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimStep {
    /// The network starts ringing the callee.
    Dial,
    /// The callee picks up, or the call ends busy, unanswered, failed or at voicemail.
    Outcome,
    /// The callee says its next line and the agent answers.
    Converse,
    /// The line drops.
    HangUp,
}

/// The simulator as a telephony provider.
pub struct Simulator {
    queue: std::sync::Arc<dyn CallQueue>,
}

impl Simulator {
    pub fn new(queue: std::sync::Arc<dyn CallQueue>) -> Self {
        Self { queue }
    }
}

/// What happens to a call to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Busy,
    NoAnswer,
    Failed,
    Voicemail,
    Answered,
}

pub fn fate(to: &str) -> Fate {
    match &to[to.len().saturating_sub(4)..] {
        "0001" => Fate::Busy,
        "0002" => Fate::NoAnswer,
        "0003" => Fate::Failed,
        "0004" => Fate::Voicemail,
        _ => Fate::Answered,
    }
}

/// The simulator's id for a call.
pub fn provider_call_id(call_id: &str) -> String {
    format!("SIM-{call_id}")
}

#[async_trait]
impl Telephony for Simulator {
    fn provider(&self) -> &'static str {
        "simulator"
    }

    async fn attach_number(&self, _phone_e164: &str) -> Result<Option<String>, ProviderError> {
        Ok(None)
    }

    async fn place_call(&self, call: &OutboundCall) -> Result<String, ProviderError> {
        let job = CallJob::Simulate {
            workspace_id: call.workspace_id.clone(),
            call_id: call.call_id.clone(),
            step: SimStep::Dial,
            turn: 0,
            elapsed: 0,
        };
        self.queue
            .enqueue(&job, Duration::ZERO)
            .await
            .map_err(ProviderError::Unavailable)?;
        Ok(provider_call_id(&call.call_id))
    }

    async fn hang_up(&self, _provider_call_id: &str) -> Result<(), ProviderError> {
        // A simulated call ends by itself at its HangUp step; the status path ignores later reports.
        Ok(())
    }

    async fn fetch_call(&self, _provider_call_id: &str) -> Result<Option<ProviderCall>, ProviderError> {
        Ok(None)
    }
}

/// What the callee says, line by line.
pub fn callee_lines(callee: &str) -> &'static [&'static str] {
    match &callee[callee.len().saturating_sub(4)..] {
        "0005" => &["Hello?", "Please stop calling me."],
        "0006" => &[
            "Hello?",
            "I was charged a late fee last month. Can you waive it?",
            "Okay, thanks. Goodbye.",
        ],
        _ => &[
            "Hello?",
            "Yes, can I book an appointment for tomorrow?",
            "That's all, thank you. Goodbye.",
        ],
    }
}

/// Seconds it takes to say `text` and for the other side to start answering.
fn speaking_time(text: &str) -> u32 {
    1 + (text.split_whitespace().count() as u32 * 2).div_ceil(5)
}

/// Seconds the phone rings before the call's fate shows.
fn ringing_time(fate: Fate) -> u32 {
    match fate {
        Fate::Failed => 1,
        Fate::Busy => 3,
        Fate::Answered => 5,
        Fate::Voicemail => 20,
        Fate::NoAnswer => 30,
    }
}

/// How long a callee on hold waits before the simulator looks at the approval again.
const HOLD: u32 = 5;

/// Runs the simulated calls' steps.
pub struct Network {
    pub engine: Engine,
    pub calls: Arc<dyn Repository<Call>>,
    pub agents: Arc<dyn Repository<Agent>>,
    pub jobs: Arc<dyn CallQueue>,
    /// Multiplies the delays between steps: 1 is real time.
    pub time_scale: f64,
}

impl Network {
    /// Queues the call's next step, `after` simulated seconds from now.
    async fn next(
        &self,
        ws: &str,
        call_id: &str,
        step: SimStep,
        turn: u32,
        elapsed: u32,
        after: u32,
    ) -> Result<(), ApiError> {
        let delay = Duration::from_secs_f64(f64::from(after) * self.time_scale);
        self.queue(ws, call_id, step, turn, elapsed, delay).await
    }

    async fn queue(
        &self,
        ws: &str,
        call_id: &str,
        step: SimStep,
        turn: u32,
        elapsed: u32,
        delay: Duration,
    ) -> Result<(), ApiError> {
        let job = CallJob::Simulate {
            workspace_id: ws.to_owned(),
            call_id: call_id.to_owned(),
            step,
            turn,
            elapsed,
        };
        self.jobs.enqueue(&job, delay).await.map_err(ApiError::unavailable)
    }

    async fn status(
        &self,
        ws: &str,
        call_id: &str,
        status: CallStatus,
        now: DateTime<Utc>,
        duration: Option<u32>,
        reason: Option<String>,
    ) -> Result<Call, ApiError> {
        let report = StatusReport {
            status,
            at: now,
            duration_seconds: duration,
            reason,
        };
        Ok(
            calls::report(self.calls.as_ref(), self.jobs.as_ref(), ws, call_id, report)
                .await?
                .value,
        )
    }

    /// Takes one step of a simulated call at `now`.
    pub async fn step(
        &self,
        ws: &str,
        call_id: &str,
        step: SimStep,
        turn: u32,
        elapsed: u32,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let Some(call) = self
            .calls
            .get(ws, call_id)
            .await
            .map_err(|e| e.into_api(ErrorCode::CallNotFound))?
        else {
            return Ok(());
        };
        let call = call.value;
        if call.status.is_final() {
            return Ok(());
        }
        match step {
            SimStep::Dial => {
                self.status(ws, call_id, CallStatus::Ringing, now, None, None).await?;
                self.next(ws, call_id, SimStep::Outcome, 0, 0, ringing_time(fate_of(&call)))
                    .await
            }
            SimStep::Outcome => {
                let ended = match fate_of(&call) {
                    Fate::Busy => CallStatus::Busy,
                    Fate::NoAnswer => CallStatus::NoAnswer,
                    Fate::Failed => CallStatus::Failed,
                    Fate::Voicemail => CallStatus::Voicemail,
                    Fate::Answered => {
                        self.status(ws, call_id, CallStatus::InProgress, now, None, None)
                            .await?;
                        return self.next(ws, call_id, SimStep::Converse, 0, 0, 0).await;
                    }
                };
                let reason = (ended == CallStatus::Failed).then(|| "network_error".to_owned());
                self.status(ws, call_id, ended, now, None, reason).await?;
                Ok(())
            }
            SimStep::Converse => self.converse(ws, &call, turn, elapsed, now).await,
            SimStep::HangUp => {
                let reason = match &call.conversation_id {
                    Some(id) => self
                        .engine
                        .conversations
                        .get(ws, id)
                        .await
                        .map_err(|e| e.into_api(ErrorCode::ConversationNotFound))?
                        .and_then(|c| c.value.ended_reason),
                    None => None,
                };
                self.status(ws, call_id, CallStatus::Completed, now, Some(elapsed), reason)
                    .await?;
                Ok(())
            }
        }
    }

    async fn converse(
        &self,
        ws: &str,
        call: &Call,
        turn: u32,
        elapsed: u32,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        if call.status != CallStatus::InProgress {
            return Ok(());
        }
        let Some(agent) = self
            .agents
            .get(ws, &call.agent_id)
            .await
            .map_err(|e| e.into_api(ErrorCode::AgentNotFound))?
        else {
            return self.next(ws, &call.id, SimStep::HangUp, 0, elapsed, 0).await;
        };
        let agent = agent.value;
        let mut conversation = calls::conversation(&self.engine, self.calls.as_ref(), ws, &agent, call, now).await?;
        let mut elapsed = elapsed;
        if turn == 0 {
            elapsed += conversation
                .value
                .messages
                .iter()
                .map(|m| speaking_time(&m.content))
                .sum::<u32>();
        }
        if elapsed >= agent.max_call_duration {
            let limit = Some(agent.max_call_duration);
            self.status(
                ws,
                &call.id,
                CallStatus::Completed,
                now,
                limit,
                Some("max_duration".into()),
            )
            .await?;
            return Ok(());
        }
        match conversation.value.status {
            ConversationStatus::Ended => return self.next(ws, &call.id, SimStep::HangUp, 0, elapsed, 0).await,
            ConversationStatus::AwaitingApproval => {
                let pending = conversation.value.pending_approval_id.clone().unwrap_or_default();
                let approval = self
                    .engine
                    .approvals
                    .get(ws, &pending)
                    .await
                    .map_err(|e| e.into_api(ErrorCode::ApprovalNotFound))?
                    .map(|a| a.value.with_status_at(now));
                match approval {
                    // The callee holds; deciding the approval resumes the conversation. The next
                    // look is at least a second away, so that a compressed clock does not spin.
                    Some(a) if a.status == crate::model::ApprovalStatus::Pending => {
                        let delay = Duration::from_secs_f64((f64::from(HOLD) * self.time_scale).max(1.0));
                        return self
                            .queue(ws, &call.id, SimStep::Converse, turn, elapsed + HOLD, delay)
                            .await;
                    }
                    Some(a) => {
                        conversation = self.engine.resume(ws, &agent, &conversation, &a, now).await?;
                    }
                    None => {}
                }
            }
            ConversationStatus::Active => {}
        }
        let callee = match call.direction {
            Direction::Outbound => &call.to,
            Direction::Inbound => &call.from,
        };
        let Some(line) = callee_lines(callee).get(turn as usize) else {
            // Nothing left to say: the callee hangs up.
            return self.next(ws, &call.id, SimStep::HangUp, 0, elapsed, 0).await;
        };
        let before = conversation.value.messages.len();
        let after = self.engine.say(ws, &agent, &conversation, line, now).await?;
        let spoken: u32 = after
            .value
            .messages_since(before)
            .iter()
            .filter(|m| m.role != MessageRole::Action)
            .map(|m| speaking_time(&m.content))
            .sum();
        let elapsed = elapsed + spoken;
        let step = if after.value.status == ConversationStatus::Ended {
            SimStep::HangUp
        } else {
            SimStep::Converse
        };
        self.next(ws, &call.id, step, turn + 1, elapsed, spoken).await
    }
}

/// What happens to this call: inbound calls are answered by the agent.
fn fate_of(call: &Call) -> Fate {
    match call.direction {
        Direction::Inbound => Fate::Answered,
        Direction::Outbound => fate(&call.to),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_four_digits_decide_a_simulated_calls_fate() {
        assert_eq!(fate("+14155550001"), Fate::Busy);
        assert_eq!(fate("+14155550002"), Fate::NoAnswer);
        assert_eq!(fate("+14155550003"), Fate::Failed);
        assert_eq!(fate("+14155550004"), Fate::Voicemail);
        assert_eq!(fate("+14155550100"), Fate::Answered);
    }

    #[test]
    fn jobs_are_tagged_json() {
        let job = CallJob::Simulate {
            workspace_id: "ws_1".into(),
            call_id: "call_1".into(),
            step: SimStep::Dial,
            turn: 0,
            elapsed: 0,
        };
        assert_eq!(
            serde_json::to_value(&job).unwrap(),
            serde_json::json!({"type": "simulate", "workspace_id": "ws_1", "call_id": "call_1", "step": "dial", "turn": 0, "elapsed": 0})
        );
    }
}
