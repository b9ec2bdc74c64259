//! The `contacts` Lambda function.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::http_function(
        |_| (),
        async |parts, ()| Ok(contacts::service(parts.platform, &parts.store)),
    )
    .await
}
