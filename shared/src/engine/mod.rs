//! The conversation engine: one for text chat, simulated calls and real calls.

pub mod tools;
