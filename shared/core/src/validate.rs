//! Input rules shared by the endpoints: formats through the libraries made for them, lengths
//! and ranges with one error shape.

use std::str::FromStr;

use phonenumber::country;

use crate::error::{Error, ErrorCode};

/// Lower-cased, syntactically valid email address.
pub fn email(param: &str, raw: &str) -> Result<String, Error> {
    let trimmed = raw.trim();
    if trimmed.len() > 254 || !email_address::EmailAddress::is_valid(trimmed) || !trimmed.contains('.') {
        return Err(Error::invalid(
            ErrorCode::InvalidEmail,
            param,
            "Must be a valid email address.",
        ));
    }
    Ok(trimmed.to_lowercase())
}

/// A phone number in E.164. Numbers without a country code are read in `default_region`.
pub fn phone(param: &str, raw: &str, default_region: Option<country::Id>) -> Result<String, Error> {
    let invalid = || {
        Error::invalid(
            ErrorCode::InvalidPhoneNumber,
            param,
            "Must be a valid phone number in E.164 (e.g. +14155550100), or national format for the workspace's country.",
        )
    };
    if raw.len() > 64 {
        return Err(invalid());
    }
    let number = phonenumber::parse(default_region, raw).map_err(|_| invalid())?;
    if !phonenumber::is_valid(&number) {
        return Err(invalid());
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// Keys a `metadata` map may hold.
pub const MAX_METADATA_KEYS: usize = 20;

/// A `metadata` map: the client's own labels, kept as given and never read by us.
pub fn metadata(metadata: &std::collections::BTreeMap<String, String>) -> Result<(), Error> {
    if metadata.len() > MAX_METADATA_KEYS {
        return Err(Error::validation(
            "metadata",
            format!("At most {MAX_METADATA_KEYS} metadata keys."),
        ));
    }
    for (key, value) in metadata {
        if key.is_empty() || key.chars().count() > 40 || value.chars().count() > 500 {
            return Err(Error::validation(
                format!("metadata.{key}"),
                "Metadata keys are 1 to 40 characters and values at most 500.",
            ));
        }
    }
    Ok(())
}

/// Where a call to a number goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// ISO 3166-1 alpha-2, when the number belongs to one country.
    pub country: Option<String>,
    /// The kind of special-service number it is (`premium_rate`, `shared_cost`, ...), if it is one.
    pub special_service: Option<&'static str>,
}

/// Where a call to `e164` goes, from the numbering plan of its country.
pub fn destination(e164: &str) -> Destination {
    use phonenumber::Type;
    let Ok(number) = phonenumber::parse(None, e164) else {
        return Destination {
            country: None,
            special_service: None,
        };
    };
    // Kinds whose calls are billed above a normal call, or go to services rather than people.
    let special_service = match number.number_type(&phonenumber::metadata::DATABASE) {
        Type::PremiumRate => Some("premium_rate"),
        Type::SharedCost => Some("shared_cost"),
        Type::PersonalNumber => Some("personal_number"),
        Type::Uan => Some("universal_access"),
        Type::Pager => Some("pager"),
        Type::Emergency => Some("emergency"),
        Type::Voicemail => Some("voicemail"),
        Type::ShortCode => Some("short_code"),
        Type::Carrier => Some("carrier"),
        _ => None,
    };
    Destination {
        country: number.country().id().map(|id| id.as_ref().to_owned()),
        special_service,
    }
}

/// The example fixed-line number of `country` (ISO 3166-1 alpha-2) in E.164, from its
/// numbering plan.
pub fn example_number(country: &str) -> Option<String> {
    let metadata = phonenumber::metadata::DATABASE.by_id(country)?;
    let national = metadata.descriptors().fixed_line()?.example()?;
    Some(format!("+{}{national}", metadata.country_code()))
}

/// An IANA time zone name.
pub fn timezone(param: &str, raw: &str) -> Result<chrono_tz::Tz, Error> {
    chrono_tz::Tz::from_str(raw).map_err(|_| {
        Error::invalid(
            ErrorCode::InvalidValue,
            param,
            "Must be an IANA time zone such as America/New_York.",
        )
    })
}

/// A well-formed BCP 47 language tag, returned as given.
pub fn language(param: &str, raw: &str) -> Result<String, Error> {
    oxilangtag::LanguageTag::parse(raw)
        .map(|tag| tag.into_inner().to_string())
        .map_err(|_| {
            Error::invalid(
                ErrorCode::InvalidValue,
                param,
                "Must be a BCP 47 language tag such as en-US.",
            )
        })
}

/// An ISO 3166-1 alpha-2 country code (upper case).
pub fn country(param: &str, raw: &str) -> Result<country::Id, Error> {
    let upper = raw.trim().to_ascii_uppercase();
    if upper.len() != 2 {
        return Err(Error::invalid(
            ErrorCode::InvalidValue,
            param,
            "Must be an ISO 3166-1 alpha-2 country code such as US.",
        ));
    }
    country::Id::from_str(&upper).map_err(|_| {
        Error::invalid(
            ErrorCode::InvalidValue,
            param,
            "Must be an ISO 3166-1 alpha-2 country code such as US.",
        )
    })
}

/// Text of `min..=max` characters after trimming; returns the trimmed text.
pub fn text(param: &str, raw: &str, min: usize, max: usize) -> Result<String, Error> {
    let trimmed = raw.trim();
    let chars = trimmed.chars().count();
    if chars < min {
        return Err(if min == 1 {
            Error::validation(param, format!("`{param}` must not be empty."))
        } else {
            Error::validation(param, format!("`{param}` must be at least {min} characters."))
        });
    }
    if chars > max {
        return Err(Error::validation(
            param,
            format!("`{param}` must be at most {max} characters."),
        ));
    }
    Ok(trimmed.to_owned())
}

/// A time bound of a list filter: an ISO 8601 time, or a date (its start, or with `end_of_day`
/// its last second).
pub fn time_bound(param: &str, raw: &str, end_of_day: bool) -> Result<chrono::DateTime<chrono::Utc>, Error> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(at.with_timezone(&chrono::Utc));
    }
    let date = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
        Error::invalid(
            ErrorCode::InvalidParameter,
            param,
            format!("`{param}` must be a date (2026-05-07) or an ISO 8601 time."),
        )
    })?;
    let time = if end_of_day {
        chrono::NaiveTime::from_hms_opt(23, 59, 59)
    } else {
        chrono::NaiveTime::from_hms_opt(0, 0, 0)
    };
    Ok(date.and_time(time.expect("valid time")).and_utc())
}

/// An ISO 4217 currency code, upper-cased.
pub fn currency(param: &str, raw: &str) -> Result<String, Error> {
    let code = raw.trim().to_ascii_uppercase();
    if code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err(Error::invalid(
            ErrorCode::InvalidValue,
            param,
            "Must be a three-letter ISO 4217 currency code such as USD.",
        ))
    }
}

/// A number within `min..=max`.
pub fn range<T: PartialOrd + std::fmt::Display + Copy>(param: &str, value: T, min: T, max: T) -> Result<T, Error> {
    if value < min || value > max {
        return Err(Error::validation(
            param,
            format!("`{param}` must be between {min} and {max}."),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// No text makes a validator panic; a phone number it accepts it accepts again as is.
        #[test]
        fn no_input_makes_a_validator_panic(raw in "\\PC{0,40}", digits in "[+0-9 ()-]{0,24}") {
            for text in [raw.as_str(), digits.as_str()] {
                if let Ok(e164) = phone("phone", text, Some(country::Id::US)) {
                    proptest::prop_assert_eq!(phone("phone", &e164, None).ok(), Some(e164.clone()));
                    let _ = destination(&e164);
                }
                let _ = email("email", text);
                let _ = timezone("timezone", text);
                let _ = language("language", text);
                let _ = country("country", text);
                let _ = currency("currency", text);
                let _ = text_check(text);
                let _ = time_bound("from", text, true);
                let _ = example_number(text);
            }
        }
    }

    fn text_check(raw: &str) -> Result<String, Error> {
        text("name", raw, 1, 10)
    }

    #[test]
    fn destinations_name_their_country_and_special_services() {
        let of = |e164| {
            let d = destination(e164);
            (d.country, d.special_service)
        };
        assert_eq!(of("+14155550100"), (Some("US".into()), None));
        assert_eq!(
            of("+18002345678"),
            (Some("US".into()), None),
            "toll-free numbers may be called"
        );
        assert_eq!(of("+442071838750"), (Some("GB".into()), None));
        assert_eq!(of("+870301234567"), (None, None), "satellite phones: no country");
        assert_eq!(of("+19002345678"), (Some("US".into()), Some("premium_rate")));
        assert_eq!(of("+449012345678"), (Some("GB".into()), Some("premium_rate")));
        assert_eq!(of("+33884012345"), (Some("FR".into()), Some("shared_cost")));
        assert_eq!(of("+448431234567"), (Some("GB".into()), Some("premium_rate")));
        assert_eq!(of("+15002345678"), (Some("US".into()), Some("personal_number")));
        assert_eq!(of("+447012345678"), (Some("GB".into()), Some("personal_number")));
        assert_eq!(of("not a number"), (None, None));
    }

    #[test]
    fn phones_are_normalised_to_e164() {
        assert_eq!(phone("p", "+1 (415) 555-0100", None).unwrap(), "+14155550100");
        assert_eq!(
            phone("p", "020 7946 0958", Some(country::Id::GB)).unwrap(),
            "+442079460958"
        );
        assert_eq!(
            phone("p", "98765 43210", Some(country::Id::IN)).unwrap(),
            "+919876543210"
        );
        assert_eq!(
            phone("p", "4155550100", None).unwrap_err().code(),
            ErrorCode::InvalidPhoneNumber
        );
        assert_eq!(
            phone("p", "+1 555", None).unwrap_err().code(),
            ErrorCode::InvalidPhoneNumber
        );
        assert_eq!(
            phone("p", "hello", Some(country::Id::US)).unwrap_err().param(),
            Some("p")
        );
    }

    #[test]
    fn formats_come_from_their_libraries() {
        assert_eq!(email("e", " Ada@Example.COM ").unwrap(), "ada@example.com");
        assert!(email("e", "not-an-email").is_err());
        assert!(timezone("tz", "Asia/Kolkata").is_ok());
        assert!(timezone("tz", "Mars/Base").is_err());
        assert_eq!(language("l", "en-US").unwrap(), "en-US");
        assert!(language("l", "english!").is_err());
        assert_eq!(country("c", "in").unwrap(), country::Id::IN);
        assert!(country("c", "XX").is_err());
    }

    #[test]
    fn text_limits_count_characters_not_bytes() {
        assert_eq!(text("n", "  é  ", 1, 1).unwrap(), "é");
        assert_eq!(text("n", "   ", 1, 10).unwrap_err().code(), ErrorCode::ValidationFailed);
        assert!(text("n", "abcdef", 1, 5).is_err());
    }
}
