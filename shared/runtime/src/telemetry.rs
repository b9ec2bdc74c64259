//! JSON log lines, one object per event, carrying the request span's fields (request id,
//! route, workspace id).

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The JSON subscriber every function uses, writing to `writer`.
pub fn json_subscriber<W>(filter: EnvFilter, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        // Lambda stamps every line with its time already.
        .without_time()
        .with_writer(writer)
        .finish()
}

/// Installs the JSON subscriber on stdout. `RUST_LOG` filters (default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing::subscriber::set_global_default(json_subscriber(filter, std::io::stdout));
}

#[cfg(all(test, feature = "http"))]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use http::{Method, StatusCode};
    use lambda_http::Body;
    use switchboard_core::clock::Clock;
    use switchboard_http::{Access, ApiError, Reply, Request, Route, Service};
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Capture {
            self.clone()
        }
    }

    async fn fails(_: Arc<()>, _: Request) -> Result<Reply, ApiError> {
        Err(ApiError::internal(anyhow::anyhow!("disk on fire")))
    }

    #[tokio::test]
    async fn log_lines_are_json_carrying_the_answers_request_id() {
        // A public route reads nothing: the table is never called.
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version_latest()
                .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
                .build(),
        );
        let store = switchboard_store::DynamoStore::new(dynamodb, "unused");
        let platform = crate::platform(&store, &[7u8; 32], Clock::System, 1);
        let routes = vec![Route::new(Method::GET, "/v1/boom", fails).access(Access::Public)];
        let service = Service::new(platform, (), routes);
        let logs = Capture::default();
        let _guard = tracing::subscriber::set_default(json_subscriber(EnvFilter::new("info"), logs.clone()));

        let response = service
            .handle(http::Request::get("/v1/boom").body(Body::Empty).unwrap())
            .await;

        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
        let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("every line is JSON"))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        for line in &lines {
            assert_eq!(line["span"]["request_id"], id.as_str(), "{line}");
            assert_eq!(line["span"]["route"], "/v1/boom");
        }
        assert_eq!(lines[0]["level"], "ERROR");
        assert!(
            lines[0]["cause"].as_str().unwrap().contains("disk on fire"),
            "the cause is logged"
        );
        assert_eq!(lines[1]["status"], 500);
        let body = match response.body() {
            Body::Text(t) => t.clone(),
            _ => String::new(),
        };
        assert!(!body.contains("disk on fire"), "and never answered");
    }
}
