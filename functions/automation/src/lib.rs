//! `automation`: connectors (`/v1/connectors`: the built-in catalogue and the workspace's own),
//! connections (`/v1/connections`: a connector with credentials, sealed and never shown) and
//! workflows (`/v1/workflows`), their triggers (`/v1/triggers`) and runs (`/v1/executions`), whose steps the
//! `workflow-runner` function runs; and the assistant that drafts them (`/v1/ai`).

use std::sync::Arc;

use switchboard_core::model::{Agent, Connector, PhoneNumber, StoredConnection, StoredTrigger, Workflow};
use switchboard_core::ports::{Directory, OutboundHttp, ProviderAccounts, Repository, WorkflowQueue, Workspaces};
use switchboard_domain::automation::executions::Runs;
use switchboard_domain::sealing::WorkspaceKeys;
use switchboard_http::{Platform, Route, Service};
use switchboard_store::DynamoStore;

pub mod ai;
pub mod connections;
pub mod connectors;
pub mod executions;
pub mod triggers;
pub mod workflows;

pub struct State {
    pub connectors: Arc<dyn Repository<Connector>>,
    pub connections: Arc<dyn Repository<StoredConnection>>,
    pub workflows: Arc<dyn Repository<Workflow>>,
    pub runs: Runs,
    pub triggers: Arc<dyn Repository<StoredTrigger>>,
    /// Finds an inbound trigger's workspace from its id.
    pub trigger_owners: Arc<dyn Directory>,
    /// What steps name, checked when a workflow is saved.
    pub agents: Arc<dyn Repository<Agent>>,
    pub numbers: Arc<dyn Repository<PhoneNumber>>,
    /// Outside APIs, behind the address guard webhook deliveries use.
    pub http: Arc<dyn OutboundHttp>,
    /// Seal connections' credentials, each workspace's under its own key.
    pub keys: WorkspaceKeys,
    /// Each workspace's language model, for the assistant: the platform's, or its own.
    pub models: Arc<dyn ProviderAccounts>,
    /// Whether a workspace is active, for requests that arrive without its credentials.
    pub accounts: Arc<dyn Workspaces>,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn service(
    platform: Arc<Platform>,
    store: &DynamoStore,
    http: Arc<dyn OutboundHttp>,
    queue: Arc<dyn WorkflowQueue>,
    keys: WorkspaceKeys,
    models: Arc<dyn ProviderAccounts>,
) -> Service<State> {
    let state = State {
        connectors: Arc::new(store.clone()),
        connections: Arc::new(store.clone()),
        workflows: Arc::new(store.clone()),
        runs: Runs {
            executions: Arc::new(store.clone()),
            queue,
        },
        triggers: Arc::new(store.clone()),
        trigger_owners: Arc::new(store.clone()),
        agents: Arc::new(store.clone()),
        numbers: Arc::new(store.clone()),
        http,
        keys,
        models,
        accounts: Arc::new(store.clone()),
    };
    Service::new(platform, state, routes())
}

pub fn routes() -> Vec<Route<State>> {
    connectors::routes()
        .into_iter()
        .chain(connections::routes())
        .chain(workflows::routes())
        .chain(executions::routes())
        .chain(triggers::routes())
        .chain(ai::routes())
        .collect()
}
