//! Telephony adapters: the simulator (the local default) and Twilio.

pub mod simulator;
