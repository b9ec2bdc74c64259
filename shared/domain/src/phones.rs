//! Phone numbers as users type them, read in their workspace's country.

use switchboard_core::Error;
use switchboard_core::model::Country;
use switchboard_core::ports::Workspaces;
use switchboard_core::validate;

/// The workspace's country: the region of numbers written without a country code.
pub async fn region(accounts: &dyn Workspaces, workspace_id: &str) -> Result<Option<Country>, Error> {
    Ok(accounts
        .get_workspace(workspace_id)
        .await?
        .and_then(|w| w.country)
        .and_then(|c| validate::country("country", &c).ok()))
}

/// `raw` as E.164: international numbers as given, national ones in the workspace's country.
pub async fn normalize(accounts: &dyn Workspaces, workspace_id: &str, param: &str, raw: &str) -> Result<String, Error> {
    let region = if raw.trim_start().starts_with('+') {
        None
    } else {
        region(accounts, workspace_id).await?
    };
    validate::phone(param, raw, region)
}
