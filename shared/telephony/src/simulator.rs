//! The telephony simulator, the local provider, and the rules of its network: calls to
//! numbers ending 0001 are busy, 0002 unanswered, 0003 failed, 0004 reach voicemail; any other
//! number answers, and a simulated callee talks with the agent. Placing a call queues its
//! first step on the call queue; the `call-worker` function takes the steps, reporting each
//! status through the path a real provider's callbacks take.
//!
//! The callee's lines depend on the last four digits of its number: `0005` asks not to be
//! called again, `0006` asks for a late fee to be waived (an approval), `0007` declines being
//! recorded, any other number books an appointment for tomorrow and says goodbye. With a
//! text-to-speech port, the simulator records its calls by speaking their transcripts.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use switchboard_core::error::ProviderError;
use switchboard_core::model::{
    AvailableNumber, AvailableNumberObject, CURRENCY, Call, MessageRole, NUMBER_MONTHLY_FEE_MINOR, PhoneNumber, VOICES,
    Voice,
};
use switchboard_core::ports::{
    CallJob, CallQueue, NumberSearch, OutboundCall, ProviderCall, SimStep, Speech, Telephony, TextToSpeech,
};
use switchboard_core::validate;

/// The simulator as a telephony provider.
pub struct Simulator {
    queue: Arc<dyn CallQueue>,
    /// What records its calls: each line of the transcript spoken, the callee in a voice of
    /// their own. Without it, the simulator records nothing.
    speech: Option<Arc<dyn TextToSpeech>>,
}

impl Simulator {
    pub fn new(queue: Arc<dyn CallQueue>) -> Self {
        Self { queue, speech: None }
    }

    pub fn recording_with(mut self, speech: Arc<dyn TextToSpeech>) -> Self {
        self.speech = Some(speech);
        self
    }

    /// Whether the simulator takes a Twilio credential: as Twilio takes only its accounts'
    /// tokens, it takes only test tokens (`test_...`), so that a workspace can try `byok` locally.
    pub fn check_credential(auth_token: &str) -> Result<(), ProviderError> {
        if auth_token.starts_with(TEST_PREFIX) {
            Ok(())
        } else {
            Err(ProviderError::Rejected(format!(
                "Authenticate (Twilio error 20003; the simulator takes only test auth tokens, which start with \
                 `{TEST_PREFIX}`)"
            )))
        }
    }
}

/// What test credentials start with, for the simulator.
pub const TEST_PREFIX: &str = "test_";

/// Silence between two lines of a recorded call.
const PAUSE_SECONDS: f32 = 0.4;

/// The voice the simulated callee speaks in: the agent's language, the other gender where
/// the catalogue has one, else another voice of the language, else the agent's own.
fn callee_voice(agent: &Voice) -> &Voice {
    let same_language = || VOICES.iter().filter(|v| v.language == agent.language);
    same_language()
        .find(|v| v.gender != agent.gender)
        .or_else(|| same_language().find(|v| v.id != agent.id))
        .unwrap_or(agent)
}

/// WAV files of one format joined, with a pause after each.
fn join(parts: &[Speech]) -> Result<Speech, ProviderError> {
    let bad = |e: hound::Error| ProviderError::Unavailable(anyhow::anyhow!("the speech is not WAV: {e}"));
    let mut spec = None;
    let mut samples: Vec<i16> = Vec::new();
    for part in parts {
        let reader = hound::WavReader::new(part.audio.as_slice()).map_err(bad)?;
        let this = reader.spec();
        if *spec.get_or_insert(this) != this {
            return Err(ProviderError::Unavailable(anyhow::anyhow!(
                "the speech changed format within a call"
            )));
        }
        for sample in reader.into_samples::<i16>() {
            samples.push(sample.map_err(bad)?);
        }
        let pause = (this.sample_rate as f32 * PAUSE_SECONDS) as usize * usize::from(this.channels);
        samples.extend(std::iter::repeat_n(0, pause));
    }
    let spec = spec.ok_or_else(|| ProviderError::Rejected("nothing was said".into()))?;
    let mut out = std::io::Cursor::new(Vec::with_capacity(samples.len() * 2 + 44));
    let mut writer = hound::WavWriter::new(&mut out, spec).map_err(bad)?;
    for sample in samples {
        writer.write_sample(sample).map_err(bad)?;
    }
    writer.finalize().map_err(bad)?;
    Ok(Speech::wav(out.into_inner()))
}

/// What happens to a call to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Busy,
    NoAnswer,
    Failed,
    Voicemail,
    Answered,
}

pub fn fate(to: &str) -> Fate {
    match &to[to.len().saturating_sub(4)..] {
        "0001" => Fate::Busy,
        "0002" => Fate::NoAnswer,
        "0003" => Fate::Failed,
        "0004" => Fate::Voicemail,
        _ => Fate::Answered,
    }
}

/// The simulator's id for a call.
pub fn provider_call_id(call_id: &str) -> String {
    format!("SIM-{call_id}")
}

#[async_trait]
impl Telephony for Simulator {
    fn provider(&self) -> &'static str {
        "simulator"
    }

    fn is_live(&self) -> bool {
        false
    }

    async fn attach_number(&self, _phone_e164: &str) -> Result<Option<String>, ProviderError> {
        Ok(None)
    }

    /// Offers numbers of the country's plan: in North America the fictional 555-01XX range of
    /// the area code, elsewhere (where it knows no area codes) the plan's example number with
    /// its last two digits varied.
    async fn search_numbers(&self, search: &NumberSearch) -> Result<Vec<AvailableNumber>, ProviderError> {
        let example = validate::example_number(&search.country)
            .ok_or_else(|| ProviderError::Rejected(format!("no numbers in {}", search.country)))?;
        let base = match (example.strip_prefix("+1"), &search.area_code) {
            (Some(national), area) => format!("+1{}55501", area.as_deref().unwrap_or(&national[..3])),
            (None, None) => example[..example.len() - 2].to_owned(),
            (None, Some(_)) => return Ok(Vec::new()),
        };
        let offers = (0..100)
            .map(|i| format!("{base}{i:02}"))
            .filter(|n| validate::phone("phone_number", n, None).is_ok())
            .filter(|n| validate::destination(n).country.as_deref() == Some(search.country.as_str()))
            .filter(|n| {
                search
                    .contains
                    .as_ref()
                    .is_none_or(|digits| n.contains(digits.as_str()))
            })
            .take(search.limit as usize)
            .map(|phone_number| AvailableNumber {
                object: AvailableNumberObject,
                phone_number,
                country: search.country.clone(),
                locality: None,
                region: None,
                monthly_fee_minor: NUMBER_MONTHLY_FEE_MINOR,
                currency: CURRENCY.into(),
            })
            .collect();
        Ok(offers)
    }

    async fn provision_number(&self, _phone_e164: &str) -> Result<Option<String>, ProviderError> {
        Ok(None)
    }

    async fn release_number(&self, _number: &PhoneNumber) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn place_call(&self, call: &OutboundCall) -> Result<String, ProviderError> {
        let job = CallJob::Simulate {
            workspace_id: call.workspace_id.clone(),
            call_id: call.call_id.clone(),
            step: SimStep::Dial,
            turn: 0,
            elapsed: 0,
        };
        self.queue
            .enqueue(&job, Duration::ZERO)
            .await
            .map_err(ProviderError::Unavailable)?;
        Ok(provider_call_id(&call.call_id))
    }

    fn call_id_for(&self, call_id: &str) -> Option<String> {
        Some(provider_call_id(call_id))
    }

    async fn hang_up(&self, _provider_call_id: &str) -> Result<(), ProviderError> {
        // A simulated call ends by itself at its HangUp step; the status path ignores later reports.
        Ok(())
    }

    async fn fetch_call(&self, _provider_call_id: &str) -> Result<Option<ProviderCall>, ProviderError> {
        Ok(None)
    }

    /// The call as heard: each spoken line of its transcript through the text-to-speech port.
    async fn recording(&self, call: &Call, voice: &Voice) -> Result<Option<Speech>, ProviderError> {
        let Some(speech) = &self.speech else {
            return Ok(None);
        };
        let callee = callee_voice(voice);
        let mut parts = Vec::new();
        for message in &call.transcript {
            let speaker = match message.role {
                MessageRole::Agent => voice,
                MessageRole::User => callee,
                MessageRole::Action => continue,
            };
            parts.push(speech.speak(speaker, &message.content).await?);
        }
        if parts.is_empty() {
            return Ok(None);
        }
        join(&parts).map(Some)
    }

    async fn discard_recording(&self, _call: &Call) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// What the callee says, line by line.
pub fn callee_lines(callee: &str) -> &'static [&'static str] {
    match &callee[callee.len().saturating_sub(4)..] {
        "0005" => &["Hello?", "Please stop calling me."],
        "0007" => &["Hello? Please don't record this call.", "Okay, that's all. Goodbye."],
        "0006" => &[
            "Hello?",
            "I was charged a late fee last month. Can you waive it?",
            "Okay, thanks. Goodbye.",
        ],
        _ => &[
            "Hello?",
            "Yes, can I book an appointment for tomorrow?",
            "That's all, thank you. Goodbye.",
        ],
    }
}

/// Seconds it takes to say `text` and for the other side to start answering.
pub fn speaking_time(text: &str) -> u32 {
    1 + (text.split_whitespace().count() as u32 * 2).div_ceil(5)
}

/// Seconds the phone rings before the call's fate shows.
pub fn ringing_time(fate: Fate) -> u32 {
    match fate {
        Fate::Failed => 1,
        Fate::Busy => 3,
        Fate::Answered => 5,
        Fate::Voicemail => 20,
        Fate::NoAnswer => 30,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_four_digits_decide_a_simulated_calls_fate() {
        assert_eq!(fate("+14155550001"), Fate::Busy);
        assert_eq!(fate("+14155550002"), Fate::NoAnswer);
        assert_eq!(fate("+14155550003"), Fate::Failed);
        assert_eq!(fate("+14155550004"), Fate::Voicemail);
        assert_eq!(fate("+14155550100"), Fate::Answered);
    }
}
