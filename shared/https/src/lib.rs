//! The outbound HTTPS client: every provider adapter starts from it, the AWS SDK's clients send
//! through it (`sdk`), and so do the AWS APIs a function calls without the SDK (`aws`).

use std::sync::{Mutex, PoisonError};
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

/// Connect and read timeouts.
type Timeouts = (Option<Duration>, Option<Duration>);

/// How long connecting to an AWS endpoint may take: the SDK's clients are configured with it,
/// and the signed requests of [`aws`] use it, so that both go through one client.
pub const AWS_CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// The client AWS requests go through, one for each runtime and pair of connect and read
/// timeouts: the SDK's clients and [`aws::AwsApi`] share it, so a function builds one TLS
/// configuration and keeps one pool of connections for AWS. A pooled connection lives on the
/// runtime that opened it, hence one client per runtime (a Lambda function has one; the tests
/// start one per test). Redirects are not followed and bodies are not decompressed: the SDK
/// answers S3's wrong-region redirects itself and checks checksums against the bytes AWS sent.
fn aws_client(connect_timeout: Option<Duration>, read_timeout: Option<Duration>) -> Result<reqwest::Client, String> {
    /// Clients kept at most: past it, the ones kept are let go (whoever holds one keeps it).
    const KEPT: usize = 16;
    type Key = (Option<tokio::runtime::Id>, Timeouts);
    static CLIENTS: Mutex<Vec<(Key, reqwest::Client)>> = Mutex::new(Vec::new());
    let runtime = tokio::runtime::Handle::try_current().ok().map(|handle| handle.id());
    let key = (runtime, (connect_timeout, read_timeout));
    let mut clients = CLIENTS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, client)) = clients.iter().find(|(kept, _)| *kept == key) {
        return Ok(client.clone());
    }
    let mut builder = builder().redirect(reqwest::redirect::Policy::none()).no_gzip();
    if let Some(timeout) = connect_timeout {
        builder = builder.connect_timeout(timeout);
    }
    if let Some(timeout) = read_timeout {
        builder = builder.read_timeout(timeout);
    }
    let client = builder.build().map_err(|e| format!("building the HTTP client: {e}"))?;
    if clients.len() >= KEPT {
        clients.clear();
    }
    clients.push((key, client.clone()));
    Ok(client)
}
