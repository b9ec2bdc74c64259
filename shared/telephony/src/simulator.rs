//! The telephony simulator, the local provider, and the rules of its network: calls to
//! numbers ending 0001 are busy, 0002 unanswered, 0003 failed, 0004 reach voicemail; any other
//! number answers, and a simulated callee talks with the agent. Placing a call queues its
//! first step on the call queue; the `call-worker` function takes the steps, reporting each
//! status through the path a real provider's callbacks take.
//!
//! The callee's lines depend on the last four digits of its number: `0005` asks not to be
//! called again, `0006` asks for a late fee to be waived (an approval), any other number books
//! an appointment for tomorrow and says goodbye.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use switchboard_core::error::ProviderError;
use switchboard_core::model::{
    AvailableNumber, AvailableNumberObject, CURRENCY, NUMBER_MONTHLY_FEE_MINOR, PhoneNumber,
};
use switchboard_core::ports::{CallJob, CallQueue, NumberSearch, OutboundCall, ProviderCall, SimStep, Telephony};
use switchboard_core::validate;

/// The simulator as a telephony provider.
pub struct Simulator {
    queue: Arc<dyn CallQueue>,
}

impl Simulator {
    pub fn new(queue: Arc<dyn CallQueue>) -> Self {
        Self { queue }
    }
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

    async fn hang_up(&self, _provider_call_id: &str) -> Result<(), ProviderError> {
        // A simulated call ends by itself at its HangUp step; the status path ignores later reports.
        Ok(())
    }

    async fn fetch_call(&self, _provider_call_id: &str) -> Result<Option<ProviderCall>, ProviderError> {
        Ok(None)
    }
}

/// What the callee says, line by line.
pub fn callee_lines(callee: &str) -> &'static [&'static str] {
    match &callee[callee.len().saturating_sub(4)..] {
        "0005" => &["Hello?", "Please stop calling me."],
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
