//! Customers: sub-accounts of an agency workspace. Each is a workspace of its own (its id is
//! the customer's), so its agents, numbers, contacts, campaigns, wallet and data live in
//! partitions of its own, and every isolation rule between workspaces holds between siblings.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::object_name;

object_name!(CustomerObject, "customer");

/// The header with which an agency's credential acts for one of its customers.
pub const CUSTOMER_HEADER: &str = "switchboard-customer";

/// A customer of the agency workspace it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Customer {
    #[schema(example = "cus_01JD3QZ9R6X4Y7T2W8V5N1M0KA")]
    pub id: String,
    pub object: CustomerObject,
    #[schema(example = "Bright Dental")]
    pub name: String,
    /// Where the agency reaches the customer; never mailed by us.
    pub email: Option<String>,
    /// ISO 3166-1 alpha-2: the default region of the customer's phone numbers.
    pub country: Option<String>,
    /// The agency's own labels (at most 20 keys).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

resource!(Customer, CUSTOMER, CustomerNotFound);

/// Whether `workspace_id` is a customer's workspace (or a test-mode one).
pub fn is_customer_workspace(workspace_id: &str) -> bool {
    workspace_id
        .strip_prefix(crate::ids::prefix::CUSTOMER)
        .is_some_and(|rest| rest.starts_with('_'))
}

/// The workspace a credential of the workspace `acting` reaches when it acts for `customer_id`:
/// the customer's own, or its test-mode twin for a test-mode credential.
pub fn customer_workspace_id(customer_id: &str, acting: &str) -> String {
    if super::is_test_workspace(acting) {
        super::test_workspace_id(customer_id)
    } else {
        customer_id.to_owned()
    }
}
