//! The domain's vocabulary, shared by every other crate: ids, the clock, the model, the errors
//! of the domain, input validation, and the ports (traits) through which the domain reaches
//! storage, queues and providers. Nothing here does I/O or knows AWS or HTTP.

pub mod clock;
pub mod config;
pub mod error;
pub mod ids;
pub mod model;
pub mod ports;
pub mod secret;
pub mod validate;

pub use error::{Error, ErrorCode, StoreError};
