//! The webhook transport over HTTP(S), also the way workflow steps reach outside APIs:
//! requests go out with no redirects, a 10 s timeout and,
//! in production, through a resolver that only hands out public addresses, so that a name
//! re-pointed at a private address after its endpoint was saved still reaches nothing inside.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use switchboard_core::config::DeploymentMode;
use switchboard_core::ports::{OutboundHttp, OutboundRequest, OutboundResponse, Receipt, WebhookTransport};
use switchboard_domain::webhooks::guard::{self, is_public};
use url::Url;

/// How long a receiver may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a receiver's answer is kept.
const EXCERPT_CHARS: usize = 200;
/// The most of a refusing receiver's answer read to make that excerpt (four bytes a character
/// at the most).
const EXCERPT_BYTES: usize = EXCERPT_CHARS * 4;

pub struct HttpTransport {
    client: reqwest::Client,
    mode: DeploymentMode,
}

impl HttpTransport {
    pub fn new(mode: DeploymentMode) -> Self {
        let builder = switchboard_https::client(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Switchboard-Webhooks/", env!("CARGO_PKG_VERSION")));
        let builder = match mode {
            DeploymentMode::Production => builder.dns_resolver(Arc::new(PublicResolver)),
            DeploymentMode::Local => builder,
        };
        Self {
            client: builder.build().expect("an HTTP client builds"),
            mode,
        }
    }
}

#[async_trait]
impl WebhookTransport for HttpTransport {
    async fn check_destination(&self, url: &str) -> Result<String, String> {
        let url = guard::check_url(url, self.mode)?;
        check_resolution(&url, self.mode).await?;
        Ok(url.to_string())
    }

    async fn post(&self, url: &str, headers: &[(&'static str, String)], body: Vec<u8>) -> Result<Receipt, String> {
        // Checked again at delivery time: the URL was checked when saved, the rules may have
        // tightened since (a URL saved in local mode).
        let url = guard::check_url(url, self.mode)?;
        let mut request = self.client.post(url).body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut response = request.send().await.map_err(describe)?;
        let status = response.status().as_u16();
        let body_excerpt = if response.status().is_success() {
            String::new()
        } else {
            let head = read_at_most(&mut response, EXCERPT_BYTES).await.unwrap_or_default();
            String::from_utf8_lossy(&head).chars().take(EXCERPT_CHARS).collect()
        };
        Ok(Receipt { status, body_excerpt })
    }
}

/// The most of an outside API's answer a step keeps.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

#[async_trait]
impl OutboundHttp for HttpTransport {
    async fn check_destination(&self, url: &str) -> Result<String, String> {
        WebhookTransport::check_destination(self, url).await
    }

    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, String> {
        let url = guard::check_url(&request.url, self.mode)?;
        let method = reqwest::Method::from_bytes(request.method.as_str().as_bytes()).map_err(|e| e.to_string())?;
        let mut builder = self.client.request(method, url);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let mut response = builder.send().await.map_err(describe)?;
        let status = response.status().as_u16();
        let body = read_at_most(&mut response, MAX_ANSWER_BYTES).await.map_err(describe)?;
        Ok(OutboundResponse {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// The first `limit` bytes of an answer, read no further: a receiver sending without end holds
/// no more of our memory than that.
async fn read_at_most(response: &mut reqwest::Response, limit: usize) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() >= limit {
            body.truncate(limit);
            break;
        }
    }
    Ok(body)
}

/// A failed request in a few words, without internals.
fn describe(error: reqwest::Error) -> String {
    if error.is_timeout() {
        format!("the receiver did not answer within {} s", TIMEOUT.as_secs())
    } else if error.is_connect() {
        let cause = std::error::Error::source(&error)
            .map(|s| s.to_string())
            .unwrap_or_default();
        format!("could not connect: {cause}")
    } else {
        format!("the request failed: {error}")
    }
}

/// The addresses `host` resolves to, all public; an error naming the problem otherwise.
async fn public_addresses(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("{host} does not resolve: {e}"))?
        .collect();
    if addresses.is_empty() {
        return Err(format!("{host} does not resolve"));
    }
    if addresses.iter().any(|a| !is_public(a.ip())) {
        return Err(guard::refused());
    }
    Ok(addresses)
}

/// Checks where a URL resolves (production only): done when an endpoint is saved.
async fn check_resolution(url: &Url, mode: DeploymentMode) -> Result<(), String> {
    if mode == DeploymentMode::Local {
        return Ok(());
    }
    match url.host() {
        Some(url::Host::Domain(name)) => public_addresses(name, url.port_or_known_default().unwrap_or(443))
            .await
            .map(|_| ()),
        _ => Ok(()),
    }
}

/// A resolver that hands the HTTP client public addresses only.
struct PublicResolver;

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses = public_addresses(&host, 0).await?;
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused_in_production() {
        let url = Url::parse("https://localhost.:8443/in").unwrap();
        assert!(check_resolution(&url, DeploymentMode::Production).await.is_err());
        assert!(check_resolution(&url, DeploymentMode::Local).await.is_ok());
        assert!(public_addresses("localhost", 443).await.is_err());
    }

    /// A local receiver answering `status` with a body that never ends; its URL.
    async fn endless_receiver(status: &'static str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let _ = socket.read(&mut [0; 4096]).await;
            let head = format!("HTTP/1.1 {status}\r\ntransfer-encoding: chunked\r\n\r\n");
            socket.write_all(head.as_bytes()).await.unwrap();
            let chunk = format!("400\r\n{}\r\n", "x".repeat(0x400));
            // Until the client hangs up.
            while socket.write_all(chunk.as_bytes()).await.is_ok() {}
        });
        url
    }

    #[tokio::test]
    async fn a_refusing_receiver_is_read_only_as_far_as_the_excerpt() {
        let url = endless_receiver("500 Internal Server Error").await;
        let transport = HttpTransport::new(DeploymentMode::Local);
        let receipt = WebhookTransport::post(&transport, &url, &[], b"{}".to_vec())
            .await
            .unwrap();
        assert_eq!(receipt.status, 500);
        assert_eq!(receipt.body_excerpt, "x".repeat(EXCERPT_CHARS));
    }

    #[tokio::test]
    async fn an_outside_api_is_read_only_as_far_as_the_answer_kept() {
        let url = endless_receiver("200 OK").await;
        let transport = HttpTransport::new(DeploymentMode::Local);
        let request = OutboundRequest {
            method: switchboard_core::model::HttpMethod::Get,
            url,
            headers: Vec::new(),
            body: None,
        };
        let answer = OutboundHttp::send(&transport, request).await.unwrap();
        assert_eq!((answer.status, answer.body.len()), (200, MAX_ANSWER_BYTES));
    }
}
