//! Automation: templates filled from a run's data, the built-in connectors and how a
//! connection calls an outside API, schedules, and the assistant that drafts them.

pub mod assistant;
pub mod connectors;
pub mod executions;
pub mod schedules;
pub mod template;
pub mod workflows;
