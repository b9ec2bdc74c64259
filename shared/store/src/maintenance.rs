//! Work done once on a whole table after upgrading, offline: the only Scans of the table, never
//! on a request path.

use switchboard_core::StoreError;
use switchboard_core::model::Call;
use switchboard_core::ports::Repository;

use super::keys;
use super::layout::{Index, Layout};
use super::{DynamoStore, get_s, s, sdk_error};

impl DynamoStore {
    /// Writes again each call that its layout puts on a timeline but that is on none: calls
    /// made with no contact before such calls were put on their number's timeline, which a
    /// data-subject request by number would otherwise not find. How many it wrote; run again,
    /// it writes none.
    pub async fn reindex_calls(&self) -> Result<u32, StoreError> {
        let suffix = format!("#{}", Call::COLLECTION);
        let mut written = 0;
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("#entity = :call AND attribute_not_exists(#timeline)")
                .expression_attribute_names("#entity", keys::ENTITY)
                .expression_attribute_names("#timeline", keys::GSI3PK)
                .expression_attribute_values(":call", s(Call::COLLECTION.to_ascii_lowercase()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            for item in page.items.unwrap_or_default() {
                let (Some(ws), Some(id)) = (
                    get_s(&item, keys::PK).and_then(|pk| pk.strip_suffix(&suffix)),
                    get_s(&item, keys::SK),
                ) else {
                    continue;
                };
                let Some(current) = Repository::<Call>::get(self, ws, id).await? else {
                    continue;
                };
                let on_a_timeline = current
                    .value
                    .index_entries()
                    .iter()
                    .any(|entry| matches!(entry.index, Index::Timeline));
                if on_a_timeline {
                    Repository::<Call>::update(self, ws, &current, &current.value, &[]).await?;
                    written += 1;
                }
            }
            match page.last_evaluated_key {
                Some(last) if !last.is_empty() => start = Some(last),
                _ => return Ok(written),
            }
        }
    }
}
