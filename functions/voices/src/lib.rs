//! `voices`: the voice personas agents speak with (`GET /v1/voices`), a spoken preview of any
//! of them (`POST /v1/voices/preview`) through the platform's text-to-speech, and of an agent
//! as the workspace's calls speak it (`POST /v1/agents/{id}/preview`): through the workspace's
//! own voice account for the personas it chose voices for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_core::model::{Agent, Scope, VOICES, Voice, voice_by_id, voice_ids};
use switchboard_core::ports::{ProviderAccounts, Repository, Speech, TextToSpeech};
use switchboard_core::{ErrorCode, validate};
use switchboard_http::{Access, ApiError, Platform, Reply, Request, Route, Service, crud};
use switchboard_store::DynamoStore;
use utoipa::ToSchema;

pub struct State {
    /// The platform's voices.
    pub speech: Arc<dyn TextToSpeech>,
    pub agents: Arc<dyn Repository<Agent>>,
    /// Each workspace's voices: the platform's, or its own account's.
    pub providers: Arc<dyn ProviderAccounts>,
    /// Each voice's sample, spoken once per warm instance.
    samples: Mutex<HashMap<&'static str, Speech>>,
}

/// The function over its adapters: what `main.rs` runs and the tests call. `providers` speaks
/// with `speech` for the platform's voices.
pub fn service(
    platform: Arc<Platform>,
    store: &DynamoStore,
    speech: Arc<dyn TextToSpeech>,
    providers: Arc<dyn ProviderAccounts>,
) -> Service<State> {
    let state = State {
        speech,
        agents: Arc::new(store.clone()),
        providers,
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
        Route::new(Method::POST, "/v1/agents/{id}/preview", agent_preview)
            .access(Access::Scoped(Scope::Read))
            .doc(TAG, "previewAgent", "Hear an agent")
            .describe(
                "Speaks `text` (at most 300 characters; by default the agent's greeting, recording notice \
                 included, or the voice's introduction) in the agent's voice as the workspace's calls \
                 speak it: with the voice its own ElevenLabs account gives the persona, when the workspace \
                 brought one (`byok`), else the platform's. WAV audio (16-bit mono PCM).",
            )
            .optional_body::<AgentPreview>(|| json!({"text": "Hi, this is Amelia from Acme Dental. How can I help?"}))
            .changes_nothing()
            .returns_nothing(200, "audio/wav."),
    ]
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentPreview {
    /// What to say: 1 to 300 characters; the agent's greeting when left out.
    pub text: Option<String>,
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

async fn agent_preview(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: AgentPreview = if req.body.is_empty() {
        AgentPreview::default()
    } else {
        req.json()?
    };
    let agent = crud::find(state.agents.as_ref(), &req, req.param("id")).await?.value;
    let voice = voice_by_id(&agent.voice).unwrap_or(&VOICES[0]);
    let text = match input.text {
        Some(text) => text,
        None => match agent.call_greeting() {
            greeting if greeting.is_empty() => introduction(voice),
            greeting => greeting.chars().take(MAX_PREVIEW).collect(),
        },
    };
    let text = validate::text("text", &text, 1, MAX_PREVIEW)?;
    let voices = state.providers.voices(req.workspace_id()?).await?;
    let speech = voices.speech.as_ref().unwrap_or(&state.speech);
    let speech = speech
        .speak(voice, &text)
        .await
        .map_err(switchboard_core::Error::from)?;
    Ok(Reply::raw(speech.content_type, speech.audio))
}
