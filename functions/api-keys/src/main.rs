//! The `api-keys` Lambda function.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::http_function(
        |_| (),
        async |parts, ()| Ok(api_keys::service(parts.platform, &parts.store)),
    )
    .await
}
