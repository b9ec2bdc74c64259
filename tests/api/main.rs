//! In-process tests: each function's real `Service` against DynamoDB Local and moto.

mod agents;
mod api_keys;
mod appointments;
mod approvals;
mod architecture;
mod auth;
mod bad_input;
mod billing;
mod calls;
mod campaigns;
mod catalog;
mod chat;
mod contacts;
mod conventions;
mod credentials;
mod dnc;
mod idempotency;
mod isolation;
mod layout;
mod numbers;
mod providers;
mod rate_limits;
mod spending;
mod timeline;
mod twilio;
mod webhooks;
