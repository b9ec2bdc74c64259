//! Twilio ConversationRelay, the conversation side of a real call: Twilio turns the caller's
//! speech into `prompt` messages on a WebSocket and speaks the `text` we send back. The socket
//! is an API Gateway WebSocket API whose routes invoke the `call-relay` function; replies go
//! down the connection through API Gateway's management API.
//!
//! `$connect` must carry Twilio's signature of the relay URL; `setup` names our workspace and
//! call (the `<Parameter>`s of the TwiML) and must match the call's Twilio `CallSid`; each
//! final `prompt` is answered by the conversation engine; when the agent ends the
//! conversation, `end` closes the session and Twilio hangs up.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::twilio;
use crate::clock::Clock;
use crate::engine::Engine;
use crate::error::{ApiError, ErrorCode};
use crate::model::{Agent, Call, ConversationStatus, Message, MessageRole};
use crate::ports::{RelayConnections, RelaySessions, Repository};
use crate::service::calls;

/// How long a connection is remembered: longer than any call may last.
const SESSION_TIME: Duration = Duration::hours(4);

/// A message from Twilio.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum FromTwilio {
    #[serde(rename_all = "camelCase")]
    Setup {
        call_sid: String,
        #[serde(default)]
        custom_parameters: BTreeMap<String, String>,
    },
    #[serde(rename_all = "camelCase")]
    Prompt {
        voice_prompt: String,
        #[serde(default = "yes")]
        last: bool,
    },
    Interrupt {},
    Dtmf {},
    Error {
        #[serde(default)]
        description: String,
    },
}

fn yes() -> bool {
    true
}

/// A message to Twilio.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ToTwilio {
    /// Words to speak.
    Text { token: String, last: bool },
    /// Ends the session; Twilio goes on with the TwiML after `<Connect>` (none: it hangs up).
    #[serde(rename_all = "camelCase")]
    End { handoff_data: String },
}

/// API Gateway's management API, posting to connections.
pub struct ApiGatewayConnections {
    client: aws_sdk_apigatewaymanagement::Client,
}

impl ApiGatewayConnections {
    /// `callback_url`: the WebSocket API stage's `https://` URL.
    pub fn new(sdk: &aws_config::SdkConfig, callback_url: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
            .endpoint_url(callback_url)
            .build();
        Self {
            client: aws_sdk_apigatewaymanagement::Client::from_conf(config),
        }
    }
}

#[async_trait]
impl RelayConnections for ApiGatewayConnections {
    async fn send(&self, connection_id: &str, message: &str) -> anyhow::Result<()> {
        self.client
            .post_to_connection()
            .connection_id(connection_id)
            .data(aws_smithy_types::Blob::new(message.as_bytes()))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_smithy_types::error::display::DisplayErrorContext(&e)))?;
        Ok(())
    }
}

/// What speaks into live calls: used by the relay, and by whoever resumes a call's
/// conversation (a decided approval).
#[derive(Clone)]
pub struct Voice {
    pub sessions: Arc<dyn RelaySessions>,
    pub connections: Arc<dyn RelayConnections>,
}

impl Voice {
    async fn send(&self, connection_id: &str, message: &ToTwilio) -> Result<(), ApiError> {
        let text = serde_json::to_string(message).expect("relay messages serialise");
        self.connections
            .send(connection_id, &text)
            .await
            .map_err(ApiError::unavailable)
    }

    /// Says the agent's lines among `messages` on `connection_id`; ends the session when the
    /// conversation has ended.
    pub async fn say(&self, connection_id: &str, messages: &[Message], ended: bool) -> Result<(), ApiError> {
        let words: Vec<&str> = messages
            .iter()
            .filter(|m| m.role == MessageRole::Agent)
            .map(|m| m.content.as_str())
            .collect();
        if !words.is_empty() {
            let text = ToTwilio::Text {
                token: words.join(" "),
                last: true,
            };
            self.send(connection_id, &text).await?;
        }
        if ended {
            let end = ToTwilio::End {
                handoff_data: r#"{"reason":"conversation_ended"}"#.into(),
            };
            self.send(connection_id, &end).await?;
        }
        Ok(())
    }

    /// Says the lines on the call's live connection, if it has one.
    pub async fn say_on_call(
        &self,
        workspace_id: &str,
        call_id: &str,
        messages: &[Message],
        ended: bool,
    ) -> Result<(), ApiError> {
        let connection = self
            .sessions
            .connection_of(workspace_id, call_id)
            .await
            .map_err(|e| e.into_api(ErrorCode::CallNotFound))?;
        match connection {
            Some(connection) => self.say(&connection, messages, ended).await,
            None => Ok(()),
        }
    }
}

/// The `call-relay` function.
pub struct Relay {
    pub engine: Engine,
    pub calls: Arc<dyn Repository<Call>>,
    pub agents: Arc<dyn Repository<Agent>>,
    pub voice: Voice,
    pub twilio_auth_token: String,
    /// The relay's `wss://` URL, as the TwiML names it (what Twilio signs).
    pub relay_url: String,
    pub clock: Clock,
}

fn answer(status: i64) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response
}

impl Relay {
    /// Answers one WebSocket event: a connection, a disconnection or a message.
    pub async fn handle(&self, event: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
        let context = &event.request_context;
        let connection_id = context.connection_id.clone().unwrap_or_default();
        match context.route_key.as_deref() {
            Some("$connect") => {
                let signature = event.headers.get("x-twilio-signature").and_then(|v| v.to_str().ok());
                if twilio::verify(&self.twilio_auth_token, &self.relay_url, &[], signature) {
                    answer(200)
                } else {
                    tracing::warn!(connection_id, "relay connection without Twilio's signature refused");
                    answer(403)
                }
            }
            Some("$disconnect") => answer(200),
            _ => {
                let message = event.body.as_deref().unwrap_or_default();
                match serde_json::from_str::<FromTwilio>(message) {
                    Ok(message) => {
                        if let Err(e) = self.on_message(&connection_id, message).await {
                            let cause = e.source.as_ref().map(|s| format!("{s:#}")).unwrap_or_default();
                            tracing::error!(connection_id, code = e.code.as_str(), message = %e.message, cause, "relay message not handled");
                        }
                    }
                    Err(e) => tracing::warn!(connection_id, error = %e, "not a ConversationRelay message"),
                }
                answer(200)
            }
        }
    }

    async fn call(&self, workspace_id: &str, call_id: &str) -> Result<(Call, Agent), ApiError> {
        let call = self
            .calls
            .get(workspace_id, call_id)
            .await
            .map_err(|e| e.into_api(ErrorCode::CallNotFound))?
            .ok_or_else(|| ApiError::new(ErrorCode::CallNotFound, "The relay names no call of ours."))?
            .value;
        let agent = calls::active_agent(self.agents.as_ref(), workspace_id, &call.agent_id).await?;
        Ok((call, agent))
    }

    /// Handles one message from Twilio on `connection_id`.
    pub async fn on_message(&self, connection_id: &str, message: FromTwilio) -> Result<(), ApiError> {
        let now = self.clock.now();
        match message {
            FromTwilio::Setup {
                call_sid,
                custom_parameters,
            } => {
                let (Some(ws), Some(call_id)) =
                    (custom_parameters.get("workspace_id"), custom_parameters.get("call_id"))
                else {
                    return Err(ApiError::new(ErrorCode::CallNotFound, "The relay setup names no call."));
                };
                let (call, agent) = self.call(ws, call_id).await?;
                // The parameters come from our TwiML; the CallSid proves they name this call.
                if call.provider_call_id.as_deref() != Some(call_sid.as_str()) {
                    return Err(ApiError::new(
                        ErrorCode::CallNotFound,
                        "The relay setup's CallSid is not the call's.",
                    ));
                }
                self.voice
                    .sessions
                    .bind(connection_id, ws, call_id, now + SESSION_TIME)
                    .await
                    .map_err(|e| e.into_api(ErrorCode::CallNotFound))?;
                // Twilio has spoken the agent's first message as the welcome greeting.
                calls::conversation(&self.engine, self.calls.as_ref(), ws, &agent, &call, now).await?;
                Ok(())
            }
            FromTwilio::Prompt { voice_prompt, last } => {
                if !last || voice_prompt.trim().is_empty() {
                    return Ok(());
                }
                let (ws, call_id) = self
                    .voice
                    .sessions
                    .call_of(connection_id)
                    .await
                    .map_err(|e| e.into_api(ErrorCode::CallNotFound))?
                    .ok_or_else(|| ApiError::new(ErrorCode::CallNotFound, "A prompt before the relay's setup."))?;
                let (call, agent) = self.call(&ws, &call_id).await?;
                let conversation =
                    calls::conversation(&self.engine, self.calls.as_ref(), &ws, &agent, &call, now).await?;
                let before = conversation.value.messages.len();
                let after = self.engine.say(&ws, &agent, &conversation, &voice_prompt, now).await?;
                let ended = after.value.status == ConversationStatus::Ended;
                self.voice
                    .say(connection_id, after.value.messages_since(before), ended)
                    .await
            }
            FromTwilio::Error { description } => {
                tracing::warn!(connection_id, description, "ConversationRelay reported an error");
                Ok(())
            }
            FromTwilio::Interrupt {} | FromTwilio::Dtmf {} => Ok(()),
        }
    }
}
