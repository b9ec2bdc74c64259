//! The outbound HTTPS client every provider adapter starts from.

use std::time::Duration;

/// A reqwest client builder with `timeout` on every request. reqwest is built without a
/// crypto provider of its own and takes the process's: ring, the one the AWS SDK's client
/// uses, so the binary links a single TLS stack.
pub fn client(timeout: Duration) -> reqwest::ClientBuilder {
    // Installing twice is harmless: the first provider installed stays.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(timeout)
}
