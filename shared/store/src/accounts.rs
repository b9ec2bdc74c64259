//! Workspaces, users, logins, email verification and sessions.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_core::model::{Role, User, Workspace};
use switchboard_core::ports::{
    AccountStore, LoginRecord, NewAccount, NewSession, SessionRecord, Verification, Workspaces,
};
use switchboard_core::{ErrorCode, StoreError};

use super::billing::Opening;
use super::credentials::{GRANTS, credential_attributes, grants_value};
use super::keys::{self, entity};
use super::{DynamoStore, Item, NEW_ITEM, conditional, from_item, get_n, get_s, item_of, key_map, n, s, sdk_error};

/// The string set of workspaces a login's person belongs to.
pub(crate) const WORKSPACES: &str = "workspaces";
/// A password reset may be asked for a login once a minute: no flood of mail to one address.
const RESET_INTERVAL_SECS: i64 = 60;

/// The workspace item's count of owners, which may never fall to zero.
pub(crate) const OWNER_COUNT: &str = "owner_count";

#[derive(Serialize, Deserialize)]
pub(crate) struct LoginItem {
    pub(crate) user_id: String,
    /// The workspace signing in opens when the person does not name one.
    pub(crate) workspace_id: String,
    pub(crate) password_hash: String,
}

#[derive(Serialize, Deserialize)]
struct VerificationItem {
    workspace_id: String,
    user_id: String,
    email: String,
    expires_at: DateTime<Utc>,
    ttl: i64,
}

/// The login item of a new person, who belongs to workspace `ws` alone so far.
pub(crate) fn new_login(email: &str, user_id: &str, ws: &str, password_hash: &str) -> Result<Item, StoreError> {
    let login = LoginItem {
        user_id: user_id.to_owned(),
        workspace_id: ws.to_owned(),
        password_hash: password_hash.to_owned(),
    };
    let mut item = item_of(&keys::login(email), entity::LOGIN, &login)?;
    item.insert(WORKSPACES.into(), AttributeValue::Ss(vec![ws.to_owned()]));
    Ok(item)
}

#[async_trait]
impl Workspaces for DynamoStore {
    async fn get_workspace(&self, workspace_id: &str) -> Result<Option<Workspace>, StoreError> {
        self.get_as(&keys::workspace(workspace_id)).await
    }

    async fn holdings(&self, workspace_id: &str) -> Result<std::collections::BTreeMap<&'static str, u64>, StoreError> {
        let item = self.get_item(&keys::workspace(workspace_id)).await?.unwrap_or_default();
        // The counters the writes that create and delete these keep on the workspace item.
        Ok([
            ("agents", "agent_count"),
            ("api_keys", "active_api_keys"),
            ("webhook_endpoints", "webhook_count"),
        ]
        .into_iter()
        .map(|(name, counter)| (name, super::get_n(&item, counter).unwrap_or(0).max(0) as u64))
        .collect())
    }
}

#[async_trait]
impl AccountStore for DynamoStore {
    #[tracing::instrument(skip_all, fields(workspace_id = %account.workspace.id))]
    async fn create_account(&self, account: &NewAccount) -> Result<(), StoreError> {
        let ws = &account.workspace.id;
        let user = &account.user;
        let login = new_login(&user.email, &user.id, ws, &account.password_hash)?;
        let mut workspace = item_of(&keys::workspace(ws), entity::WORKSPACE, &account.workspace)?;
        workspace.insert("agent_count".into(), n(0));
        workspace.insert("active_api_keys".into(), n(0));
        workspace.insert(OWNER_COUNT.into(), n(1));
        let verification = item_of(
            &keys::verification(&account.verification_token_hash),
            entity::VERIFICATION,
            &VerificationItem {
                workspace_id: ws.clone(),
                user_id: user.id.clone(),
                email: user.email.clone(),
                expires_at: account.verification_expires_at,
                ttl: account.verification_expires_at.timestamp(),
            },
        )?;
        let mut items = vec![
            self.tx_put(login, NEW_ITEM, Item::new())?,
            self.tx_put(workspace, NEW_ITEM, Item::new())?,
            self.tx_put(
                item_of(&keys::user(ws, &user.id), entity::USER, user)?,
                NEW_ITEM,
                Item::new(),
            )?,
            self.tx_put(verification, NEW_ITEM, Item::new())?,
            self.tx_put(
                item_of(
                    &keys::workspace_listing(ws),
                    entity::WORKSPACE_LISTING,
                    &serde_json::json!({"workspace_id": ws}),
                )?,
                NEW_ITEM,
                Item::new(),
            )?,
        ];
        let opening = Opening {
            credit_minor: account.trial_credit_minor,
            entry_id: &account.ledger_entry_id,
            owner_verified: false,
            allowed_countries: account.workspace.country.iter().cloned().collect(),
        };
        items.extend(self.new_wallet_writes(&account.workspace, opening)?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(e) if e.failed_at(0) => Err(StoreError::Conflict(ErrorCode::EmailTaken)),
            Err(e) => Err(e.into_store()),
        }
    }

    async fn find_login(&self, email: &str) -> Result<Option<LoginRecord>, StoreError> {
        let Some(item) = self.get_item(&keys::login(email)).await? else {
            return Ok(None);
        };
        let workspaces = item
            .get(WORKSPACES)
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default();
        let login: LoginItem = from_item(item)?;
        Ok(Some(LoginRecord {
            workspaces: if workspaces.is_empty() {
                vec![login.workspace_id.clone()]
            } else {
                workspaces
            },
            user_id: login.user_id,
            workspace_id: login.workspace_id,
            password_hash: login.password_hash,
        }))
    }

    async fn take_login_attempt(&self, email: &str, window: i64, expires: i64, max: u32) -> Result<bool, StoreError> {
        let taken = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(&keys::failed_logins(email, window))))
            .update_expression("SET #entity = :entity, #ttl = :ttl ADD failures :one")
            .condition_expression("attribute_not_exists(failures) OR failures < :max")
            .expression_attribute_names("#entity", keys::ENTITY)
            .expression_attribute_names("#ttl", keys::TTL)
            .expression_attribute_values(":entity", s(entity::FAILED_LOGINS))
            .expression_attribute_values(":ttl", n(expires))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(max))
            .send()
            .await;
        Ok(conditional(taken)?.is_ok())
    }

    async fn return_login_attempt(&self, email: &str, window: i64) -> Result<(), StoreError> {
        let returned = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(&keys::failed_logins(email, window))))
            .update_expression("ADD failures :minus")
            // Not below nothing, nor into an item the window's end already removed.
            .condition_expression("failures > :none")
            .expression_attribute_values(":minus", n(-1))
            .expression_attribute_values(":none", n(0))
            .send()
            .await;
        let _not_counted = conditional(returned)?;
        Ok(())
    }

    async fn get_user_and_workspace(
        &self,
        workspace_id: &str,
        user_id: &str,
    ) -> Result<Option<(User, Workspace)>, StoreError> {
        let mut user = None;
        let mut workspace = None;
        for item in self
            .get_many(&[keys::user(workspace_id, user_id), keys::workspace(workspace_id)])
            .await?
        {
            match get_s(&item, keys::ENTITY) {
                Some(entity::USER) => user = Some(from_item::<User>(item)?),
                Some(entity::WORKSPACE) => workspace = Some(from_item::<Workspace>(item)?),
                _ => {}
            }
        }
        Ok(user.zip(workspace))
    }

    async fn find_verification(&self, token_hash: &str) -> Result<Option<Verification>, StoreError> {
        let Some(item) = self.get_item(&keys::verification(token_hash)).await? else {
            return Ok(None);
        };
        let v: VerificationItem = from_item(item)?;
        Ok(Some(Verification {
            workspace_id: v.workspace_id,
            user_id: v.user_id,
            email: v.email,
            expires_at: v.expires_at,
        }))
    }

    async fn mark_email_verified(
        &self,
        workspace_id: &str,
        user_id: &str,
        at: DateTime<Utc>,
    ) -> Result<User, StoreError> {
        let key = keys::user(workspace_id, user_id);
        let at = s(switchboard_core::clock::api_time(at).to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(&key)))
            .update_expression("SET email_verified = :true, email_verified_at = :at, updated_at = :at")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(email_verified_at)")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":at", at)
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let user: User = match conditional(result)? {
            Ok(out) => from_item(out.attributes.unwrap_or_default())?,
            // Verified before (or gone): verifying again changes nothing.
            Err(_) => self
                .get_item(&key)
                .await?
                .map(from_item)
                .transpose()?
                .ok_or(StoreError::NotFound(ErrorCode::InvalidToken))?,
        };
        // The owner's verified address lets the workspace place live calls. Set again when a
        // verification is repeated, in case the first stopped between the two writes.
        if user.role == Role::Owner {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key_map(&keys::wallet(workspace_id))))
                .update_expression("SET owner_verified = :true")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_values(":true", AttributeValue::Bool(true))
                .send()
                .await;
            conditional(result)?.ok();
        }
        Ok(user)
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %session.workspace_id))]
    async fn create_session(&self, session: &NewSession) -> Result<(), StoreError> {
        let ws = &session.workspace_id;
        let mut item = credential_attributes(ws, session.plan, Some(session.expires_at));
        item.extend(key_map(&keys::session(ws, &session.session_id)));
        item.insert(keys::ENTITY.into(), s(entity::SESSION));
        item.insert("user_id".into(), s(&session.user_id));
        item.insert("role".into(), s(session.role.as_str()));
        item.insert(GRANTS.into(), grants_value(&session.grants));
        item.insert("email".into(), s(&session.email));
        item.insert(
            "created_at".into(),
            s(session.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
        if let Some(ip) = &session.client_ip {
            item.insert("created_ip".into(), s(ip));
        }
        item.insert(keys::TTL.into(), n(session.expires_at.timestamp()));
        // The member still holds the role the session grants, and the workspace is active:
        // a role change, removal or suspension racing this sign-in cannot miss the session.
        let writes = vec![
            self.tx_put(item, NEW_ITEM, Item::new())?,
            self.tx_check(
                &keys::user(ws, &session.user_id),
                "#role = :role AND #status = :active",
                Item::from([
                    (":role".into(), s(session.role.as_str())),
                    (":active".into(), s("active")),
                ]),
            )?,
            self.tx_check(
                &keys::workspace(ws),
                "#status = :active",
                Item::from([(":active".into(), s("active"))]),
            )?,
        ];
        match self.transact(writes).await {
            Ok(()) => Ok(()),
            Err(e) if e.failed_at(0) => Err(StoreError::AlreadyExists),
            Err(e) if e.failed_at(1) || e.failed_at(2) => Err(StoreError::Conflict(ErrorCode::AccountInactive)),
            Err(e) => Err(e.into_store()),
        }
    }

    async fn sessions(&self, workspace_id: &str, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let time = |item: &Item, name: &str| get_s(item, name).and_then(|t| t.parse::<DateTime<Utc>>().ok());
        Ok(self
            .sessions_of(workspace_id, Some(user_id))
            .await?
            .iter()
            .filter_map(|item| {
                Some(SessionRecord {
                    session_id: get_s(item, keys::SK)?.to_owned(),
                    created_at: time(item, "created_at"),
                    created_ip: get_s(item, "created_ip").map(str::to_owned),
                    last_used_at: time(item, "last_used_at"),
                    last_used_ip: get_s(item, "last_used_ip").map(str::to_owned),
                    expires_at: get_n(item, "expires_epoch").and_then(|s| DateTime::from_timestamp(s, 0)),
                })
            })
            .collect())
    }

    async fn end_own_session(&self, workspace_id: &str, user_id: &str, session_id: &str) -> Result<(), StoreError> {
        let write = self.tx_delete(
            &keys::session(workspace_id, session_id),
            Some("user_id = :user"),
            Item::from([(":user".to_owned(), s(user_id))]),
        )?;
        match self.write(write).await? {
            true => Ok(()),
            false => Err(StoreError::NotFound(ErrorCode::SessionNotFound)),
        }
    }

    async fn end_sessions(&self, workspaces: &[String], user_id: &str, keep: Option<&str>) -> Result<(), StoreError> {
        for workspace_id in workspaces {
            for session in self.sessions_of(workspace_id, Some(user_id)).await? {
                match get_s(&session, keys::SK) {
                    Some(id) if Some(id) != keep => self.end_session(workspace_id, id).await?,
                    _ => {}
                }
            }
        }
        Ok(())
    }

    async fn start_password_reset(
        &self,
        email: &str,
        token_hash: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(&keys::login(email))))
            .update_expression("SET reset_hash = :hash, reset_expires = :expires, reset_asked = :now")
            .condition_expression(
                "attribute_exists(PK) AND (attribute_not_exists(reset_asked) OR reset_asked < :recent)",
            )
            .expression_attribute_values(":hash", s(token_hash))
            .expression_attribute_values(":expires", n(expires_at.timestamp()))
            .expression_attribute_values(":now", n(now.timestamp()))
            .expression_attribute_values(":recent", n(now.timestamp() - RESET_INTERVAL_SECS))
            .send()
            .await;
        if conditional(result)?.is_err() {
            return Ok(false);
        }
        let mut reset = key_map(&keys::password_reset(token_hash));
        reset.insert(keys::ENTITY.into(), s(entity::PASSWORD_RESET));
        reset.insert("email".into(), s(email));
        reset.insert(keys::TTL.into(), n(expires_at.timestamp()));
        self.put(reset).await?;
        Ok(true)
    }

    async fn find_password_reset(&self, token_hash: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .get_item(&keys::password_reset(token_hash))
            .await?
            .and_then(|item| get_s(&item, "email").map(str::to_owned)))
    }

    async fn set_password(
        &self,
        email: &str,
        password_hash: &str,
        reset_token_hash: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut values = Item::from([
            (":hash".to_owned(), s(password_hash)),
            (
                ":at".to_owned(),
                s(switchboard_core::clock::api_time(now).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            ),
        ]);
        let (update, condition) = match reset_token_hash {
            // Only the login's current token, before it expires, and once.
            Some(token) => {
                values.insert(":token".into(), s(token));
                values.insert(":now".into(), n(now.timestamp()));
                (
                    "SET password_hash = :hash, password_changed_at = :at REMOVE reset_hash, reset_expires",
                    "reset_hash = :token AND reset_expires > :now",
                )
            }
            None => (
                "SET password_hash = :hash, password_changed_at = :at",
                "attribute_exists(PK)",
            ),
        };
        let write = self.tx_update(&keys::login(email), update, Some(condition), values)?;
        if !self.write(write).await? {
            return Err(StoreError::NotFound(ErrorCode::InvalidToken));
        }
        if let Some(token) = reset_token_hash {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key_map(&keys::password_reset(token))))
                .send()
                .await
                .map_err(sdk_error)?;
        }
        Ok(())
    }

    async fn end_session(&self, workspace_id: &str, session_id: &str) -> Result<(), StoreError> {
        let write = self.tx_delete(&keys::session(workspace_id, session_id), None, Item::new())?;
        self.write(write).await.map(|_| ())
    }
}
