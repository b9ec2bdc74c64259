//! The ConversationRelay protocol of live Twilio calls: Twilio turns the caller's speech into
//! `prompt` messages on a WebSocket (the relay WebSocket API, whose routes invoke the
//! `call-relay` function) and speaks the `text` we send back down the connection.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use switchboard_core::model::{Message, MessageRole};
use switchboard_core::ports::{LiveCalls, RelayConnections, RelaySessions};

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

/// What speaks into live calls: used by the relay, and by whoever resumes a call's
/// conversation (a decided approval).
#[derive(Clone)]
pub struct Voice {
    pub sessions: Arc<dyn RelaySessions>,
    pub connections: Arc<dyn RelayConnections>,
}

impl Voice {
    async fn send(&self, connection_id: &str, message: &ToTwilio) -> anyhow::Result<()> {
        let text = serde_json::to_string(message).expect("relay messages serialise");
        self.connections.send(connection_id, &text).await
    }

    /// Says the agent's lines among `messages` on `connection_id`; ends the session when the
    /// conversation has ended.
    pub async fn speak(&self, connection_id: &str, messages: &[Message], ended: bool) -> anyhow::Result<()> {
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
}

#[async_trait]
impl LiveCalls for Voice {
    async fn say(&self, workspace_id: &str, call_id: &str, messages: &[Message], ended: bool) -> anyhow::Result<()> {
        match self.sessions.connection_of(workspace_id, call_id).await? {
            Some(connection) => self.speak(&connection, messages, ended).await,
            None => Ok(()),
        }
    }
}
