//! The `reports` Lambda function.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::table_http_function(reports::service).await
}
