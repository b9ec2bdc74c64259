//! `call-relay`: the conversation side of real calls. Twilio ConversationRelay turns the
//! caller's speech into messages on a WebSocket (an API Gateway WebSocket API whose routes
//! invoke this function), the conversation engine answers, and the answer goes back down the
//! connection for Twilio to speak.

use std::sync::Arc;

use switchboard_core::clock::Clock;
use switchboard_core::ports::ProviderAccounts;
use switchboard_store::DynamoStore;
use switchboard_telephony::twilio::relay::Voice;

pub use self::relay::Relay;

mod relay;

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn relay(
    store: &DynamoStore,
    providers: Arc<dyn ProviderAccounts>,
    voice: Voice,
    twilio_auth_token: String,
    relay_url: String,
    clock: Clock,
) -> Relay {
    Relay {
        engine: switchboard_runtime::engine(store, providers.clone()),
        providers,
        calls: Arc::new(store.clone()),
        agents: Arc::new(store.clone()),
        voice,
        twilio_auth_token,
        relay_url,
        clock,
    }
}
