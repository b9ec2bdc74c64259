//! The voice personas agents speak with: one catalogue that `GET /v1/voices` lists, agents are
//! checked against, and the text-to-speech adapters map to their own voices.

use serde::Serialize;
use utoipa::ToSchema;

use crate::object_name;

object_name!(VoiceObject, "voice");

/// Female or male, as the provider's voice sounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Female,
    Male,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Voice {
    /// What an agent's `voice` names.
    #[schema(example = "amelia")]
    pub id: &'static str,
    pub object: VoiceObject,
    #[schema(example = "Amelia")]
    pub name: &'static str,
    /// BCP 47 language tag the voice speaks.
    #[schema(example = "en-GB")]
    pub language: &'static str,
    pub gender: Gender,
    #[schema(example = "British")]
    pub accent: &'static str,
    pub description: &'static str,
    /// The Amazon Polly voice that speaks it on AWS.
    #[schema(example = "Amy")]
    pub provider_voice_id: &'static str,
    /// The espeak-ng voice that speaks it offline.
    #[serde(skip)]
    pub offline_voice: &'static str,
}

// A row of the voice table: one argument per column.
#[allow(clippy::too_many_arguments)]
const fn voice(
    id: &'static str,
    name: &'static str,
    language: &'static str,
    gender: Gender,
    accent: &'static str,
    description: &'static str,
    provider_voice_id: &'static str,
    offline_voice: &'static str,
) -> Voice {
    Voice {
        id,
        object: VoiceObject,
        name,
        language,
        gender,
        accent,
        description,
        provider_voice_id,
        offline_voice,
    }
}

use Gender::{Female, Male};

/// Every persona, in the order they are listed.
pub static VOICES: &[Voice] = &[
    voice(
        "amelia",
        "Amelia",
        "en-GB",
        Female,
        "British",
        "Warm and composed; suits customer service.",
        "Amy",
        "en-gb+f3",
    ),
    voice(
        "leo",
        "Leo",
        "en-GB",
        Male,
        "British",
        "Calm and measured; suits reminders and follow-ups.",
        "Brian",
        "en-gb+m3",
    ),
    voice(
        "anya",
        "Anya",
        "en-US",
        Female,
        "American",
        "Bright and friendly; suits sales and lead qualification.",
        "Joanna",
        "en-us+f2",
    ),
    voice(
        "kai",
        "Kai",
        "en-US",
        Male,
        "American",
        "Relaxed and conversational; suits appointment setting.",
        "Matthew",
        "en-us+m3",
    ),
    voice(
        "rohan",
        "Rohan",
        "en-GB",
        Male,
        "British",
        "Clear and steady; suits collections and account calls.",
        "Arthur",
        "en-gb+m1",
    ),
    voice(
        "olivia",
        "Olivia",
        "en-AU",
        Female,
        "Australian",
        "Upbeat and clear; suits surveys and confirmations.",
        "Olivia",
        "en+f4",
    ),
    voice(
        "priya",
        "Priya",
        "en-IN",
        Female,
        "Indian",
        "Polite and patient; suits support in Indian English.",
        "Kajal",
        "en-us+f1",
    ),
    voice(
        "kavya",
        "Kavya",
        "hi-IN",
        Female,
        "Indian",
        "Natural Hindi; suits callers who prefer Hindi.",
        "Kajal",
        "hi+f2",
    ),
];

/// The persona of an id.
pub fn voice_by_id(id: &str) -> Option<&'static Voice> {
    VOICES.iter().find(|v| v.id == id)
}

/// The ids agents may name, for error messages and the OpenAPI enum.
pub fn voice_ids() -> impl Iterator<Item = &'static str> {
    VOICES.iter().map(|v| v.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_six_english_voices_and_a_hindi_one_with_unique_ids() {
        let english = VOICES.iter().filter(|v| v.language.starts_with("en-")).count();
        let hindi = VOICES.iter().filter(|v| v.language == "hi-IN").count();
        assert!(english >= 6 && hindi >= 1, "{english} English, {hindi} Hindi");
        let mut ids: Vec<_> = voice_ids().collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), VOICES.len());
    }
}
