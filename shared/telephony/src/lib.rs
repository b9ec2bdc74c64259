//! Telephony adapters of the `Telephony` port: Twilio (its REST API, signed webhooks, TwiML and
//! the ConversationRelay protocol of live calls) and the simulator, the local default.

pub mod simulator;
pub mod twilio;
