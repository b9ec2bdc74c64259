//! The AWS SDK's HTTP client, over reqwest. The SDK's own client is another hyper client with
//! HTTP/2 compiled in (which no AWS endpoint we call needs, and which then rides along in every
//! hyper client of the binary); sending through reqwest leaves one HTTP/1.1 stack per binary.

use std::error::Error as StdError;
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::retries::ErrorKind;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::body::SdkBody;

/// The client to give `SdkConfig::builder().http_client(..)`.
pub fn http_client() -> SharedHttpClient {
    SharedHttpClient::new(Client)
}

/// The SDK asks for a connector for every attempt it sends, with the attempt's timeouts: each
/// is over the runtime's AWS client for those timeouts (`crate::aws_client`, which keeps it),
/// the one the signed requests use.
#[derive(Debug)]
struct Client;

impl HttpClient for Client {
    fn http_connector(&self, settings: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector::new(settings.connect_timeout(), settings.read_timeout()))
    }
}

#[derive(Debug)]
enum Connector {
    Ready(reqwest::Client),
    /// reqwest could not build a client (its TLS configuration); every request fails with why.
    Broken(String),
}

impl Connector {
    fn new(connect_timeout: Option<Duration>, read_timeout: Option<Duration>) -> Self {
        match crate::aws_client(connect_timeout, read_timeout) {
            Ok(client) => Self::Ready(client),
            Err(why) => Self::Broken(why),
        }
    }
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = match self {
            Self::Ready(client) => client.clone(),
            Self::Broken(why) => {
                return HttpConnectorFuture::ready(Err(ConnectorError::other(why.clone().into(), None)));
            }
        };
        let request = match to_reqwest(request) {
            Ok(request) => request,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e))),
        };
        HttpConnectorFuture::new(async move {
            let response = client.execute(request).await.map_err(connector_error)?;
            let response = http::Response::from(response).map(SdkBody::from_body_1_x);
            Response::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

fn to_reqwest(request: HttpRequest) -> Result<reqwest::Request, Box<dyn StdError + Send + Sync>> {
    // The body's exact size, when it has one, is the request's length.
    let request = request.try_into_http1x()?.map(reqwest::Body::wrap);
    Ok(reqwest::Request::try_from(request)?)
}

/// Which failures the SDK may retry: timeouts and failures of the connection are transient;
/// anything else is reported as it is.
fn connector_error(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        return ConnectorError::timeout(e.into());
    }
    if e.is_connect() {
        return ConnectorError::io(e.into());
    }
    let mut source = e.source();
    while let Some(cause) = source {
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>() {
            // A pooled connection the server closed as the request went out: send it again.
            if hyper.is_incomplete_message() || hyper.is_closed() || hyper.is_canceled() {
                return ConnectorError::other(e.into(), Some(ErrorKind::TransientError));
            }
        }
        if cause.is::<std::io::Error>() {
            return ConnectorError::io(e.into());
        }
        source = cause.source();
    }
    ConnectorError::other(e.into(), None)
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    fn connector() -> Connector {
        Connector::new(Some(Duration::from_secs(2)), None)
    }

    fn post(url: String, body: &'static str) -> HttpRequest {
        let request = http::Request::post(url).header("content-type", "application/x-amz-json-1.0");
        HttpRequest::try_from(request.body(SdkBody::from(body)).unwrap()).unwrap()
    }

    /// A server that answers one connection with `answer` and hands back what it was sent.
    async fn answering(answer: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let served = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut received = Vec::new();
            let mut buffer = [0; 4096];
            // Headers and the 7-byte body of `post(.., "{\"a\":1}")`.
            while !received.windows(11).any(|w| w == b"\r\n\r\n{\"a\":1}") {
                let read = socket.read(&mut buffer).await.unwrap();
                assert!(read > 0, "the client closed before sending its body");
                received.extend_from_slice(&buffer[..read]);
            }
            socket.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8(received).unwrap()
        });
        (url, served)
    }

    #[tokio::test]
    async fn a_request_goes_out_whole_and_its_answer_comes_back_unchanged() {
        let (url, served) =
            answering("HTTP/1.1 400 Bad Request\r\ncontent-length: 11\r\nx-amz-crc32: 1\r\n\r\n{\"e\":\"no\"}\n").await;
        let response = connector().call(post(url, "{\"a\":1}")).await.unwrap();
        assert_eq!(response.status().as_u16(), 400);
        assert_eq!(response.headers().get("x-amz-crc32"), Some("1"));
        assert_eq!(response.body().bytes(), None, "a streamed body, read by the SDK");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "{\"e\":\"no\"}\n");
        let sent = served.await.unwrap().to_ascii_lowercase();
        assert!(sent.starts_with("post / http/1.1\r\n"), "{sent}");
        assert!(sent.contains("content-length: 7\r\n"), "{sent}");
        assert!(sent.contains("content-type: application/x-amz-json-1.0\r\n"), "{sent}");
        assert!(!sent.contains("accept-encoding"), "{sent}");
    }

    #[tokio::test]
    async fn redirects_are_the_sdks_to_answer() {
        let (url, served) =
            answering("HTTP/1.1 301 Moved Permanently\r\nlocation: http://127.0.0.1:9/\r\ncontent-length: 0\r\n\r\n")
                .await;
        let response = connector().call(post(url, "{\"a\":1}")).await.unwrap();
        assert_eq!(response.status().as_u16(), 301);
        served.await.unwrap();
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_io_error_the_sdk_retries() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        drop(listener);
        let error = connector().call(post(url, "{\"a\":1}")).await.unwrap_err();
        assert!(error.is_io(), "{error:?}");
    }

    #[tokio::test]
    async fn a_connection_closed_without_an_answer_is_transient() {
        let (url, served) = answering("").await;
        let error = connector().call(post(url, "{\"a\":1}")).await.unwrap_err();
        served.await.unwrap();
        assert!(
            error.is_io() || error.as_other() == Some(ErrorKind::TransientError),
            "{error:?}"
        );
    }
}
