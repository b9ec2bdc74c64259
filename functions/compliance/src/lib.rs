//! `compliance`: data-subject requests (`/v1/dsr`): everything held about a person, exported
//! in one bundle or erased.

use std::sync::Arc;

use http::Method;
use serde_json::json;
use switchboard_core::model::{Appointment, Approval, AuditEntry, Call, Campaign, Contact, Conversation, Scope};
use switchboard_core::ports::{
    CampaignStore, DncStore, ErasureStore, Exports, Recordings, Repository, TimelineStore, Workspaces,
};
use switchboard_http::{Access, Platform, Route, Service};
use switchboard_store::DynamoStore;

pub mod erase;
pub mod export;
pub mod subject;

pub struct State {
    pub accounts: Arc<dyn Workspaces>,
    pub contacts: Arc<dyn Repository<Contact>>,
    pub calls: Arc<dyn Repository<Call>>,
    pub conversations: Arc<dyn Repository<Conversation>>,
    pub appointments: Arc<dyn Repository<Appointment>>,
    pub approvals: Arc<dyn Repository<Approval>>,
    pub campaigns: Arc<dyn Repository<Campaign>>,
    pub targets: Arc<dyn CampaignStore>,
    pub timeline: Arc<dyn TimelineStore>,
    pub dnc: Arc<dyn DncStore>,
    pub audit: Arc<dyn Repository<AuditEntry>>,
    pub erasure: Arc<dyn ErasureStore>,
    pub recordings: Arc<dyn Recordings>,
    /// Where bundles larger than `inline_limit` bytes are left, behind a link.
    pub exports: Arc<dyn Exports>,
    pub inline_limit: usize,
}

impl State {
    /// Every port over the one table, and the files bucket's.
    pub fn of(store: &DynamoStore, recordings: Arc<dyn Recordings>, exports: Arc<dyn Exports>) -> Self {
        Self {
            accounts: Arc::new(store.clone()),
            contacts: Arc::new(store.clone()),
            calls: Arc::new(store.clone()),
            conversations: Arc::new(store.clone()),
            appointments: Arc::new(store.clone()),
            approvals: Arc::new(store.clone()),
            campaigns: Arc::new(store.clone()),
            targets: Arc::new(store.clone()),
            timeline: Arc::new(store.clone()),
            dnc: Arc::new(store.clone()),
            audit: Arc::new(store.clone()),
            erasure: Arc::new(store.clone()),
            recordings,
            exports,
            inline_limit: export::INLINE_LIMIT,
        }
    }
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn service(
    platform: Arc<Platform>,
    store: &DynamoStore,
    recordings: Arc<dyn Recordings>,
    exports: Arc<dyn Exports>,
) -> Service<State> {
    Service::new(platform, State::of(store, recordings, exports), routes())
}

const TAG: &str = "Compliance";

pub fn routes() -> Vec<Route<State>> {
    let example = || json!({"contact_identifier": "+14155550100"});
    vec![
        Route::new(Method::POST, "/v1/dsr/export", export::export)
            .doc(TAG, "exportSubject", "Export everything held about a person")
            .describe(
                "One JSON bundle of what the workspace holds about a person, found by `contact_id` or by \
                 `contact_identifier` (their phone number or email): contacts, calls with transcripts and \
                 analysis, conversations, appointments, approvals, do-not-call entries, cool-downs, campaign \
                 targets, the timeline, and the audit entries of all of them. Sends `dsr.exported` (without the data). \
                 A bundle over 5 MB is left in the files bucket for a day instead: `303 See Other` to it (a link \
                 valid for an hour), which HTTP clients follow.",
            )
            .body::<subject::SubjectRequest>(example)
            .returns::<export::DsrExport>(200, "The bundle.")
            .returns::<export::DsrExportFile>(303, "Where the bundle waits (also in `Location`)."),
        Route::new(Method::POST, "/v1/dsr/erase", erase::erase)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "eraseSubject", "Erase a person")
            .describe(
                "Removes or pseudonymises everything held about a person. Contacts, conversations, appointments \
                 and campaign targets are deleted; calls keep only what the ledger needs (times, duration, cost, \
                 status, outcome, the country code of the number); approvals lose their rationale; audit entries \
                 and events name the person's resources by pseudonyms. A number on the do-not-call list stays \
                 blocked: its entry is kept under a keyed hash, without the number. Refused (409 \
                 `subject_busy`) while the person is on a call. Safe to repeat: a run that stopped half-way is \
                 finished by the next. Sends `dsr.erased` with the contact ids, for systems that hold copies.",
            )
            .body::<subject::SubjectRequest>(example)
            .returns::<erase::DsrErasure>(200, "What was erased."),
    ]
}
