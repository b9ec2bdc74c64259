//! JSON log lines, one object per event, carrying the request span's fields (request id,
//! route, workspace id).

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber. `RUST_LOG` filters (default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .without_time()
        .try_init();
}
