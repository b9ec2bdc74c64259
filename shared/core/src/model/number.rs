//! Phone numbers the workspace calls from and answers on.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::object_name;

object_name!(PhoneNumberObject, "phone_number");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NumberStatus {
    Active,
    Released,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PhoneNumber {
    #[schema(example = "num_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: PhoneNumberObject,
    /// E.164.
    #[schema(example = "+14155550199")]
    pub phone_number: String,
    /// The telephony provider that carries it (`simulator` or `twilio`).
    pub provider: String,
    /// The provider's id for the number, when it has one.
    pub provider_id: Option<String>,
    /// The agent that answers inbound calls to this number.
    pub agent_id: Option<String>,
    pub label: Option<String>,
    pub status: NumberStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

resource!(PhoneNumber, NUMBER, PhoneNumberNotFound);
