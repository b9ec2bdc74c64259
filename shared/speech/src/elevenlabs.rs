//! ElevenLabs' text-to-speech API (`POST /v1/text-to-speech/{voice_id}`), for a workspace that
//! brings its own ElevenLabs account: 16 kHz PCM made into WAV.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use switchboard_core::error::ProviderError;
use switchboard_core::model::Voice;
use switchboard_core::ports::{Speech, TextToSpeech};

pub const DEFAULT_BASE_URL: &str = "https://api.elevenlabs.io";
/// The model that speaks both English and Hindi.
const MODEL: &str = "eleven_multilingual_v2";
const RATE: u32 = 16_000;

pub struct ElevenLabs {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
    /// The account's voice for each persona id: ElevenLabs voices are the account's choice.
    voices: HashMap<String, String>,
}

impl ElevenLabs {
    pub fn new(base_url: impl Into<String>, api_key: impl Into<String>, voices: HashMap<String, String>) -> Self {
        Self {
            http: switchboard_https::client(Duration::from_secs(30))
                .build()
                .expect("an HTTP client builds"),
            base_url: base_url.into(),
            api_key: api_key.into(),
            voices,
        }
    }
}

impl ElevenLabs {
    /// Whether ElevenLabs takes the key: `GET /v1/user` answers only to a valid one.
    pub async fn check_key(&self) -> Result<(), ProviderError> {
        let res = self.get("/v1/user").await?;
        let status = res.status();
        if status.is_success() {
            return Ok(());
        }
        let body: serde_json::Value = res.json().await.unwrap_or_default();
        let reason = body["detail"]["message"].as_str().unwrap_or("no message");
        Err(refusal(status, format!("ElevenLabs answered {status}: {reason}")))
    }
}

/// What an ElevenLabs error answer means: a refused key is the account's to fix, another
/// refusal is about the request, the rest may pass.
fn refusal(status: reqwest::StatusCode, reason: String) -> ProviderError {
    match status.as_u16() {
        401 => ProviderError::Unauthorized(reason),
        429 => ProviderError::Unavailable(anyhow::anyhow!(reason)),
        _ if status.is_client_error() => ProviderError::Rejected(reason),
        _ => ProviderError::Unavailable(anyhow::anyhow!(reason)),
    }
}

impl ElevenLabs {
    /// Whether each voice is one the account may speak with (`GET /v1/voices/{id}`); the ids are
    /// alphanumeric, as the onboarding input checks.
    pub async fn check_voices(&self, voice_ids: impl IntoIterator<Item = &String>) -> Result<(), ProviderError> {
        for voice_id in voice_ids {
            let status = self.get(&format!("/v1/voices/{voice_id}")).await?.status();
            if !status.is_success() {
                return Err(refusal(
                    status,
                    format!("the account has no voice `{voice_id}` (ElevenLabs answered {status})"),
                ));
            }
        }
        Ok(())
    }

    /// `GET path` with the account's key; the answer whatever its status.
    async fn get(&self, path: &str) -> Result<reqwest::Response, ProviderError> {
        self.http
            .get(format!("{}{path}", self.base_url))
            .header("xi-api-key", &self.api_key)
            .send()
            .await
            .map_err(|e| ProviderError::Unavailable(anyhow::anyhow!("ElevenLabs: {e}")))
    }
}

#[async_trait]
impl TextToSpeech for ElevenLabs {
    async fn speak(&self, voice: &Voice, text: &str) -> Result<Speech, ProviderError> {
        let voice_id = self
            .voices
            .get(voice.id)
            .ok_or_else(|| ProviderError::Rejected(format!("no ElevenLabs voice is chosen for `{}`", voice.id)))?;
        let language = voice.language.split('-').next().unwrap_or("en");
        let res = self
            .http
            .post(format!(
                "{}/v1/text-to-speech/{voice_id}?output_format=pcm_{RATE}",
                self.base_url
            ))
            .header("xi-api-key", &self.api_key)
            .json(&json!({"text": text, "model_id": MODEL, "language_code": language}))
            .send()
            .await
            .map_err(|e| ProviderError::Unavailable(anyhow::anyhow!("ElevenLabs: {e}")))?;
        let status = res.status();
        let body = res
            .bytes()
            .await
            .map_err(|e| ProviderError::Unavailable(anyhow::anyhow!("ElevenLabs' answer: {e}")))?;
        if status.is_client_error() {
            let reason = String::from_utf8_lossy(&body).chars().take(300).collect::<String>();
            return Err(refusal(status, format!("ElevenLabs answered {status}: {reason}")));
        }
        if !status.is_success() {
            return Err(ProviderError::Unavailable(anyhow::anyhow!(
                "ElevenLabs answered {status}"
            )));
        }
        Ok(Speech::wav(crate::wav(&body, RATE)))
    }
}
