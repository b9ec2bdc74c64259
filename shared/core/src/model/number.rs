//! Phone numbers the workspace calls from and answers on.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::object_name;

object_name!(PhoneNumberObject, "phone_number");
object_name!(AvailableNumberObject, "available_phone_number");

/// What a provisioned number costs a month, charged when it is bought and every month after.
pub const NUMBER_MONTHLY_FEE_MINOR: i64 = 150;
/// How long a number whose monthly fee cannot be paid is kept before it is released.
pub const PAST_DUE_DAYS: i64 = 7;

/// How the workspace came to hold a number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NumberSource {
    /// Held by the workspace at the provider already, and pointed here.
    #[default]
    Imported,
    /// Bought through `POST /v1/numbers/provision`; it has a monthly fee.
    Provisioned,
}

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
    #[serde(default)]
    pub source: NumberSource,
    /// What it costs a month (nothing for imported numbers).
    #[serde(default)]
    pub monthly_fee_minor: i64,
    /// When its monthly fee is next charged (or, past due, tried again).
    #[serde(default)]
    pub renews_at: Option<DateTime<Utc>>,
    /// Since when its monthly fee could not be paid; it is released after seven days of that.
    #[serde(default)]
    pub past_due_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PhoneNumber {
    /// The number released at `at`: unanswered, and no longer renewed.
    pub fn released(self, at: DateTime<Utc>) -> PhoneNumber {
        PhoneNumber {
            status: NumberStatus::Released,
            agent_id: None,
            renews_at: None,
            past_due_since: None,
            updated_at: crate::clock::api_time(at),
            ..self
        }
    }
}

/// A number the provider offers, as `POST /v1/numbers/search` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AvailableNumber {
    pub object: AvailableNumberObject,
    #[schema(example = "+14155550123")]
    pub phone_number: String,
    #[schema(example = "US")]
    pub country: String,
    pub locality: Option<String>,
    pub region: Option<String>,
    pub monthly_fee_minor: i64,
    #[schema(example = "USD")]
    pub currency: String,
}

resource!(PhoneNumber, NUMBER, PhoneNumberNotFound);
