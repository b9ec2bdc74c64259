//! A bridge between `lambda_runtime` and `cargo lambda watch`'s Runtime API emulator, for the
//! local stack only (`LOCAL_RUNTIME_API_BRIDGE=1`).
//!
//! The emulator answers a function's `POST .../response` before it has read the answer's body
//! and reads the body later; when `lambda_runtime` closes that connection meanwhile (it keeps
//! one idle connection and often polls for the next event on a new one), the body is cut short
//! and the caller gets the emulator's own 500 instead of the answer
//! (docs/local-stack-lost-answers.md). The bridge takes the runtime's requests whole and
//! carries them, one after another, over a single connection to the emulator that stays open:
//! the emulator finishes reading an answer before the next poll on the same connection.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

const ENABLED: &str = "LOCAL_RUNTIME_API_BRIDGE";
const RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Emulator {
    address: String,
    connection: Mutex<Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>>>,
}

/// Puts the bridge between the runtime and the emulator when the local stack asks for it.
/// Must run before anything else reads the environment (it rewrites `AWS_LAMBDA_RUNTIME_API`)
/// and inside the Tokio runtime.
pub(crate) fn install_if_asked() {
    if std::env::var(ENABLED).as_deref() != Ok("1") {
        return;
    }
    // One invocation at a time is what the single connection assumes.
    if std::env::var("AWS_LAMBDA_MAX_CONCURRENCY").is_ok_and(|n| n != "1") {
        tracing::warn!("{ENABLED} ignored: AWS_LAMBDA_MAX_CONCURRENCY is above 1");
        return;
    }
    let Ok(api) = std::env::var(RUNTIME_API) else { return };
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
        .and_then(TcpListener::from_std)
        .and_then(|listener| listener.local_addr().map(|local| (listener, local)));
    let (listener, local) = match listener {
        Ok(bound) => bound,
        Err(error) => {
            tracing::warn!(%error, "the runtime API bridge could not listen; answers may be lost");
            return;
        }
    };
    let (address, bridged) = emulator_address(&api, &local.to_string());
    // SAFETY: called first thing in `main`; no other thread reads the environment yet.
    unsafe { std::env::set_var(RUNTIME_API, bridged) };
    let emulator = Arc::new(Emulator {
        address,
        connection: Mutex::new(None),
    });
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let emulator = emulator.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| emulator.clone().forward(request));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

/// The emulator's `host:port` in `api` (`cargo lambda watch` gives
/// `http://127.0.0.1:9000/.rt/<function>`), and `api` with `local` in its place.
fn emulator_address(api: &str, local: &str) -> (String, String) {
    let (scheme, rest) = match api.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), api),
    };
    let (address, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    (address.to_owned(), format!("{scheme}{local}{path}"))
}

impl Emulator {
    async fn forward(self: Arc<Self>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, BoxError> {
        let (parts, body) = request.into_parts();
        let body = body.collect().await?.to_bytes();
        let mut connection = self.connection.lock().await;
        let answer = async {
            let sender = match connection.as_mut() {
                Some(sender) if !sender.is_closed() => sender,
                _ => {
                    let stream = TcpStream::connect(&self.address).await?;
                    let (sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
                    tokio::spawn(driver);
                    connection.insert(sender)
                }
            };
            sender.ready().await?;
            let (parts, body) = sender
                .send_request(Request::from_parts(parts, Full::new(body)))
                .await?
                .into_parts();
            Ok::<_, BoxError>(Response::from_parts(parts, Full::new(body.collect().await?.to_bytes())))
        }
        .await;
        if answer.is_err() {
            *connection = None;
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::emulator_address;

    #[test]
    fn the_bridge_takes_the_emulators_place_in_the_runtime_api_address() {
        assert_eq!(
            emulator_address("http://127.0.0.1:9000/.rt/agents", "127.0.0.1:41234"),
            (
                "127.0.0.1:9000".to_owned(),
                "http://127.0.0.1:41234/.rt/agents".to_owned()
            )
        );
        // As on AWS: no scheme, no path.
        assert_eq!(
            emulator_address("127.0.0.1:9001", "127.0.0.1:5"),
            ("127.0.0.1:9001".to_owned(), "127.0.0.1:5".to_owned())
        );
    }
}
