//! The domain: what the product does, over the ports only. Booking appointments, requesting
//! and deciding approvals, the do-not-call list, the conversation engine agents talk through,
//! the life of a call, campaigns and their dialer, and webhook delivery.
//!
//! Modules depend on each other in one direction: `phones`, `dnc`, `appointments` and
//! `approvals` stand alone; the `conversation` engine uses them; `calls` uses the engine;
//! `campaigns` uses `calls`. `webhooks` and `audit` stand apart; `sealing` uses the webhooks'
//! secret box.

pub mod appointments;
pub mod approvals;
pub mod audit;
pub mod automation;
pub mod calls;
pub mod campaigns;
pub mod conversation;
pub mod dnc;
pub mod phones;
pub mod providers;
pub mod sealing;
pub mod webhooks;
