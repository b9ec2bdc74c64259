//! Language-model adapters: offline (the local default, deterministic) and Anthropic's
//! Messages API.

pub mod anthropic;
mod drafts;
pub mod offline;
