//! Twilio ConversationRelay, the conversation side of a real call: Twilio turns the caller's
//! speech into `prompt` messages on a WebSocket and speaks the `text` we send back. The socket
//! is an API Gateway WebSocket API whose routes invoke the `call-relay` function; replies go
//! down the connection through API Gateway's management API.
//!
//! `$connect` must carry Twilio's signature of the relay URL; `setup` names our workspace and
//! call (the `<Parameter>`s of the TwiML) and must match the call's Twilio `CallSid`; each
//! final `prompt` is answered by the conversation engine; when the agent ends the
//! conversation, `end` closes the session and Twilio hangs up.

use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use chrono::Duration;
use switchboard_core::clock::Clock;
use switchboard_core::model::{Agent, Call, ConversationStatus};
use switchboard_core::ports::{ProviderAccounts, Repository};
use switchboard_core::{Error, ErrorCode};
use switchboard_domain::calls;
use switchboard_domain::conversation::Engine;
use switchboard_telephony::twilio::{self, relay::FromTwilio, relay::Voice};

/// How long a connection is remembered: longer than any call may last.
const SESSION_TIME: Duration = Duration::hours(4);

/// The `call-relay` function.
pub struct Relay {
    pub engine: Engine,
    pub calls: Arc<dyn Repository<Call>>,
    pub agents: Arc<dyn Repository<Agent>>,
    pub voice: Voice,
    /// Each workspace's model, and the auth token of its own Twilio account.
    pub providers: Arc<dyn ProviderAccounts>,
    /// The platform account's auth token.
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
                let workspace = event.query_string_parameters.first("workspace_id");
                if self.signed(workspace, signature).await {
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
                            let error = format!("{:#}", anyhow::Error::from(e));
                            tracing::error!(connection_id, error, "relay message not handled");
                        }
                    }
                    Err(e) => tracing::warn!(connection_id, error = %e, "not a ConversationRelay message"),
                }
                answer(200)
            }
        }
    }

    /// Whether a connection is Twilio's: signed with the platform account's token, or, for a
    /// workspace's own account (named in the URL), with that account's.
    async fn signed(&self, workspace: Option<&str>, signature: Option<&str>) -> bool {
        let Some(ws) = workspace else {
            return twilio::verify(&self.twilio_auth_token, &self.relay_url, &[], signature);
        };
        match self.providers.webhook_key(ws).await {
            Ok(Some(token)) => twilio::verify(
                &token,
                &twilio::workspace_relay_url(&self.relay_url, ws),
                &[],
                signature,
            ),
            _ => false,
        }
    }

    async fn call(&self, workspace_id: &str, call_id: &str) -> Result<(Call, Agent), Error> {
        let call = self
            .calls
            .get(workspace_id, call_id)
            .await?
            .ok_or_else(|| Error::refused(ErrorCode::CallNotFound, "The relay names no call of ours."))?
            .value;
        let agent = calls::active_agent(self.agents.as_ref(), workspace_id, &call.agent_id).await?;
        Ok((call, agent))
    }

    /// Handles one message from Twilio on `connection_id`.
    pub async fn on_message(&self, connection_id: &str, message: FromTwilio) -> Result<(), Error> {
        let now = self.clock.now();
        match message {
            FromTwilio::Setup {
                call_sid,
                custom_parameters,
            } => {
                let (Some(ws), Some(call_id)) =
                    (custom_parameters.get("workspace_id"), custom_parameters.get("call_id"))
                else {
                    return Err(Error::refused(
                        ErrorCode::CallNotFound,
                        "The relay setup names no call.",
                    ));
                };
                let (call, agent) = self.call(ws, call_id).await?;
                // The parameters come from our TwiML; the CallSid proves they name this call.
                if call.provider_call_id.as_deref() != Some(call_sid.as_str()) {
                    return Err(Error::refused(
                        ErrorCode::CallNotFound,
                        "The relay setup's CallSid is not the call's.",
                    ));
                }
                self.voice
                    .sessions
                    .bind(connection_id, ws, call_id, now + SESSION_TIME)
                    .await?;
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
                    .await?
                    .ok_or_else(|| Error::refused(ErrorCode::CallNotFound, "A prompt before the relay's setup."))?;
                let (call, agent) = self.call(&ws, &call_id).await?;
                let conversation =
                    calls::conversation(&self.engine, self.calls.as_ref(), &ws, &agent, &call, now).await?;
                let before = conversation.value.messages.len();
                let after = self.engine.say(&ws, &agent, &conversation, &voice_prompt, now).await?;
                let ended = after.value.status == ConversationStatus::Ended;
                self.voice
                    .speak(connection_id, after.value.messages_since(before), ended)
                    .await
                    .map_err(Error::unavailable)
            }
            FromTwilio::Error { description } => {
                tracing::warn!(connection_id, description, "ConversationRelay reported an error");
                Ok(())
            }
            FromTwilio::Interrupt {} | FromTwilio::Dtmf {} => Ok(()),
        }
    }
}
