//! Members, custom roles and invitations, and carrying what a role grants to the member's
//! credentials.
//!
//! A session and an API key lookup each hold their person's role and grants, so that the one
//! UpdateItem that authenticates a request also knows what it may do. Every change of what a
//! member may do (role change, edit of their custom role, removal, suspension of the workspace)
//! rewrites those credential items before it answers; creating a session or key checks, in its
//! transaction, that the member still holds the role it copies.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_core::model::{CustomRole, Grants, Invitation, Role, User, customer_workspace_id};
use switchboard_core::ports::{Acceptance, AccountStore, ApiKeyStore, PendingInvitation, Team};
use switchboard_core::{ErrorCode, StoreError};

use super::accounts::{OWNER_COUNT, WORKSPACES, new_login};
use super::credentials::{GRANTS, SUSPENDED, grants_value};
use super::keys::{self, entity};
use super::{DynamoStore, Item, NEW_ITEM, conditional, from_item, get_s, item_of, key_map, n, s, sdk_error};

#[derive(Serialize, Deserialize)]
struct InvitationItem {
    #[serde(flatten)]
    invitation: Invitation,
    workspace_id: String,
    ttl: i64,
}

fn iso(at: DateTime<Utc>) -> AttributeValue {
    s(switchboard_core::clock::api_time(at).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

impl DynamoStore {
    pub(crate) async fn sessions_of(&self, workspace_id: &str, user_id: Option<&str>) -> Result<Vec<Item>, StoreError> {
        let sessions = self.query_all(&keys::session_partition(workspace_id), "").await?;
        Ok(sessions
            .into_iter()
            .filter(|item| user_id.is_none_or(|id| get_s(item, "user_id") == Some(id)))
            .collect())
    }

    /// The lookup keys (what authentication reads) of the workspace's unrevoked API keys, or
    /// of those `user_id` made.
    async fn key_lookups_of(
        &self,
        workspace_id: &str,
        user_id: Option<&str>,
    ) -> Result<Vec<(String, keys::Key)>, StoreError> {
        let rows = self.query_all(workspace_id, keys::API_KEY_PREFIX).await?;
        Ok(rows
            .iter()
            .filter(|row| !row.contains_key("revoked_at"))
            .filter(|row| user_id.is_none_or(|id| get_s(row, "created_by_user_id") == Some(id)))
            .filter_map(|row| {
                Some((
                    get_s(row, "id")?.to_owned(),
                    keys::api_key_lookup(get_s(row, "secret_hash")?),
                ))
            })
            .collect())
    }

    /// Sets (or removes) attributes on credential items that still exist; one that ended
    /// meanwhile is left ended.
    async fn update_credentials(
        &self,
        credentials: Vec<keys::Key>,
        update: &str,
        values: &Item,
    ) -> Result<(), StoreError> {
        for key in credentials {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key_map(&key)))
                .update_expression(update)
                .condition_expression("attribute_exists(PK)")
                .set_expression_attribute_names(super::attribute_names(&[Some(update)]))
                .set_expression_attribute_values((!values.is_empty()).then(|| values.clone()))
                .send()
                .await;
            conditional(result)?.ok();
        }
        Ok(())
    }

    /// Gives every session and API key of the member `role`'s grants.
    async fn regrant(&self, workspace_id: &str, user_id: &str, role: &Role, grants: &Grants) -> Result<(), StoreError> {
        let sessions = self.sessions_of(workspace_id, Some(user_id)).await?;
        let session_keys: Vec<keys::Key> = sessions
            .iter()
            .filter_map(|item| Some(keys::session(workspace_id, get_s(item, keys::SK)?)))
            .collect();
        let values = Item::from([
            (":role".into(), s(role.as_str())),
            (":grants".into(), grants_value(grants)),
        ]);
        self.update_credentials(session_keys, &format!("SET #role = :role, {GRANTS} = :grants"), &values)
            .await?;
        let mut lookups = Vec::new();
        for workspace in self.reached_by_members(workspace_id).await? {
            lookups.extend(self.key_lookups_of(&workspace, Some(user_id)).await?);
        }
        self.update_credentials(
            lookups.into_iter().map(|(_, key)| key).collect(),
            &format!("SET {GRANTS} = :grants"),
            &Item::from([(":grants".into(), grants_value(grants))]),
        )
        .await
    }

    /// The workspace and those of its customers: where its members' API keys may act.
    async fn reached_by_members(&self, workspace_id: &str) -> Result<Vec<String>, StoreError> {
        let customers = self
            .query_all(&keys::collection(workspace_id, crate::layout::CUSTOMER), "")
            .await?;
        Ok(std::iter::once(workspace_id.to_owned())
            .chain(
                customers
                    .iter()
                    .filter_map(|item| get_s(item, "id"))
                    .map(|id| customer_workspace_id(id, workspace_id)),
            )
            .collect())
    }

    /// The writes that keep the workspace's owner count and a custom role's member count as a
    /// member moves from `from` to `to` (either may be `None`: joining, leaving).
    fn role_count_writes(
        &self,
        workspace_id: &str,
        from: Option<&Role>,
        to: Option<&Role>,
    ) -> Result<Vec<(Counted, aws_sdk_dynamodb::types::TransactWriteItem)>, StoreError> {
        let mut writes = Vec::new();
        let one = || Item::from([(":one".into(), n(1))]);
        let was_owner = from == Some(&Role::Owner);
        let is_owner = to == Some(&Role::Owner);
        if was_owner && !is_owner {
            writes.push((
                Counted::LastOwner,
                self.tx_update(
                    &keys::workspace(workspace_id),
                    &format!("SET {OWNER_COUNT} = {OWNER_COUNT} - :one"),
                    Some(&format!("{OWNER_COUNT} > :one")),
                    one(),
                )?,
            ));
        }
        if is_owner && !was_owner {
            writes.push((
                Counted::Workspace,
                self.tx_update(
                    &keys::workspace(workspace_id),
                    &format!("ADD {OWNER_COUNT} :one"),
                    Some("attribute_exists(PK)"),
                    one(),
                )?,
            ));
        }
        if let Some(Role::Custom(id)) = from
            && to != from
        {
            writes.push((
                Counted::Role,
                self.tx_update(
                    &keys::role(workspace_id, id),
                    "ADD member_count :minus",
                    None,
                    Item::from([(":minus".into(), n(-1))]),
                )?,
            ));
        }
        if let Some(Role::Custom(id)) = to
            && to != from
        {
            writes.push((
                Counted::Role,
                self.tx_update(
                    &keys::role(workspace_id, id),
                    "ADD member_count :one",
                    Some("attribute_exists(PK)"),
                    one(),
                )?,
            ));
        }
        Ok(writes)
    }
}

/// Which count a write of [`DynamoStore::role_count_writes`] keeps, to name a refusal.
#[derive(Clone, Copy, PartialEq)]
enum Counted {
    LastOwner,
    Workspace,
    Role,
}

impl Counted {
    fn refusal(self) -> StoreError {
        match self {
            Counted::LastOwner => StoreError::Conflict(ErrorCode::LastOwner),
            Counted::Workspace => StoreError::NotFound(ErrorCode::UserNotFound),
            Counted::Role => StoreError::NotFound(ErrorCode::RoleNotFound),
        }
    }
}

/// Runs `writes` (the first `leading` of them named by the caller) followed by the count writes,
/// and names the count that refused.
async fn transact_with_counts(
    store: &DynamoStore,
    mut writes: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
    counts: Vec<(Counted, aws_sdk_dynamodb::types::TransactWriteItem)>,
    refusal_of_leading: impl Fn(usize) -> Option<StoreError>,
) -> Result<(), StoreError> {
    let leading = writes.len();
    let kinds: Vec<Counted> = counts.iter().map(|(k, _)| *k).collect();
    writes.extend(counts.into_iter().map(|(_, w)| w));
    match store.transact(writes).await {
        Ok(()) => Ok(()),
        Err(e) => {
            for i in 0..leading {
                if e.failed_at(i)
                    && let Some(refusal) = refusal_of_leading(i)
                {
                    return Err(refusal);
                }
            }
            for (i, kind) in kinds.iter().enumerate() {
                if e.failed_at(leading + i) {
                    return Err(kind.refusal());
                }
            }
            Err(e.into_store())
        }
    }
}

#[async_trait]
impl Team for DynamoStore {
    async fn members(&self, workspace_id: &str) -> Result<Vec<User>, StoreError> {
        let mut members: Vec<User> = self
            .query_all(workspace_id, keys::USER_PREFIX)
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        let mut last_seen: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
        for session in self.sessions_of(workspace_id, None).await? {
            let (Some(user), Some(at)) = (
                get_s(&session, "user_id"),
                get_s(&session, "last_used_at").and_then(|t| t.parse::<DateTime<Utc>>().ok()),
            ) else {
                continue;
            };
            let seen = last_seen.entry(user.to_owned()).or_insert(at);
            *seen = (*seen).max(at);
        }
        for member in &mut members {
            member.last_seen_at = last_seen.get(&member.id).copied();
        }
        Ok(members)
    }

    async fn member(&self, workspace_id: &str, user_id: &str) -> Result<Option<User>, StoreError> {
        self.get_as(&keys::user(workspace_id, user_id)).await
    }

    async fn grants_of(&self, workspace_id: &str, role: &Role) -> Result<Option<Grants>, StoreError> {
        match role {
            Role::Custom(id) => Ok(self.role(workspace_id, id).await?.map(|r| r.grants)),
            built_in => Ok(built_in.built_in_grants()),
        }
    }

    async fn invite(&self, workspace_id: &str, invitation: &Invitation, token_hash: &str) -> Result<(), StoreError> {
        let members: Vec<User> = self
            .query_all(workspace_id, keys::USER_PREFIX)
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        if members.iter().any(|m| m.email == invitation.email) {
            return Err(StoreError::Conflict(ErrorCode::AlreadyMember));
        }
        let pointer_key = keys::invitation_to(workspace_id, &invitation.email);
        let earlier = self.get_item(&pointer_key).await?;
        let mut pointer = key_map(&pointer_key);
        pointer.insert(keys::ENTITY.into(), s(entity::INVITED));
        pointer.insert("token_hash".into(), s(token_hash));
        pointer.insert(keys::TTL.into(), n(invitation.expires_at.timestamp()));
        let item = item_of(
            &keys::invitation(token_hash),
            entity::INVITATION,
            &InvitationItem {
                invitation: invitation.clone(),
                workspace_id: workspace_id.to_owned(),
                ttl: invitation.expires_at.timestamp(),
            },
        )?;
        let mut writes = vec![
            self.tx_put(item, NEW_ITEM, Item::new())?,
            self.tx_put(pointer, None, Item::new())?,
        ];
        // Inviting again retires the link sent before.
        if let Some(earlier) = earlier.as_ref().and_then(|p| get_s(p, "token_hash"))
            && earlier != token_hash
        {
            writes.push(self.tx_delete(&keys::invitation(earlier), None, Item::new())?);
        }
        self.transact(writes).await.map_err(|e| e.into_store())
    }

    async fn find_invitation(&self, token_hash: &str) -> Result<Option<PendingInvitation>, StoreError> {
        Ok(self
            .get_as::<InvitationItem>(&keys::invitation(token_hash))
            .await?
            .map(|item| PendingInvitation {
                invitation: item.invitation,
                workspace_id: item.workspace_id,
            }))
    }

    async fn accept_invitation(&self, acceptance: &Acceptance) -> Result<(), StoreError> {
        let ws = &acceptance.workspace_id;
        let user = &acceptance.user;
        let mut writes = vec![
            self.tx_delete(
                &keys::invitation(&acceptance.token_hash),
                Some("attribute_exists(PK)"),
                Item::new(),
            )?,
            self.tx_delete(
                &keys::invitation_to(ws, &user.email),
                Some("token_hash = :token"),
                Item::from([(":token".into(), s(&acceptance.token_hash))]),
            )?,
            self.tx_put(
                item_of(&keys::user(ws, &user.id), entity::USER, user)?,
                NEW_ITEM,
                Item::new(),
            )?,
        ];
        match &acceptance.new_login {
            Some(password_hash) => {
                let login = new_login(&user.email, &user.id, ws, password_hash)?;
                writes.push(self.tx_put(login, NEW_ITEM, Item::new())?);
            }
            None => writes.push(self.tx_update(
                &keys::login(&user.email),
                &format!("ADD {WORKSPACES} :ws"),
                Some("user_id = :user"),
                Item::from([
                    (":ws".into(), AttributeValue::Ss(vec![ws.clone()])),
                    (":user".into(), s(&user.id)),
                ]),
            )?),
        }
        let counts = self.role_count_writes(ws, None, Some(&user.role))?;
        transact_with_counts(self, writes, counts, |i| {
            Some(match i {
                0 | 1 => StoreError::NotFound(ErrorCode::InvalidToken),
                2 => StoreError::Conflict(ErrorCode::AlreadyMember),
                _ => StoreError::Conflict(ErrorCode::EmailTaken),
            })
        })
        .await
    }

    async fn change_role(
        &self,
        workspace_id: &str,
        user_id: &str,
        from: &Role,
        to: &Role,
        grants: &Grants,
        at: DateTime<Utc>,
    ) -> Result<User, StoreError> {
        let key = keys::user(workspace_id, user_id);
        if from != to {
            let writes = vec![self.tx_update(
                &key,
                "SET #role = :to, updated_at = :at",
                Some("#role = :from"),
                Item::from([
                    (":to".into(), s(to.as_str())),
                    (":from".into(), s(from.as_str())),
                    (":at".into(), iso(at)),
                ]),
            )?];
            let counts = self.role_count_writes(workspace_id, Some(from), Some(to))?;
            transact_with_counts(self, writes, counts, |_| {
                Some(StoreError::Conflict(ErrorCode::ConcurrentModification))
            })
            .await?;
        }
        self.regrant(workspace_id, user_id, to, grants).await?;
        self.get_as(&key)
            .await?
            .ok_or(StoreError::NotFound(ErrorCode::UserNotFound))
    }

    async fn remove_member(&self, workspace_id: &str, user: &User, at: DateTime<Utc>) -> Result<(), StoreError> {
        let writes = vec![self.tx_delete(
            &keys::user(workspace_id, &user.id),
            Some("#role = :role"),
            Item::from([(":role".into(), s(user.role.as_str()))]),
        )?];
        let counts = self.role_count_writes(workspace_id, Some(&user.role), None)?;
        transact_with_counts(self, writes, counts, |_| {
            Some(StoreError::Conflict(ErrorCode::ConcurrentModification))
        })
        .await?;
        for session in self.sessions_of(workspace_id, Some(&user.id)).await? {
            if let Some(id) = get_s(&session, keys::SK) {
                self.end_session(workspace_id, id).await?;
            }
        }
        for workspace in self.reached_by_members(workspace_id).await? {
            for (key_id, _) in self.key_lookups_of(&workspace, Some(&user.id)).await? {
                self.revoke_key(&workspace, &key_id, Some("member removed".into()), at)
                    .await?;
            }
        }
        // The person's list of workspaces, which password changes end sessions in.
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(&keys::login(&user.email))))
            .update_expression(format!("DELETE {WORKSPACES} :ws"))
            .expression_attribute_values(":ws", AttributeValue::Ss(vec![workspace_id.to_owned()]))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    async fn set_suspended(&self, workspace_id: &str, suspended: bool, at: DateTime<Utc>) -> Result<(), StoreError> {
        let status = if suspended { "suspended" } else { "active" };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(&keys::workspace(workspace_id))))
            .update_expression("SET #status = :status, updated_at = :at")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status))
            .expression_attribute_values(":at", iso(at))
            .send()
            .await;
        conditional(result)?.map_err(|_| StoreError::NotFound(ErrorCode::InvalidCredential))?;
        let mut credentials: Vec<keys::Key> = self
            .sessions_of(workspace_id, None)
            .await?
            .iter()
            .filter_map(|item| Some(keys::session(workspace_id, get_s(item, keys::SK)?)))
            .collect();
        credentials.extend(
            self.key_lookups_of(workspace_id, None)
                .await?
                .into_iter()
                .map(|(_, key)| key),
        );
        if suspended {
            let values = Item::from([(":true".into(), AttributeValue::Bool(true))]);
            self.update_credentials(credentials, &format!("SET {SUSPENDED} = :true"), &values)
                .await
        } else {
            self.update_credentials(credentials, &format!("REMOVE {SUSPENDED}"), &Item::new())
                .await
        }
    }

    async fn roles(&self, workspace_id: &str) -> Result<Vec<CustomRole>, StoreError> {
        self.query_all(workspace_id, keys::ROLE_PREFIX)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    async fn role(&self, workspace_id: &str, role_id: &str) -> Result<Option<CustomRole>, StoreError> {
        self.get_as(&keys::role(workspace_id, role_id)).await
    }

    async fn create_role(&self, workspace_id: &str, role: &CustomRole) -> Result<(), StoreError> {
        let item = item_of(&keys::role(workspace_id, &role.id), entity::ROLE, role)?;
        if !self.put_new(item).await? {
            return Err(StoreError::AlreadyExists);
        }
        Ok(())
    }

    async fn update_role(&self, workspace_id: &str, role: &CustomRole) -> Result<(), StoreError> {
        let grants = serde_dynamo::to_attribute_value(&role.grants).map_err(|e| StoreError::Other(e.into()))?;
        let mut values = HashMap::from([
            (":name".to_owned(), s(&role.name)),
            (":grants".to_owned(), grants),
            (":at".to_owned(), iso(role.updated_at)),
        ]);
        let mut update = String::from("SET #name = :name, grants = :grants, updated_at = :at");
        match &role.description {
            Some(d) => {
                update.push_str(", description = :description");
                values.insert(":description".into(), s(d));
            }
            None => update.push_str(" REMOVE description"),
        }
        let write = self.tx_update(
            &keys::role(workspace_id, &role.id),
            &update,
            Some("attribute_exists(PK)"),
            values,
        )?;
        if !self.write(write).await? {
            return Err(StoreError::NotFound(ErrorCode::RoleNotFound));
        }
        let held = Role::Custom(role.id.clone());
        for member in self.members(workspace_id).await?.into_iter().filter(|m| m.role == held) {
            self.regrant(workspace_id, &member.id, &held, &role.grants).await?;
        }
        Ok(())
    }

    async fn delete_role(&self, workspace_id: &str, role_id: &str) -> Result<(), StoreError> {
        let key = keys::role(workspace_id, role_id);
        let unassigned = Item::from([(":zero".to_owned(), n(0))]);
        let delete = self.tx_delete(&key, Some("attribute_exists(PK) AND member_count = :zero"), unassigned)?;
        if self.write(delete).await? {
            return Ok(());
        }
        match self.get_item(&key).await? {
            Some(_) => Err(StoreError::Conflict(ErrorCode::RoleInUse)),
            None => Err(StoreError::NotFound(ErrorCode::RoleNotFound)),
        }
    }
}
