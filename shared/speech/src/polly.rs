//! Amazon Polly's SynthesizeSpeech: neural voices, 16 kHz PCM made into WAV.

use async_trait::async_trait;
use aws_sdk_polly::error::SdkError;
use aws_sdk_polly::types::{Engine, LanguageCode, OutputFormat, VoiceId};
use switchboard_core::error::ProviderError;
use switchboard_core::model::Voice;
use switchboard_core::ports::{Speech, TextToSpeech};

/// The sample rate asked of Polly (its PCM offers 8 and 16 kHz).
const RATE: u32 = 16_000;

pub struct Polly {
    client: aws_sdk_polly::Client,
}

impl Polly {
    pub fn new(client: aws_sdk_polly::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl TextToSpeech for Polly {
    async fn speak(&self, voice: &Voice, text: &str) -> Result<Speech, ProviderError> {
        let out = self
            .client
            .synthesize_speech()
            .engine(Engine::Neural)
            .language_code(LanguageCode::from(voice.language))
            .voice_id(VoiceId::from(voice.provider_voice_id))
            .output_format(OutputFormat::Pcm)
            .sample_rate(RATE.to_string())
            .text(text)
            .send()
            .await
            .map_err(|e| match &e {
                SdkError::ServiceError(service) if service.raw().status().as_u16() < 500 => {
                    ProviderError::Rejected(format!("Polly: {}", aws_sdk_polly::error::DisplayErrorContext(&e)))
                }
                _ => ProviderError::Unavailable(anyhow::anyhow!(
                    "Polly: {}",
                    aws_sdk_polly::error::DisplayErrorContext(&e)
                )),
            })?;
        let pcm = out
            .audio_stream
            .collect()
            .await
            .map_err(|e| ProviderError::Unavailable(anyhow::anyhow!("Polly's audio stream: {e}")))?
            .into_bytes();
        Ok(Speech::wav(crate::wav(&pcm, RATE)))
    }
}
