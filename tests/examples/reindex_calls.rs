//! Puts the calls a deployment made with no contact, before such calls were put on their
//! number's timeline, on it: once, after upgrading, so that data-subject requests by number
//! find them. Reads `TABLE_NAME`, `AWS_REGION` and the AWS credentials from the environment.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let table = std::env::var("TABLE_NAME").map_err(|_| anyhow::anyhow!("set TABLE_NAME to the deployment's table"))?;
    let sdk = switchboard_runtime::sdk_config().await;
    let written = switchboard_runtime::store(&sdk, &table).reindex_calls().await?;
    println!("{written} calls put on their number's timeline");
    Ok(())
}
