//! Signature headers from whoever calls our webhooks: checking them never panics, and a
//! forged one never verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_domain::webhooks::signature::verify_timed;
use switchboard_telephony::twilio;

fuzz_target!(|input: (&str, &[u8], &str)| {
    let (header, body, url) = input;
    assert!(!verify_timed(header, body, "whsec_fuzz", 1_700_000_000, 300));
    let params = vec![("CallSid".to_owned(), String::from_utf8_lossy(body).into_owned())];
    assert!(!twilio::verify("token", url, &params, Some(header)));
});
