//! `voices`: the voice personas agents speak with (`GET /v1/voices`), and a spoken preview of
//! any of them (`POST /v1/voices/preview`) through the text-to-speech port.

use std::sync::Arc;

use http::Method;
use serde::Deserialize;
use serde_json::json;
use switchboard_core::model::{VOICES, Voice, voice_by_id, voice_ids};
use switchboard_core::ports::TextToSpeech;
use switchboard_core::{ErrorCode, validate};
use switchboard_http::{Access, ApiError, Platform, Reply, Request, Route, Service};
use utoipa::ToSchema;

pub struct State {
    pub speech: Arc<dyn TextToSpeech>,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn service(platform: Arc<Platform>, speech: Arc<dyn TextToSpeech>) -> Service<State> {
    Service::new(platform, State { speech }, routes())
}

const TAG: &str = "Voices and objections";
/// The longest text a preview speaks.
pub const MAX_PREVIEW: usize = 300;

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/voices", list)
            .access(Access::Public)
            .doc(TAG, "listVoices", "List voices")
            .describe(
                "The voice personas an agent's `voice` may name, with the language and accent each speaks and \
                 the Amazon Polly voice that speaks it. `POST /v1/voices/preview` speaks a sample.",
            )
            .returns_whole_list::<Voice>("Every voice."),
        Route::new(Method::POST, "/v1/voices/preview", preview)
            .access(Access::PublicLimited)
            .doc(TAG, "previewVoice", "Hear a voice")
            .describe(
                "Speaks `text` (at most 300 characters) in the voice, as WAV audio (16-bit mono PCM). Needs no \
                 credentials; limited per client IP.",
            )
            .body::<Preview>(
                || json!({"voice": "amelia", "text": "Hi, this is Amelia from Acme Dental. How can I help?"}),
            )
            .returns_nothing(200, "audio/wav."),
    ]
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preview {
    /// The id of a voice `GET /v1/voices` lists.
    pub voice: String,
    /// What to say: 1 to 300 characters.
    pub text: String,
}

async fn list(_state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    Ok(req.list(VOICES.iter().collect(), None, ""))
}

async fn preview(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: Preview = req.json()?;
    let voice = voice_by_id(&input.voice).ok_or_else(|| {
        ApiError::param(
            ErrorCode::InvalidValue,
            "voice",
            format!(
                "`voice` must be the id of a voice GET /v1/voices lists: {}.",
                voice_ids().collect::<Vec<_>>().join(", ")
            ),
        )
    })?;
    let text = validate::text("text", &input.text, 1, MAX_PREVIEW)?;
    let speech = state
        .speech
        .speak(voice, &text)
        .await
        .map_err(switchboard_core::Error::from)?;
    Ok(Reply::raw(speech.content_type, speech.audio))
}
