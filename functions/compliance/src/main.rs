//! The `compliance` Lambda function.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let read = |env: &mut switchboard_core::config::Env| env.required("FILES_BUCKET");
    switchboard_runtime::http_function(read, async |parts, bucket: String| {
        let files = switchboard_runtime::files(&parts.sdk, &bucket);
        Ok(compliance::service(parts.platform, &parts.store, files.clone(), files))
    })
    .await
}
