//! Workspace secrets: named, write-only values that automation steps refer to by name.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::object_name;

object_name!(SecretObject, "secret");

/// Secrets a workspace may hold.
pub const MAX_SECRETS: u32 = 100;
/// The longest value, in bytes.
pub const MAX_SECRET_BYTES: usize = 4096;

/// A secret as the API shows it: never its value.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Secret {
    #[schema(example = "sec_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: SecretObject,
    /// What steps refer to it by: a letter, then letters, digits and `_` (at most 64).
    #[schema(example = "CRM_API_KEY")]
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// When its value was last set.
    pub updated_at: DateTime<Utc>,
    /// When an automation step last read it.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A secret as stored: its value sealed under its workspace's own key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredSecret {
    pub id: String,
    pub name: String,
    pub sealed: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

resource!(StoredSecret, SECRET, SecretNotFound);

impl StoredSecret {
    pub fn view(&self) -> Secret {
        Secret {
            id: self.id.clone(),
            object: SecretObject,
            name: self.name.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_used_at: self.last_used_at,
        }
    }
}
