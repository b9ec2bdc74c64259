//! The `compliance` Lambda function.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let read = |env: &mut switchboard_core::config::Env| env.required("RECORDINGS_BUCKET");
    switchboard_runtime::http_function(read, async |parts, bucket: String| {
        let recordings = switchboard_runtime::recordings(&parts.sdk, &bucket);
        Ok(compliance::service(parts.platform, &parts.store, recordings))
    })
    .await
}
