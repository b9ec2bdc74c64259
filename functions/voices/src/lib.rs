//! `voices`: the voice personas agents speak with (`GET /v1/voices`), and a spoken preview of
//! any of them (`POST /v1/voices/preview`) through the text-to-speech port.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_core::model::{VOICES, Voice, voice_by_id, voice_ids};
use switchboard_core::ports::{Speech, TextToSpeech};
use switchboard_core::{ErrorCode, validate};
use switchboard_http::{Access, ApiError, Platform, Reply, Request, Route, Service};
use utoipa::ToSchema;

pub struct State {
    pub speech: Arc<dyn TextToSpeech>,
    /// Each voice's sample, spoken once per warm instance.
    samples: Mutex<HashMap<&'static str, Speech>>,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn service(platform: Arc<Platform>, speech: Arc<dyn TextToSpeech>) -> Service<State> {
    let state = State {
        speech,
        samples: Mutex::default(),
    };
    Service::new(platform, state, routes())
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
            .returns_whole_list::<VoiceView>("Every voice."),
        Route::new(Method::GET, "/v1/voices/{voice}/sample", sample)
            .access(Access::PublicLimited)
            .doc(TAG, "voiceSample", "Hear a voice's sample")
            .describe("The voice introducing itself, as WAV audio; the same for everyone, so caches may keep it a day.")
            .returns_nothing(200, "audio/wav."),
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

/// A voice as listed: with where to hear it.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoiceView {
    #[serde(flatten)]
    pub voice: &'static Voice,
    /// The voice introducing itself (WAV), relative to the API's base URL.
    #[schema(example = "/v1/voices/amelia/sample")]
    pub sample_url: String,
}

async fn list(_state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let voices = VOICES
        .iter()
        .map(|voice| VoiceView {
            voice,
            sample_url: format!("/v1/voices/{}/sample", voice.id),
        })
        .collect();
    Ok(req.list(voices, None, ""))
}

/// What a voice says to introduce itself, in its language.
fn introduction(voice: &Voice) -> String {
    if voice.language.starts_with("hi") {
        format!(
            "नमस्ते, मैं {} हूँ। मैं आपकी कॉल का जवाब दे सकती हूँ और अपॉइंटमेंट बुक कर सकती हूँ।",
            voice.name
        )
    } else {
        format!(
            "Hi, I'm {}. I can answer your calls, book appointments and follow up with your customers.",
            voice.name
        )
    }
}

async fn sample(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let voice = voice_by_id(req.param("voice")).ok_or_else(|| {
        ApiError::new(
            ErrorCode::VoiceNotFound,
            "No voice has this id: GET /v1/voices lists them.",
        )
    })?;
    let cached = state.samples.lock().expect("the sample cache").get(voice.id).cloned();
    let speech = match cached {
        Some(speech) => speech,
        None => {
            let speech = state
                .speech
                .speak(voice, &introduction(voice))
                .await
                .map_err(switchboard_core::Error::from)?;
            state
                .samples
                .lock()
                .expect("the sample cache")
                .insert(voice.id, speech.clone());
            speech
        }
    };
    Ok(Reply::raw(speech.content_type, speech.audio).header(http::header::CACHE_CONTROL, "public, max-age=86400"))
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
