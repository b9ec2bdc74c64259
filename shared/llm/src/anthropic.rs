//! Anthropic's Messages API (`POST /v1/messages`) as the [`Llm`] port.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use switchboard_core::error::ProviderError;
use switchboard_core::ports::{Llm, LlmMessage, LlmReply, LlmRequest, ToolUse};

pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
const API_VERSION: &str = "2023-06-01";

pub struct Anthropic {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
    model: String,
}

impl Anthropic {
    pub fn new(base_url: impl Into<String>, api_key: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            http: switchboard_https::client(Duration::from_secs(60))
                .build()
                .expect("an HTTP client builds"),
            base_url: base_url.into(),
            api_key: api_key.into(),
            model: model.into(),
        }
    }

    /// The request body the Messages API expects.
    pub fn body(&self, request: &LlmRequest) -> Value {
        let messages: Vec<Value> = request
            .messages
            .iter()
            .map(|message| match message {
                LlmMessage::User { text } => json!({"role": "user", "content": text}),
                LlmMessage::Assistant { text, tool_uses } => {
                    let mut content = Vec::new();
                    if !text.is_empty() {
                        content.push(json!({"type": "text", "text": text}));
                    }
                    for tool in tool_uses {
                        content.push(json!({"type": "tool_use", "id": tool.id, "name": tool.name, "input": tool.input}));
                    }
                    json!({"role": "assistant", "content": content})
                }
                LlmMessage::ToolResults { results } => json!({
                    "role": "user",
                    "content": results.iter().map(|(id, content)| json!({"type": "tool_result", "tool_use_id": id, "content": content})).collect::<Vec<_>>()
                }),
            })
            .collect();
        let system = format!(
            "{}\n\nThe current time is {}.",
            request.system,
            request.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        let mut body =
            json!({"model": self.model, "max_tokens": request.max_tokens, "system": system, "messages": messages});
        if !request.tools.is_empty() {
            body["tools"] = request
                .tools
                .iter()
                .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.input_schema}))
                .collect();
        }
        if let Some(tool) = request.force_tool {
            body["tool_choice"] = json!({"type": "tool", "name": tool});
        }
        body
    }

    /// Whether Anthropic takes the key: `GET /v1/models` answers only to a valid one.
    pub async fn check_key(&self) -> Result<(), ProviderError> {
        let url = format!("{}/v1/models?limit=1", self.base_url.trim_end_matches('/'));
        self.answer(self.http.get(url)).await.map(|_| ())
    }

    async fn send(&self, body: &Value) -> Result<Value, ProviderError> {
        let url = format!("{}/v1/messages", self.base_url.trim_end_matches('/'));
        self.answer(self.http.post(url).json(body)).await
    }

    async fn answer(&self, request: reqwest::RequestBuilder) -> Result<Value, ProviderError> {
        let response = request
            .header("x-api-key", &self.api_key)
            .header("anthropic-version", API_VERSION)
            .send()
            .await
            .map_err(|e| ProviderError::Unavailable(e.into()))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| ProviderError::Unavailable(e.into()))?;
        if status.is_success() {
            return serde_json::from_str(&text)
                .map_err(|e| ProviderError::Unavailable(anyhow::anyhow!("unreadable answer: {e}")));
        }
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or(text);
        // 429 (rate limited), 529 (overloaded) and 5xx pass; other 4xx are our requests' faults.
        if status.as_u16() == 401 {
            return Err(ProviderError::Unauthorized(format!(
                "Anthropic answered {status}: {message}"
            )));
        }
        if status.as_u16() == 429 || status.is_server_error() {
            Err(ProviderError::Unavailable(anyhow::anyhow!(
                "Anthropic answered {status}: {message}"
            )))
        } else {
            Err(ProviderError::Rejected(format!(
                "Anthropic answered {status}: {message}"
            )))
        }
    }
}

#[async_trait]
impl Llm for Anthropic {
    fn provider(&self) -> &'static str {
        "anthropic"
    }

    async fn complete(&self, request: &LlmRequest) -> Result<LlmReply, ProviderError> {
        let body = self.body(request);
        let answer = match self.send(&body).await {
            // One retry for a busy or briefly failing API.
            Err(ProviderError::Unavailable(_)) => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                self.send(&body).await?
            }
            other => other?,
        };
        let mut reply = LlmReply::default();
        for block in answer["content"].as_array().into_iter().flatten() {
            match block["type"].as_str() {
                Some("text") => reply.text.push_str(block["text"].as_str().unwrap_or_default()),
                Some("tool_use") => reply.tool_uses.push(ToolUse {
                    id: block["id"].as_str().unwrap_or_default().to_owned(),
                    name: block["name"].as_str().unwrap_or_default().to_owned(),
                    input: block["input"].clone(),
                }),
                _ => {}
            }
        }
        Ok(reply)
    }
}
