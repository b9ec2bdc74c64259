//! Contacts: the people agents call, one per phone number in a workspace.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::object_name;

object_name!(ContactObject, "contact");

pub const MAX_ATTRIBUTES: usize = 50;

/// The kind of the guard that makes a phone number unique among a workspace's contacts.
pub const CONTACT_PHONE: &str = "CONTACT_PHONE";

/// The GSI1 partition of contacts with this (lower-case) email.
pub fn email_partition(email: &str) -> String {
    format!("EMAIL#{email}")
}

/// A custom attribute value: a string, number or boolean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttributeValue {
    Bool(bool),
    Number(serde_json::Number),
    String(String),
}

impl utoipa::PartialSchema for AttributeValue {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String).max_length(Some(500)))
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .item(ObjectBuilder::new().schema_type(Type::Boolean))
            .into()
    }
}

impl ToSchema for AttributeValue {}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Contact {
    #[schema(example = "con_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: ContactObject,
    /// E.164, unique in the workspace.
    #[schema(example = "+14155550100")]
    pub phone: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// IANA time zone; the dialer calls in this zone's daytime.
    pub timezone: Option<String>,
    pub attributes: BTreeMap<String, AttributeValue>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl crate::ports::Resource for Contact {
    const COLLECTION: &'static str = "CONTACT";
    const ID_PREFIX: &'static str = crate::ids::prefix::CONTACT;
    const NOT_FOUND: crate::ErrorCode = crate::ErrorCode::ContactNotFound;

    fn id(&self) -> &str {
        &self.id
    }

    fn unique_values(&self) -> Vec<crate::ports::UniqueValue> {
        vec![crate::ports::UniqueValue {
            kind: CONTACT_PHONE,
            value: self.phone.clone(),
            conflict: crate::ErrorCode::PhoneNumberTaken,
            global: false,
        }]
    }

    fn index_entries(&self) -> Vec<crate::ports::IndexEntry> {
        self.email
            .iter()
            .map(|email| crate::ports::IndexEntry {
                index: crate::ports::Index::Gsi1,
                partition: email_partition(email),
                sort: self.id.clone(),
            })
            .collect()
    }
}
