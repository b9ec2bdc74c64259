//! A request body: parsing it into a typed input never panics; refusals are clear 4xx errors.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Input {
    name: String,
    count: Option<u32>,
    amount_minor: Option<i64>,
    tags: Option<Vec<String>>,
    metadata: Option<BTreeMap<String, String>>,
}

fuzz_target!(|body: &[u8]| {
    if let Err(e) = switchboard_http::parse_json::<Input>(body) {
        assert!(e.status().is_client_error());
    }
});
