//! The outbound HTTPS client: every provider adapter starts from it, the AWS SDK's clients send
//! through it (`sdk`), and so do the AWS APIs a function calls without the SDK (`aws`).

use std::time::Duration;

pub mod aws;
pub mod sdk;

/// A reqwest client builder. reqwest is built without a crypto provider of its own and takes
/// the process's: ring, so the binary links a single TLS stack.
pub fn builder() -> reqwest::ClientBuilder {
    // Installing twice is harmless: the first provider installed stays.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// A reqwest client builder with `timeout` on every request.
pub fn client(timeout: Duration) -> reqwest::ClientBuilder {
    builder().timeout(timeout)
}
