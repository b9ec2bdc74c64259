//! The `object` field every resource carries (`"agent"`, `"list"`...): one string per type,
//! serialised, checked on read and documented as a constant in the OpenAPI document.

/// Declares a zero-sized type that is always the JSON string `$name`.
#[macro_export]
macro_rules! object_name {
    ($ty:ident, $name:literal) => {
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $ty;

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($name)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                if s == $name {
                    Ok($ty)
                } else {
                    Err(serde::de::Error::invalid_value(
                        serde::de::Unexpected::Str(&s),
                        &$name,
                    ))
                }
            }
        }

        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$name]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $ty {}
    };
}

object_name!(ListObject, "list");
