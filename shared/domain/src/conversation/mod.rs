//! The conversation engine: one for text chat, simulated calls and real calls.
//!
//! It keeps the turn history (what the person and the agent said, what the agent did, and what
//! the model saw, tool calls included), builds the model's instructions from the agent (system
//! prompt, language, channel), and runs the agent's tools: booking an appointment, asking a
//! human for an approval, putting the number on the do-not-call list, ending the call. When an
//! approval is decided, the waiting conversation goes on with the decision.

pub mod tools;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use switchboard_core::error::ProviderError;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{
    Agent, Appointment, Approval, ApprovalStatus, Channel, Contact, ContactObject, Conversation, ConversationObject,
    ConversationStatus, DncSource, MAX_APPOINTMENT, Message, MessageRole, ProposedAction,
};
use switchboard_core::ports::{
    DncStore, LlmMessage, LlmReply, LlmRequest, ProviderAccounts, Repository, ToolUse, Unique, Versioned,
};
use switchboard_core::{Error, ErrorCode, StoreError};

use crate::appointments::{self, Booking};
use crate::approvals::{self, ApprovalRequest};
use crate::dnc;

/// Model calls per turn at most (a reply, tools, a reply after them...).
const MAX_STEPS: usize = 4;
/// Messages a conversation may hold; past this it ends.
pub const MAX_MESSAGES: usize = 200;
const MAX_TOKENS: u32 = 400;

/// What the engine needs.
#[derive(Clone)]
pub struct Engine {
    /// The model each workspace's conversations go through: the platform's, or its own.
    pub models: Arc<dyn ProviderAccounts>,
    pub conversations: Arc<dyn Repository<Conversation>>,
    pub appointments: Arc<dyn Repository<Appointment>>,
    pub contacts: Arc<dyn Repository<Contact>>,
    pub approvals: Arc<dyn Repository<Approval>>,
    pub dnc: Arc<dyn DncStore>,
}

/// The person the agent talks with, as far as known.
#[derive(Debug, Clone, Default)]
pub struct Party {
    pub phone: Option<String>,
    pub contact_id: Option<String>,
}

/// A call's analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    pub summary: String,
    pub sentiment: String,
    pub outcome: String,
}

/// The failure of a turn.
fn provider_error(e: ProviderError) -> Error {
    match e {
        ProviderError::Rejected(why) => {
            Error::internal(anyhow::anyhow!("the language model refused the request: {why}"))
        }
        ProviderError::Unauthorized(why) => Error::refused(
            ErrorCode::ProviderCredentialMissing,
            format!("The language model refused the workspace's credential: {why}."),
        ),
        ProviderError::Unavailable(e) => Error::unavailable(e),
    }
}

fn message(role: MessageRole, content: impl Into<String>, now: DateTime<Utc>) -> Message {
    Message {
        role,
        content: content.into(),
        created_at: switchboard_core::clock::api_time(now),
    }
}

/// The model's instructions for this agent on this channel.
fn instructions(agent: &Agent, conversation: &Conversation) -> String {
    let channel = match conversation.channel {
        Channel::Call => "You are on a phone call: speak naturally, in short sentences.",
        Channel::Chat => "You are in a text chat: write short messages.",
    };
    let phone = conversation
        .phone
        .as_deref()
        .map(|p| format!(" The person's number is {p}."))
        .unwrap_or_default();
    format!(
        "{}\n\n{channel} Speak {}.{phone} Use your tools to book appointments, to ask a human before granting concessions, refunds, callbacks or escalations, to add the person to the do-not-call list if they ask not to be contacted again, and to end the conversation after saying goodbye.",
        agent.system_prompt, agent.language
    )
}

/// What a tool did: the result the model reads, and the line the transcript shows.
struct ToolOutcome {
    result: Value,
    line: String,
}

impl ToolOutcome {
    fn ok(tool: &str, detail: String, result: Value) -> Self {
        let mut result = result;
        result["ok"] = json!(true);
        Self {
            result,
            line: format!("{tool}: ok - {detail}"),
        }
    }

    fn failed(tool: &str, error: String) -> Self {
        Self {
            result: json!({"ok": false, "error": error}),
            line: format!("{tool}: failed - {error}"),
        }
    }
}

impl Engine {
    /// Starts a conversation; the agent opens with its first message when it has one.
    pub async fn start(
        &self,
        workspace_id: &str,
        agent: &Agent,
        channel: Channel,
        call_id: Option<String>,
        party: Party,
        now: DateTime<Utc>,
    ) -> Result<Versioned<Conversation>, Error> {
        let id = ids::new_id_at(prefix::CONVERSATION, now);
        self.start_with_id(workspace_id, id, agent, channel, call_id, party, now)
            .await
    }

    /// Like [`start`](Self::start), with the conversation's id chosen by the caller.
    #[allow(clippy::too_many_arguments)]
    pub async fn start_with_id(
        &self,
        workspace_id: &str,
        id: String,
        agent: &Agent,
        channel: Channel,
        call_id: Option<String>,
        party: Party,
        now: DateTime<Utc>,
    ) -> Result<Versioned<Conversation>, Error> {
        let at = switchboard_core::clock::api_time(now);
        let mut conversation = Conversation {
            id,
            object: ConversationObject,
            agent_id: agent.id.clone(),
            channel,
            call_id,
            phone: party.phone,
            contact_id: party.contact_id,
            status: ConversationStatus::Active,
            pending_approval_id: None,
            ended_reason: None,
            messages: Vec::new(),
            model_history: Vec::new(),
            created_at: at,
            updated_at: at,
        };
        let greeting = match channel {
            Channel::Call => agent.call_greeting(),
            _ => agent.first_message.clone(),
        };
        if !greeting.is_empty() {
            conversation.messages.push(message(MessageRole::Agent, &greeting, now));
            conversation.model_history.push(LlmMessage::Assistant {
                text: greeting,
                tool_uses: Vec::new(),
            });
        }
        Ok(self
            .conversations
            .insert(workspace_id, &conversation, None, &[])
            .await?)
    }

    /// The person says `text`; the agent answers (and acts). Returns the conversation as saved.
    pub async fn say(
        &self,
        workspace_id: &str,
        agent: &Agent,
        current: &Versioned<Conversation>,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<Versioned<Conversation>, Error> {
        if current.value.status == ConversationStatus::Ended {
            return Err(Error::refused(
                ErrorCode::ConversationEnded,
                "This conversation has ended; start a new one.",
            ));
        }
        let mut conversation = current.value.clone();
        conversation.messages.push(message(MessageRole::User, text, now));
        conversation
            .model_history
            .push(LlmMessage::User { text: text.to_owned() });
        self.run(workspace_id, agent, &mut conversation, now).await?;
        self.save(workspace_id, current, conversation, now).await
    }

    /// Goes on with a conversation that waited for `approval`, now decided or expired.
    pub async fn resume(
        &self,
        workspace_id: &str,
        agent: &Agent,
        current: &Versioned<Conversation>,
        approval: &Approval,
        now: DateTime<Utc>,
    ) -> Result<Versioned<Conversation>, Error> {
        let mut conversation = current.value.clone();
        if conversation.pending_approval_id.as_deref() != Some(approval.id.as_str())
            || conversation.status == ConversationStatus::Ended
        {
            return Ok(current.clone());
        }
        conversation.pending_approval_id = None;
        conversation.status = ConversationStatus::Active;
        let status = match approval.status {
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Denied => "denied",
            _ => "expired",
        };
        let note = approval.decision_note.as_deref().unwrap_or("");
        conversation.messages.push(message(
            MessageRole::Action,
            format!("approval {status}: {note}")
                .trim_end_matches([':', ' '])
                .to_owned(),
            now,
        ));
        conversation.model_history.push(LlmMessage::User {
            text: format!("[approval {status}] {note} (Tell the person what was decided.)"),
        });
        self.run(workspace_id, agent, &mut conversation, now).await?;
        self.save(workspace_id, current, conversation, now).await
    }

    /// Ends a conversation (its call hung up) and returns it; an ended one is returned as it is.
    pub async fn end(
        &self,
        workspace_id: &str,
        conversation_id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Conversation, Error> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let current = self
                .conversations
                .get(workspace_id, conversation_id)
                .await?
                .ok_or_else(|| Error::not_found(ErrorCode::ConversationNotFound))?;
            if current.value.status == ConversationStatus::Ended {
                return Ok(current.value);
            }
            let mut next = current.value.clone();
            next.status = ConversationStatus::Ended;
            next.ended_reason = Some(reason.to_owned());
            match self.save(workspace_id, &current, next, now).await {
                Ok(saved) => return Ok(saved.value),
                Err(e) if e.code() == ErrorCode::ConcurrentModification && attempts < 8 => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Summary, sentiment and outcome of a conversation, from the model.
    pub async fn analyze(
        &self,
        workspace_id: &str,
        agent_name: &str,
        messages: &[Message],
        now: DateTime<Utc>,
    ) -> Result<Analysis, Error> {
        let transcript: String = messages
            .iter()
            .map(|m| match m.role {
                MessageRole::Agent => format!("agent: {}\n", m.content),
                MessageRole::User => format!("callee: {}\n", m.content),
                MessageRole::Action => format!("[action] {}\n", m.content),
            })
            .collect();
        let request = LlmRequest {
            system: format!(
                "You analyse calls made by the agent \"{}\". Summarise the call in two or three sentences, judge the callee's sentiment and name the outcome.",
                agent_name
            ),
            messages: vec![LlmMessage::User {
                text: format!("Transcript:\n{transcript}"),
            }],
            tools: vec![tools::analysis_tool()],
            force_tool: Some(tools::RECORD_ANALYSIS),
            now,
            max_tokens: MAX_TOKENS,
        };
        let llm = self.models.llm(workspace_id).await?;
        let reply = llm.complete(&request).await.map_err(provider_error)?;
        let input = reply
            .tool_uses
            .into_iter()
            .find(|t| t.name == tools::RECORD_ANALYSIS)
            .map(|t| t.input)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("the model did not record an analysis")))?;
        let field = |name: &str| input[name].as_str().map(str::to_owned);
        match (field("summary"), field("sentiment"), field("outcome")) {
            (Some(summary), Some(sentiment), Some(outcome))
                if ["positive", "neutral", "negative"].contains(&sentiment.as_str()) =>
            {
                Ok(Analysis {
                    summary,
                    sentiment,
                    outcome,
                })
            }
            _ => Err(Error::internal(anyhow::anyhow!(
                "the model's analysis is malformed: {input}"
            ))),
        }
    }

    /// The model's turn: replies and tools until it has nothing left to do.
    async fn run(
        &self,
        workspace_id: &str,
        agent: &Agent,
        conversation: &mut Conversation,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let llm = self.models.llm(workspace_id).await?;
        for _ in 0..MAX_STEPS {
            let request = LlmRequest {
                system: instructions(agent, conversation),
                messages: conversation.model_history.clone(),
                tools: tools::conversation_tools(),
                force_tool: None,
                now,
                max_tokens: MAX_TOKENS,
            };
            let LlmReply { text, tool_uses } = llm.complete(&request).await.map_err(provider_error)?;
            conversation.model_history.push(LlmMessage::Assistant {
                text: text.clone(),
                tool_uses: tool_uses.clone(),
            });
            if !text.trim().is_empty() {
                conversation
                    .messages
                    .push(message(MessageRole::Agent, text.trim(), now));
            }
            if tool_uses.is_empty() {
                break;
            }
            let mut results = Vec::new();
            for tool in &tool_uses {
                let outcome = self.run_tool(workspace_id, agent, conversation, tool, now).await?;
                conversation
                    .messages
                    .push(message(MessageRole::Action, outcome.line, now));
                results.push((tool.id.clone(), outcome.result.to_string()));
            }
            conversation.model_history.push(LlmMessage::ToolResults { results });
            // Hung up after saying goodbye: nothing more to say. Without words yet, the
            // model still gets to say them.
            if conversation.status == ConversationStatus::Ended && !text.trim().is_empty() {
                break;
            }
        }
        if conversation.messages.len() >= MAX_MESSAGES && conversation.status != ConversationStatus::Ended {
            conversation.status = ConversationStatus::Ended;
            conversation.ended_reason = Some("too_long".into());
        }
        Ok(())
    }

    async fn run_tool(
        &self,
        workspace_id: &str,
        agent: &Agent,
        conversation: &mut Conversation,
        tool: &ToolUse,
        now: DateTime<Utc>,
    ) -> Result<ToolOutcome, Error> {
        let input = &tool.input;
        let text = |name: &str| input[name].as_str().map(str::to_owned);
        Ok(match tool.name.as_str() {
            tools::BOOK_APPOINTMENT => {
                let Some(start) = text("start_time")
                    .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                    .map(|t| t.with_timezone(&Utc))
                else {
                    return Ok(ToolOutcome::failed(
                        &tool.name,
                        "start_time is not an ISO 8601 time".into(),
                    ));
                };
                // The booking refuses a length past the longest appointment; held to just past it
                // here, the model's number cannot overflow the end time.
                let longest = MAX_APPOINTMENT.num_minutes() + 1;
                let minutes = input["duration_minutes"].as_i64().unwrap_or(30).clamp(0, longest);
                let Some(end_time) = start.checked_add_signed(Duration::minutes(minutes)) else {
                    return Ok(ToolOutcome::failed(&tool.name, "start_time is too late".into()));
                };
                let Some(contact_id) = self.contact_for(workspace_id, conversation, now).await? else {
                    return Ok(ToolOutcome::failed(
                        &tool.name,
                        "no contact or phone number for this conversation".into(),
                    ));
                };
                let booking = Booking {
                    contact_id,
                    start_time: start,
                    end_time,
                    title: text("title").unwrap_or_else(|| "Appointment".into()),
                    notes: None,
                    agent_id: Some(agent.id.clone()),
                    conversation_id: Some(conversation.id.clone()),
                    call_id: conversation.call_id.clone(),
                };
                match appointments::book(
                    self.appointments.as_ref(),
                    self.contacts.as_ref(),
                    workspace_id,
                    booking,
                    now,
                )
                .await
                {
                    Ok(booked) => ToolOutcome::ok(
                        &tool.name,
                        format!(
                            "booked {} at {}",
                            booked.value.id,
                            booked
                                .value
                                .start_time
                                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        ),
                        json!({"appointment": booked.value}),
                    ),
                    Err(e) if e.is_refusal() => ToolOutcome::failed(&tool.name, e.message().into_owned()),
                    Err(e) => return Err(e),
                }
            }
            tools::REQUEST_APPROVAL => {
                let Ok(action) = serde_json::from_value::<ProposedAction>(input["proposed_action"].clone()) else {
                    return Ok(ToolOutcome::failed(
                        &tool.name,
                        "proposed_action must be concession, refund_waiver, callback or escalation".into(),
                    ));
                };
                let last_words = conversation
                    .messages
                    .iter()
                    .rev()
                    .find(|m| m.role == MessageRole::User)
                    .map(|m| m.content.clone());
                let request = ApprovalRequest {
                    proposed_action: action,
                    proposed_value_minor: input["proposed_value_minor"].as_i64(),
                    currency: text("currency"),
                    rationale: text("rationale").unwrap_or_else(|| "The agent asks for a decision.".into()),
                    context: last_words.map(|w| format!("They said: \"{w}\"")),
                    expires_in: match conversation.channel {
                        Channel::Call => approvals::CALL_DECISION_TIME,
                        Channel::Chat => approvals::CHAT_DECISION_TIME,
                    },
                    agent_id: Some(agent.id.clone()),
                    conversation_id: Some(conversation.id.clone()),
                    call_id: conversation.call_id.clone(),
                    contact_id: conversation.contact_id.clone(),
                };
                match approvals::request(self.approvals.as_ref(), workspace_id, request, now).await {
                    Ok(approval) => {
                        conversation.status = ConversationStatus::AwaitingApproval;
                        conversation.pending_approval_id = Some(approval.value.id.clone());
                        ToolOutcome::ok(
                            &tool.name,
                            format!("waiting for a decision on {}", approval.value.id),
                            json!({"status": "pending", "approval_id": approval.value.id}),
                        )
                    }
                    Err(e) if e.is_refusal() => ToolOutcome::failed(&tool.name, e.message().into_owned()),
                    Err(e) => return Err(e),
                }
            }
            tools::ADD_TO_DNC => match conversation.phone.clone() {
                Some(phone) => {
                    dnc::add(
                        self.dnc.as_ref(),
                        workspace_id,
                        &phone,
                        text("reason"),
                        DncSource::Conversation,
                        now,
                    )
                    .await?;
                    ToolOutcome::ok(&tool.name, format!("{phone} will not be called again"), json!({}))
                }
                None => ToolOutcome::failed(&tool.name, "no phone number for this conversation".into()),
            },
            tools::END_CALL => {
                conversation.status = ConversationStatus::Ended;
                conversation.ended_reason = Some(text("reason").unwrap_or_else(|| "finished".into()));
                ToolOutcome::ok(
                    &tool.name,
                    conversation.ended_reason.clone().unwrap_or_default(),
                    json!({}),
                )
            }
            other => ToolOutcome::failed(other, "no such tool".into()),
        })
    }

    /// The conversation's contact: known, found by phone, or created for the phone.
    async fn contact_for(
        &self,
        workspace_id: &str,
        conversation: &mut Conversation,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, Error> {
        if let Some(id) = &conversation.contact_id {
            return Ok(Some(id.clone()));
        }
        let Some(phone) = conversation.phone.clone() else {
            return Ok(None);
        };
        let at = switchboard_core::clock::api_time(now);
        let contact = Contact {
            id: ids::new_id_at(prefix::CONTACT, now),
            object: ContactObject,
            phone,
            name: None,
            email: None,
            timezone: None,
            attributes: Default::default(),
            created_at: at,
            updated_at: at,
        };
        let unique = Unique::ContactPhone(contact.phone.clone());
        let id = match self.contacts.find_unique(workspace_id, &unique).await? {
            Some(existing) => existing.value.id,
            None => match self.contacts.insert(workspace_id, &contact, None, &[]).await {
                Ok(created) => created.value.id,
                // Created meanwhile by someone else: use theirs.
                Err(StoreError::Conflict(_)) => self
                    .contacts
                    .find_unique(workspace_id, &unique)
                    .await
                    .ok()
                    .flatten()
                    .map(|c| c.value.id)
                    .unwrap_or(contact.id),
                Err(e) => return Err(e.into()),
            },
        };
        conversation.contact_id = Some(id.clone());
        Ok(Some(id))
    }

    async fn save(
        &self,
        workspace_id: &str,
        current: &Versioned<Conversation>,
        mut next: Conversation,
        now: DateTime<Utc>,
    ) -> Result<Versioned<Conversation>, Error> {
        next.updated_at = switchboard_core::clock::api_time(now);
        self.conversations
            .update(workspace_id, current, &next, &[])
            .await
            .map_err(|e| match e {
                StoreError::VersionMismatch => Error::refused(
                    ErrorCode::ConcurrentModification,
                    "Another message to this conversation was being answered; send yours again.",
                ),
                e => e.into(),
            })
    }
}
