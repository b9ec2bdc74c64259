//! A pagination cursor from a client: decoding never panics, and only what we encoded decodes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_http::CursorKey;

fuzz_target!(|cursor: &str| {
    let key = CursorKey::derive(b"fuzzing key of thirty-two bytes!");
    let _ = key.decode(cursor, "agents");
});
