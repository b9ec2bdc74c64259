//! The weekly report mail's walk over every workspace, and its notes of what went out.

use async_trait::async_trait;
use chrono::NaiveDate;
use switchboard_core::StoreError;
use switchboard_core::ports::ReportLog;

use crate::keys::{self, entity};
use crate::{DynamoStore, get_s, item_of, n};

#[async_trait]
impl ReportLog for DynamoStore {
    async fn workspace_ids(&self) -> Result<Vec<String>, StoreError> {
        let items = self.query_all(keys::WORKSPACES, "").await?;
        Ok(items
            .iter()
            .filter_map(|item| get_s(item, "workspace_id").map(str::to_owned))
            .collect())
    }

    async fn report_sent(&self, workspace_id: &str, week_end: NaiveDate) -> Result<bool, StoreError> {
        Ok(self
            .get_item(&keys::report_sent(workspace_id, week_end))
            .await?
            .is_some())
    }

    async fn note_report_sent(
        &self,
        workspace_id: &str,
        week_end: NaiveDate,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut item = item_of(
            &keys::report_sent(workspace_id, week_end),
            entity::REPORT_SENT,
            &serde_json::json!({"workspace_id": workspace_id, "week_end": week_end}),
        )?;
        item.insert(keys::TTL.into(), n(expires_at));
        self.put(item).await
    }
}
