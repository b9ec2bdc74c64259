//! Amazon Polly's SynthesizeSpeech: neural voices, 16 kHz PCM made into WAV.

use std::time::Duration;

use async_trait::async_trait;
use http::Method;
use serde_json::json;
use switchboard_core::error::ProviderError;
use switchboard_core::model::Voice;
use switchboard_core::ports::{Speech, TextToSpeech};
use switchboard_https::aws::{AwsApi, AwsError};

/// The sample rate asked of Polly (its PCM offers 8 and 16 kHz).
const RATE: u32 = 16_000;

/// How long one line may take to synthesise.
const TIMEOUT: Duration = Duration::from_secs(30);

pub struct Polly {
    api: AwsApi,
}

impl Polly {
    /// Polly at `endpoint` when one is given (a local server), else the region's.
    pub fn new(sdk: &aws_types::SdkConfig, endpoint: Option<&str>) -> Self {
        Self {
            api: AwsApi::new(sdk, "polly", endpoint, TIMEOUT),
        }
    }
}

#[async_trait]
impl TextToSpeech for Polly {
    async fn speak(&self, voice: &Voice, text: &str) -> Result<Speech, ProviderError> {
        let request = json!({
            "Engine": "neural",
            "LanguageCode": voice.language,
            "OutputFormat": "pcm",
            "SampleRate": RATE.to_string(),
            "Text": text,
            "VoiceId": voice.provider_voice_id,
        });
        let pcm = self
            .api
            .send(
                Method::POST,
                "/v1/speech",
                &[("content-type", "application/json")],
                request.to_string().into(),
            )
            .await
            .map_err(|e| match e {
                AwsError::Refused { .. } => ProviderError::Rejected(e.to_string()),
                AwsError::Unavailable { .. } => ProviderError::Unavailable(e.into()),
            })?;
        Ok(Speech::wav(crate::wav(&pcm, RATE)))
    }
}
