//! An uploaded CSV file, bare or inside a multipart form: reading it never panics and never
//! yields more rows than allowed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_http::upload::{file_of, rows};

fuzz_target!(|data: &[u8]| {
    if let Ok(read) = rows(data, 50) {
        assert!(read.len() <= 50);
    }
    let form = futures::executor::block_on(file_of("multipart/form-data; boundary=fuzz", data.to_vec().into()));
    if let Ok(file) = form {
        let _ = rows(&file, 50);
    }
});
