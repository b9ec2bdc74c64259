//! A phone number from a client: validating it never panics, and what it accepts it accepts
//! again unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::validate;

fuzz_target!(|text: &str| {
    if let Ok(e164) = validate::phone("phone", text, Some(phonenumber::country::Id::US)) {
        assert_eq!(
            validate::phone("phone", &e164, None).ok().as_deref(),
            Some(e164.as_str())
        );
        let _ = validate::destination(&e164);
    }
});
