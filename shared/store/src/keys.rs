//! Every key of the single table, built in one place. `ACCESS_PATTERNS.md` beside this file
//! lists each access pattern with its key condition.
//!
//! Tenant items have partition keys that begin with the workspace id (`ws_...`), so a request
//! holding one workspace's id cannot address another's items. The few global items (`LOGIN#`,
//! `VERIFY#`, `APIKEY#`, `CLIENTIP#`, `PUBLIC#`, `PAYMENT#`, the global guards `NUMBER#`,
//! `PROVIDER_CALL#`, `CUSTOMER#` and `TRIGGER#`, `RELAY#`, and the lists by day or minute
//! `RENEWAL#` and `SCHEDULE#`) are looked up before a workspace is known and hold only what
//! leads to it.

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
pub const GSI3: &str = "GSI3";
pub const GSI3PK: &str = "GSI3PK";
pub const GSI3SK: &str = "GSI3SK";
pub const ENTITY: &str = "entity";
/// Epoch seconds after which DynamoDB TTL may delete the item.
pub const TTL: &str = "ttl";

/// Every partition a workspace's items live in, as suffixes of its id. A new collection or
/// guard kind belongs here (the test below checks the known ones); tests read a whole
/// workspace through this list.
pub const WORKSPACE_PARTITIONS: &[&str] = &[
    "",
    "#LEDGER",
    "#HOLD",
    "#USAGE",
    "#SESSION",
    "#IDEMPOTENCY",
    "#EVENT",
    "#AUDIT",
    "#DNC",
    "#REGISTRY",
    "#COOLDOWN",
    "#AGENT",
    "#CONTACT",
    "#CONTACT_PHONE",
    "#APPOINTMENT",
    "#APPOINTMENT_SLOT",
    "#NUMBER",
    "#APPROVAL",
    "#CONVERSATION",
    "#CALL",
    "#CALL_RELAY",
    "#WEBHOOK",
    "#DELIVERY",
    "#CAMPAIGN",
    "#CAMPAIGN_STATE",
    "#TARGET",
    "#IMPORT",
    "#IMPORT_CHUNK",
    "#SECRET",
    "#SECRET_NAME",
    "#CUSTOMER",
    "#CONNECTOR",
    "#CONNECTION",
    "#WORKFLOW",
    "#EXECUTION",
    "#TRIGGER",
];

/// A primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// Values of the `entity` attribute.
pub mod entity {
    pub const WORKSPACE: &str = "workspace";
    pub const USER: &str = "user";
    pub const LOGIN: &str = "login";
    pub const FAILED_LOGINS: &str = "failed_logins";
    pub const VERIFICATION: &str = "email_verification";
    pub const PASSWORD_RESET: &str = "password_reset";
    pub const WALLET: &str = "wallet";
    pub const HOLD: &str = "call_hold";
    pub const PAYMENT: &str = "payment";
    pub const RENEWAL: &str = "number_renewal";
    pub const USAGE: &str = "usage_counter";
    pub const SESSION: &str = "session";
    pub const ROLE: &str = "custom_role";
    pub const INVITATION: &str = "invitation";
    pub const INVITED: &str = "invitation_pointer";
    pub const API_KEY: &str = "api_key";
    pub const API_KEY_LOOKUP: &str = "api_key_lookup";
    pub const CLIENT_IP: &str = "client_ip_rate";
    pub const WORKSPACE_RATE: &str = "workspace_rate";
    pub const IDEMPOTENCY: &str = "idempotency_record";
    pub const UNIQUE: &str = "unique_value";
    pub const EVENT: &str = "event";
    /// A webhook test event: beside the log, never routed to subscribers.
    pub const TEST_EVENT: &str = "test_event";
    pub const DNC: &str = "dnc_entry";
    pub const COOLDOWN: &str = "cooldown";
    pub const TARGET: &str = "campaign_target";
    pub const AUDIENCE_IMPORT: &str = "audience_import";
    pub const IMPORT_CHUNK: &str = "import_chunk";
    pub const RELAY: &str = "relay_session";
    pub const WORKSPACE_LISTING: &str = "workspace_listing";
    pub const REPORT_SENT: &str = "report_sent";
    pub const ONBOARDING: &str = "onboarding_settings";
    pub const PROVIDER_CREDENTIAL: &str = "provider_credential";
}

/// Global partition listing every workspace, for jobs that visit each (the weekly report).
pub const WORKSPACES: &str = "WORKSPACES";

/// A workspace's entry in [`WORKSPACES`], written when it is made.
pub fn workspace_listing(ws: &str) -> Key {
    Key::new(WORKSPACES, ws)
}

/// Every onboarding item of a workspace starts with this sort key: one Query reads them all.
pub const ONBOARDING_PREFIX: &str = "ONBOARDING";

/// The workspace's provider mode and onboarding completion.
pub fn onboarding_settings(ws: &str) -> Key {
    Key::new(ws, ONBOARDING_PREFIX)
}

/// The credential the workspace brought for `provider`, sealed.
pub fn provider_credential(ws: &str, provider: &str) -> Key {
    Key::new(ws, format!("{ONBOARDING_PREFIX}#CREDENTIAL#{provider}"))
}

/// The note that the weekly report of the week ending `week_end` went to the owners.
pub fn report_sent(ws: &str, week_end: chrono::NaiveDate) -> Key {
    Key::new(ws, format!("REPORT_SENT#{week_end}"))
}

pub fn workspace(ws: &str) -> Key {
    Key::new(ws, "WORKSPACE")
}

pub fn user(ws: &str, user_id: &str) -> Key {
    Key::new(ws, format!("{USER_PREFIX}{user_id}"))
}

pub const USER_PREFIX: &str = "USER#";
pub const ROLE_PREFIX: &str = "ROLE#";

/// A custom role of the workspace.
pub fn role(ws: &str, role_id: &str) -> Key {
    Key::new(ws, format!("{ROLE_PREFIX}{role_id}"))
}

/// Global: an invitation's token hash → the invitation, until it is used or expires.
pub fn invitation(token_hash: &str) -> Key {
    Key::new(format!("INVITE#{token_hash}"), "INVITE")
}

/// The workspace's open invitation to an email: which token is current, so that inviting the
/// same person again retires the link sent before.
pub fn invitation_to(ws: &str, email: &str) -> Key {
    Key::new(ws, format!("INVITED#{email}"))
}

/// The partition of a workspace's sessions.
pub fn session_partition(ws: &str) -> String {
    format!("{ws}#SESSION")
}

/// The workspace's rate-limit buckets, shared by all its credentials.
pub fn workspace_rate(ws: &str) -> Key {
    Key::new(ws, "RATE")
}

pub fn wallet(ws: &str) -> Key {
    Key::new(ws, "WALLET")
}

/// What a call in progress holds on the wallet, until its end settles it.
pub fn hold(ws: &str, call_id: &str) -> Key {
    Key::new(format!("{ws}#HOLD"), call_id)
}

/// The partition of a workspace's usage counters.
pub fn usage_partition(ws: &str) -> String {
    format!("{ws}#USAGE")
}

/// The usage counters of a day (`DAY#2026-12-01`), or of an agent or campaign on a day
/// (`AGENT#2026-12-01#agt_...`): a day range of one kind is a range of sort keys.
pub fn usage(ws: &str, kind: &str, day: chrono::NaiveDate, id: Option<&str>) -> Key {
    let sk = match id {
        Some(id) => format!("{kind}#{day}#{id}"),
        None => format!("{kind}#{day}"),
    };
    Key::new(usage_partition(ws), sk)
}

/// Global: a payment the provider reported, credited once to the workspace it names.
/// Global partition of the number renewals that fall on `day`: a daily job reads the days due.
pub fn renewal_partition(day: chrono::NaiveDate) -> String {
    format!("RENEWAL#{day}")
}

/// A provisioned number's next monthly fee, in the partition of the day it falls on.
pub fn renewal(day: chrono::NaiveDate, ws: &str, number_id: &str) -> Key {
    Key::new(renewal_partition(day), format!("{ws}#{number_id}"))
}

pub fn payment(payment_id: &str) -> Key {
    Key::new(format!("PAYMENT#{payment_id}"), "PAYMENT")
}

/// Global: email → user, for login and email uniqueness.
pub fn login(email: &str) -> Key {
    Key::new(format!("LOGIN#{email}"), "LOGIN")
}

/// Global: failed sign-ins for one email in one lockout window (the email hashed: attempts for
/// addresses nobody registered are counted too, and keys should not spell them out).
pub fn failed_logins(email: &str, window: i64) -> Key {
    Key::new(
        format!("LOGINFAIL#{}", switchboard_core::secret::sha256_hex(email)),
        window.to_string(),
    )
}

/// Global: a password-reset token's hash → the login's email, until it expires.
pub fn password_reset(token_hash: &str) -> Key {
    Key::new(format!("RESET#{token_hash}"), "RESET")
}

/// Global: email verification token hash → user.
pub fn verification(token_hash: &str) -> Key {
    Key::new(format!("VERIFY#{token_hash}"), "VERIFY")
}

pub fn session(ws: &str, session_id: &str) -> Key {
    Key::new(session_partition(ws), session_id)
}

pub const API_KEY_PREFIX: &str = "APIKEY#";

pub fn api_key(ws: &str, key_id: &str) -> Key {
    Key::new(ws, format!("{API_KEY_PREFIX}{key_id}"))
}

/// Global: SHA-256 of an API key secret → the key's workspace, scope and rate-limit state.
pub fn api_key_lookup(secret_hash: &str) -> Key {
    Key::new(format!("APIKEY#{secret_hash}"), "APIKEY")
}

/// Global: rate-limit state of an anonymous client on public endpoints.
pub fn client_ip(ip: &str) -> Key {
    Key::new(format!("CLIENTIP#{ip}"), "RATE")
}

/// Idempotency record of `key` in a workspace, or among public (pre-authentication)
/// requests when `None`.
pub fn idempotency(workspace_id: Option<&str>, key: &str) -> Key {
    Key::new(format!("{}#IDEMPOTENCY", workspace_id.unwrap_or("PUBLIC")), key)
}

/// The partition of a resource collection (`ws_..#AGENT`).
pub fn collection(ws: &str, collection: &str) -> String {
    format!("{ws}#{collection}")
}

pub fn resource(ws: &str, collection_name: &str, id: &str) -> Key {
    Key::new(collection(ws, collection_name), id)
}

/// Guard item that makes `value` unique among a workspace's `kind` values.
pub fn unique(ws: &str, kind: &str, value: &str) -> Key {
    Key::new(format!("{ws}#{kind}"), value)
}

/// Global guard making `value` unique among every workspace's `kind` values; also the lookup
/// from the value to its workspace (an inbound call's number to the workspace answering it).
pub fn global_unique(kind: &str, value: &str) -> Key {
    Key::new(format!("{kind}#{value}"), "OWNER")
}

/// Global: a resource's entry in the list `<kind>#<value>` (the schedule triggers due in one
/// minute), sorted by its workspace and id.
pub fn listed(kind: &str, value: &str, ws: &str, owner_id: &str) -> Key {
    Key::new(listed_partition(kind, value), format!("{ws}#{owner_id}"))
}

pub fn listed_partition(kind: &str, value: &str) -> String {
    format!("{kind}#{value}")
}

/// The secondary-index partition `partition` of a collection (`ws_..#CONTACT#EMAIL#a@b.co`).
pub fn index_partition(ws: &str, collection_name: &str, partition: &str) -> String {
    format!("{ws}#{collection_name}#{partition}")
}

/// GSI3 partition of one contact's timeline (`ws_..#TIMELINE#con_..`).
pub fn timeline(ws: &str, contact_id: &str) -> String {
    format!("{ws}#TIMELINE#{contact_id}")
}

/// Global: the last minute the workflow scheduler's ticks have read the due lists through.
pub fn scheduler_cursor() -> Key {
    Key::new("SCHEDULER", "CURSOR")
}

/// Global: the call a relay connection carries (its messages name only the connection).
pub fn relay_connection(connection_id: &str) -> Key {
    Key::new(format!("RELAY#{connection_id}"), "RELAY")
}

/// The relay connection carrying a call.
pub fn call_relay(ws: &str, call_id: &str) -> Key {
    Key::new(format!("{ws}#CALL_RELAY"), call_id)
}

/// A number on one of a workspace's lists: its do-not-call list or an imported registry.
/// A number on a list, by its pseudonym (`ps_...`).
pub fn dnc(ws: &str, list: switchboard_core::model::DncList, pseudonym: &str) -> Key {
    Key::new(dnc_partition(ws, list), pseudonym)
}

pub fn dnc_partition(ws: &str, list: switchboard_core::model::DncList) -> String {
    match list {
        switchboard_core::model::DncList::Dnc => format!("{ws}#DNC"),
        switchboard_core::model::DncList::Registry => format!("{ws}#REGISTRY"),
    }
}

/// A campaign's counters and tick schedule.
pub fn campaign_state(ws: &str, campaign_id: &str) -> Key {
    Key::new(format!("{ws}#CAMPAIGN_STATE"), campaign_id)
}

/// The partition of every campaign's targets.
pub fn target_partition(ws: &str) -> String {
    format!("{ws}#TARGET")
}

/// A campaign's target: one per number.
pub fn target(ws: &str, campaign_id: &str, phone_e164: &str) -> Key {
    Key::new(target_partition(ws), format!("{campaign_id}#{phone_e164}"))
}

/// GSI1 partition of a campaign's targets waiting for a call or holding a slot.
pub fn target_queue(ws: &str, campaign_id: &str, status: switchboard_core::model::TargetStatus) -> String {
    let status = match status {
        switchboard_core::model::TargetStatus::Dialing => "DIALING",
        _ => "PENDING",
    };
    format!("{ws}#TARGET#{campaign_id}#{status}")
}

pub fn audience_import(ws: &str, import_id: &str) -> Key {
    Key::new(format!("{ws}#IMPORT"), import_id)
}

/// Numbers of an audience import waiting to be screened and written.
pub fn import_chunk(ws: &str, import_id: &str, chunk: usize) -> Key {
    Key::new(format!("{ws}#IMPORT_CHUNK"), format!("{import_id}#{chunk:05}"))
}

/// How many numbers each of a workspace's lists holds (never fewer than it does): screening
/// skips a list that is empty.
pub fn phone_list_counts(ws: &str) -> Key {
    Key::new(format!("{ws}#PHONE_LISTS"), "COUNTS")
}

/// A number in its 7-day cool-down after a campaign called it.
pub fn cooldown(ws: &str, pseudonym: &str) -> Key {
    Key::new(format!("{ws}#COOLDOWN"), pseudonym)
}

/// An event, in its workspace's event log.
pub fn event(ws: &str, event_id: &str) -> Key {
    Key::new(format!("{ws}#EVENT"), event_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_keys_begin_with_the_workspace_id() {
        let ws = "ws_01JD3QZ9R6X4Y7T2W8V5N1M0KA";
        for key in [
            workspace(ws),
            user(ws, "usr_1"),
            wallet(ws),
            hold(ws, "call_1"),
            session(ws, "ses_1"),
            api_key(ws, "key_1"),
            idempotency(Some(ws), "k"),
            resource(ws, "AGENT", "agt_1"),
            unique(ws, "CONTACT_PHONE", "+14155550100"),
        ] {
            assert!(key.pk.starts_with(ws), "{key:?}");
        }
        assert!(index_partition(ws, "CONTACT", "EMAIL#a@b.co").starts_with(ws));
        assert!(timeline(ws, "con_1").starts_with(ws));
    }

    #[test]
    fn every_workspace_partition_is_listed() {
        use crate::layout::{APPOINTMENT_SLOT, CONTACT_PHONE, Layout, SECRET_NAME};
        use switchboard_core::model::{
            Agent, Appointment, Approval, Call, Campaign, Contact, Conversation, Delivery, LedgerEntry, PhoneNumber,
            StoredSecret, WebhookEndpoint,
        };
        let ws = "ws_01JD3QZ9R6X4Y7T2W8V5N1M0KA";
        let mut partitions: Vec<String> = [
            workspace(ws).pk,
            hold(ws, "call").pk,
            usage_partition(ws),
            session(ws, "ses").pk,
            idempotency(Some(ws), "k").pk,
            event(ws, "evt").pk,
            dnc(ws, switchboard_core::model::DncList::Dnc, "+1").pk,
            dnc(ws, switchboard_core::model::DncList::Registry, "+1").pk,
            cooldown(ws, "+1").pk,
            campaign_state(ws, "cmp").pk,
            target(ws, "cmp", "+1").pk,
            audience_import(ws, "imp").pk,
            import_chunk(ws, "imp", 0).pk,
            call_relay(ws, "call").pk,
            unique(ws, CONTACT_PHONE, "+1").pk,
            unique(ws, APPOINTMENT_SLOT, "t").pk,
            unique(ws, SECRET_NAME, "n").pk,
        ]
        .into_iter()
        .collect();
        for collection_name in [
            Agent::COLLECTION,
            Contact::COLLECTION,
            Appointment::COLLECTION,
            PhoneNumber::COLLECTION,
            Approval::COLLECTION,
            Conversation::COLLECTION,
            Call::COLLECTION,
            WebhookEndpoint::COLLECTION,
            Delivery::COLLECTION,
            Campaign::COLLECTION,
            LedgerEntry::COLLECTION,
            StoredSecret::COLLECTION,
        ] {
            partitions.push(collection(ws, collection_name));
        }
        for pk in partitions {
            let suffix = pk.strip_prefix(ws).unwrap();
            assert!(
                WORKSPACE_PARTITIONS.contains(&suffix),
                "{suffix} is missing from WORKSPACE_PARTITIONS"
            );
        }
        assert!(event(ws, "evt_1").pk.starts_with(ws));
    }
}
