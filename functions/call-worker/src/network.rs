//! The simulated network: it takes the steps of simulated calls from the call queue (ringing,
//! the callee's fate, each line of the conversation, hanging up) and reports every status
//! through the path a real provider's callbacks take, after realistic delays that the time
//! scale compresses (0 runs a call at once; durations stay realistic).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use switchboard_core::Error;
use switchboard_core::model::{Agent, ApprovalStatus, Call, CallStatus, ConversationStatus, Direction, MessageRole};
use switchboard_core::ports::{CallJob, CallQueue, Repository, SimStep, Wallets};
use switchboard_domain::calls::{self, CallBook, CampaignCallEnds, HeldRead, StatusReport};
use switchboard_domain::conversation::Engine;
use switchboard_telephony::simulator::{Fate, callee_lines, fate, ringing_time, speaking_time};

/// How long a callee on hold waits before the simulator looks at the approval again.
const HOLD: u32 = 5;

/// Runs the simulated calls' steps.
pub struct Network {
    pub engine: Engine,
    pub calls: Arc<dyn Repository<Call>>,
    pub wallets: Arc<dyn Wallets>,
    pub agents: Arc<dyn Repository<Agent>>,
    pub jobs: Arc<dyn CallQueue>,
    /// Settles campaign calls as they end (the dialer).
    pub campaign_ends: Arc<dyn CampaignCallEnds>,
    /// Multiplies the delays between steps: 1 is real time.
    pub time_scale: f64,
}

impl Network {
    /// Where the calls it ends are written; their campaigns, if any, settled at once.
    pub fn book(&self) -> CallBook<'_> {
        CallBook {
            calls: self.calls.as_ref(),
            wallets: self.wallets.as_ref(),
            jobs: self.jobs.as_ref(),
            campaign_ends: Some(self.campaign_ends.as_ref()),
        }
    }

    /// `after` simulated seconds, in real time.
    fn delay(&self, after: u32) -> Duration {
        Duration::from_secs_f64(f64::from(after) * self.time_scale)
    }

    /// Queues the call's next step, to run after `delay`.
    async fn queue(
        &self,
        ws: &str,
        call_id: &str,
        step: SimStep,
        turn: u32,
        elapsed: u32,
        delay: Duration,
    ) -> Result<(), Error> {
        let job = CallJob::Simulate {
            workspace_id: ws.to_owned(),
            call_id: call_id.to_owned(),
            step,
            turn,
            elapsed,
        };
        self.jobs.enqueue(&job, delay).await.map_err(Error::unavailable)
    }

    /// Reports `status` of the call, starting from `read` when the step read it with its hold.
    #[allow(clippy::too_many_arguments)]
    async fn status(
        &self,
        ws: &str,
        call_id: &str,
        read: Option<HeldRead>,
        status: CallStatus,
        now: DateTime<Utc>,
        duration: Option<u32>,
        reason: Option<String>,
    ) -> Result<Call, Error> {
        let report = StatusReport {
            status,
            at: now,
            duration_seconds: duration,
            reason,
        };
        let book = self.book();
        let reported = match read {
            Some(read) => calls::report_to(book, ws, read, report).await?,
            None => calls::report(book, ws, call_id, report).await?,
        };
        Ok(reported.value)
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
    ) -> Result<(), Error> {
        // The call with its hold: what ending it needs, in one read.
        let Some(read) = self.wallets.held_call(ws, call_id).await? else {
            return Ok(());
        };
        let call = read.0.value.clone();
        if call.status.is_final() {
            // A step tried again after its call ended: the settlement may not have been made
            // (it changes nothing when it was).
            if let Some(end) = calls::campaign_end(&call) {
                self.campaign_ends.campaign_call_ended(ws, call_id, &end).await?;
            }
            return Ok(());
        }
        match step {
            SimStep::Dial => {
                let ringing = self.delay(ringing_time(fate_of(&call)));
                if ringing.is_zero() {
                    // Nothing to wait for: the callee's fate at once.
                    return self.outcome(ws, &call, read, now).await;
                }
                self.status(ws, call_id, Some(read), CallStatus::Ringing, now, None, None)
                    .await?;
                self.queue(ws, call_id, SimStep::Outcome, 0, 0, ringing).await
            }
            SimStep::Outcome => self.outcome(ws, &call, read, now).await,
            SimStep::Converse => self.converse(ws, &call, turn, elapsed, now).await,
            SimStep::HangUp => {
                let reason = match &call.conversation_id {
                    Some(id) => self
                        .engine
                        .conversations
                        .get(ws, id)
                        .await?
                        .and_then(|c| c.value.ended_reason),
                    None => None,
                };
                self.status(
                    ws,
                    call_id,
                    Some(read),
                    CallStatus::Completed,
                    now,
                    Some(elapsed),
                    reason,
                )
                .await?;
                Ok(())
            }
        }
    }

    /// What becomes of the callee's phone: it rings out, is busy, fails, goes to voicemail, or
    /// is answered and the conversation begins.
    async fn outcome(&self, ws: &str, call: &Call, read: HeldRead, now: DateTime<Utc>) -> Result<(), Error> {
        let ended = match fate_of(call) {
            Fate::Busy => CallStatus::Busy,
            Fate::NoAnswer => CallStatus::NoAnswer,
            Fate::Failed => CallStatus::Failed,
            Fate::Voicemail => CallStatus::Voicemail,
            Fate::Answered => {
                self.status(ws, &call.id, Some(read), CallStatus::InProgress, now, None, None)
                    .await?;
                return self.queue(ws, &call.id, SimStep::Converse, 0, 0, Duration::ZERO).await;
            }
        };
        let reason = (ended == CallStatus::Failed).then(|| "network_error".to_owned());
        self.status(ws, &call.id, Some(read), ended, now, None, reason).await?;
        Ok(())
    }

    async fn converse(&self, ws: &str, call: &Call, turn: u32, elapsed: u32, now: DateTime<Utc>) -> Result<(), Error> {
        if call.status != CallStatus::InProgress {
            return Ok(());
        }
        let Some(agent) = self.agents.get(ws, &call.agent_id).await? else {
            return self
                .queue(ws, &call.id, SimStep::HangUp, 0, elapsed, Duration::ZERO)
                .await;
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
                None,
                CallStatus::Completed,
                now,
                limit,
                Some("max_duration".into()),
            )
            .await?;
            return Ok(());
        }
        match conversation.value.status {
            ConversationStatus::Ended => {
                return self
                    .queue(ws, &call.id, SimStep::HangUp, 0, elapsed, Duration::ZERO)
                    .await;
            }
            ConversationStatus::AwaitingApproval => {
                let pending = conversation.value.pending_approval_id.clone().unwrap_or_default();
                let approval = self
                    .engine
                    .approvals
                    .get(ws, &pending)
                    .await?
                    .map(|a| a.value.with_status_at(now));
                match approval {
                    // The callee holds; deciding the approval resumes the conversation. The next
                    // look is at least a second away, so that a compressed clock does not spin.
                    Some(a) if a.status == ApprovalStatus::Pending => {
                        let delay = self.delay(HOLD).max(Duration::from_secs(1));
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
            return self
                .queue(ws, &call.id, SimStep::HangUp, 0, elapsed, Duration::ZERO)
                .await;
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
        self.queue(ws, &call.id, step, turn + 1, elapsed, self.delay(spoken))
            .await
    }
}

/// What happens to this call: inbound calls are answered by the agent.
fn fate_of(call: &Call) -> Fate {
    match call.direction {
        Direction::Inbound => Fate::Answered,
        Direction::Outbound => fate(&call.to),
    }
}
