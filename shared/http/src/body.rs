//! JSON request bodies: one parser that answers every malformed body the same way.
//!
//! Request types use `#[serde(deny_unknown_fields)]` (which also puts
//! `additionalProperties: false` in the OpenAPI document); serde's errors, located by
//! `serde_path_to_error`, become `unknown_field`, `missing_field` or `invalid_type` with the
//! path of the offending parameter.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use switchboard_core::ErrorCode;

use crate::ApiError;

pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("The body is not valid JSON: {e}.")))?;
    if !value.is_object() {
        return Err(ApiError::new(ErrorCode::InvalidJson, "The body must be a JSON object."));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let within = |field: &str| {
            if path == "." {
                field.to_owned()
            } else {
                format!("{path}.{field}")
            }
        };
        if let Some(field) = quoted_after(&message, "unknown field `") {
            // The path already ends at the unknown field.
            ApiError::param(
                ErrorCode::UnknownField,
                path.clone(),
                format!("Unknown field `{field}`."),
            )
        } else if let Some(field) = quoted_after(&message, "missing field `") {
            let param = within(field);
            ApiError::param(
                ErrorCode::MissingField,
                param.clone(),
                format!("`{param}` is required."),
            )
        } else {
            ApiError::param(
                ErrorCode::InvalidType,
                path.clone(),
                format!("Invalid `{path}`: {message}."),
            )
        }
    })
}

/// The text between `prefix` and the next backtick.
fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('`').next()
}

/// For optional fields that may be omitted but not set to `null`:
/// `#[serde(default, deserialize_with = "not_null")] name: Option<String>`.
pub fn not_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Sets `field` to the value a PATCH body gave it, if it gave one.
pub fn set<T: Clone>(field: &mut T, given: &Option<T>) {
    if let Some(value) = given {
        field.clone_from(value);
    }
}

/// A PATCH field that may be absent (unchanged), `null` (cleared) or a value.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            None => Patch::Null,
            Some(v) => Patch::Value(v),
        })
    }
}

impl<T> Patch<T> {
    /// Applies the patch to an optional field.
    pub fn apply(self, field: &mut Option<T>) {
        match self {
            Patch::Absent => {}
            Patch::Null => *field = None,
            Patch::Value(v) => *field = Some(v),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Value(v) => Patch::Value(f(v)),
        }
    }
}

impl<T, E> Patch<Result<T, E>> {
    /// `Patch<Result<T, E>>` → `Result<Patch<T>, E>`.
    pub fn transpose_patch(self) -> Result<Patch<T>, E> {
        Ok(match self {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Value(v) => Patch::Value(v?),
        })
    }
}
