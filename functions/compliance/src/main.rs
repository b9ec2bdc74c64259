//! The `compliance` Lambda function.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    switchboard_runtime::table_http_function(compliance::service).await
}
