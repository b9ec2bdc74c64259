//! Ports: what the domain and the handlers need from the outside world, as traits named for
//! what they do. The adapters implement them: the DynamoDB store every storage port, the SQS
//! adapter the job queues and the mail queue, the telephony, language-model and webhook
//! adapters the providers.

mod accounts;
mod billing;
mod campaigns;
mod jobs;
mod providers;
mod records;
mod resources;

pub use accounts::*;
pub use billing::*;
pub use campaigns::*;
pub use jobs::*;
pub use providers::*;
pub use records::*;
pub use resources::*;
