//! The domain: workspaces, users, credentials, agents, contacts, and the plan rules over them.

/// Makes a model type with an `id` field a [`Resource`](crate::ports::Resource): its id's
/// prefix and the code answered when it does not exist.
macro_rules! resource {
    ($type:ty, $prefix:ident, $not_found:ident) => {
        impl crate::ports::Resource for $type {
            const ID_PREFIX: &'static str = crate::ids::prefix::$prefix;
            const NOT_FOUND: crate::ErrorCode = crate::ErrorCode::$not_found;

            fn id(&self) -> &str {
                &self.id
            }
        }
    };
}

mod account;
mod agent;
mod api_key;
mod appointment;
mod approval;
mod audit;
mod automation;
mod billing;
mod call;
mod campaign;
mod contact;
mod conversation;
mod customer;
mod dnc;
mod event;
mod execution;
mod number;
mod object;
mod objection;
mod onboarding;
mod plan;
mod secret;
mod team;
mod trigger;
mod voice;
mod webhook;
mod workflow;

pub use account::{
    TEST_CREDIT_MINOR, User, UserObject, UserStatus, Workspace, WorkspaceObject, WorkspaceStatus, is_test_workspace,
    is_workspace_id, test_workspace_id,
};
pub use agent::{
    AGENT_TEMPLATES, Agent, AgentObject, recording_declined, recording_notice, template_schema, voice_schema,
};
pub use api_key::{ApiKey, ApiKeyObject, ApiKeyStatus, KeyMode, Scope};
pub use appointment::{Appointment, AppointmentObject, AppointmentStatus, MAX_APPOINTMENT, SLOT_MINUTES, on_slot};
pub use approval::{Approval, ApprovalObject, ApprovalStatus, ProposedAction};
pub use audit::{Actor, ActorKind, AuditEntry, AuditEntryObject, AuditOrigin, AuditSubject};
pub use automation::{
    Connection, ConnectionObject, ConnectionStatus, ConnectionTest, ConnectionTestObject, Connector, ConnectorAction,
    ConnectorAuth, ConnectorKind, ConnectorObject, HttpMethod, MAX_CONNECTIONS, MAX_CONNECTORS, StoredConnection,
};
pub use billing::{
    AutoCharge, AutoChargeObject, Balance, BalanceObject, CURRENCY, LedgerEntry, LedgerEntryObject, LedgerKind,
    Precheck, PrecheckObject, PrecheckStatus, QuotaLine, Quotas, QuotasObject, SpendingControls,
    SpendingControlsObject, TRIAL_DAYS, Usage, UsageGroup, UsageLine, UsageObject, UsageRecord, UsageTotals, Wallet,
    price,
};
pub use call::{Call, CallCost, CallObject, CallRecording, CallStatus, Direction, Sentiment};
pub use campaign::{
    AudienceCounts, AudienceImport, AudienceImportObject, CallWindow, Campaign, CampaignObject, CampaignStats,
    CampaignStatus, Compliance, Day, ImportStatus, ObjectionHandler, RetryPolicy, RuleBook, Target, TargetObject,
    TargetStatus, callee_zone,
};
pub use contact::{AttributeValue, Contact, ContactObject, MAX_ATTRIBUTES};
pub use conversation::{Channel, Conversation, ConversationObject, ConversationStatus, Message, MessageRole};
pub use customer::{CUSTOMER_HEADER, Customer, CustomerObject, customer_workspace_id, is_customer_workspace};
pub use dnc::{COOLDOWN_DAYS, DncEntry, DncEntryObject, DncList, DncSource, Screening};
pub use event::{Event, EventObject, EventType};
pub use execution::{Execution, ExecutionObject, ExecutionStatus, StepAttempt, StepRun, StepStatus, TriggerType};
pub use number::{
    AvailableNumber, AvailableNumberObject, NUMBER_MONTHLY_FEE_MINOR, NumberSource, NumberStatus, PAST_DUE_DAYS,
    PhoneNumber, PhoneNumberObject,
};
pub use object::ListObject;
pub use objection::{
    OBJECTION_LOCALES, OBJECTIONS, Objection, ObjectionCategory, ObjectionObject, RECORDING_OBJECTION, objection_heard,
};
pub use onboarding::{
    CredentialField, CredentialState, ONBOARDING_PROVIDERS, Onboarding, OnboardingProvider, OnboardingProviderObject,
    OnboardingSettings, OnboardingStatus, OnboardingStatusObject, ProviderCredential, ProviderKind, ProviderMode,
    ProviderStatus, StoredCredential,
};
/// ISO 3166-1 alpha-2 country, as the phone-number library knows it.
pub use phonenumber::country::Id as Country;
pub use plan::{MAX_ACTIVE_API_KEYS, MAX_WEBHOOK_ENDPOINTS, Plan, RateClass};
pub use secret::{MAX_SECRET_BYTES, MAX_SECRETS, Secret, SecretObject, StoredSecret};
pub use team::{
    CustomRole, Family, Grants, Invitation, InvitationObject, InvitationStatus, Role, RoleObject, RoleView,
};
pub use trigger::{MAX_TRIGGERS, StoredTrigger, Trigger, TriggerObject};
pub use voice::{Gender, VOICES, Voice, VoiceObject, voice_by_id, voice_ids};
pub use webhook::{
    Attempt, DELIVERY_RETENTION_DAYS, Delivery, DeliveryObject, DeliveryStatus, SealedSecret, WebhookEndpoint,
    WebhookEndpointObject, WebhookEndpointView, WebhookStatus,
};
pub use workflow::{
    AddToDncStep, Comparison, ConditionStep, HttpStep, MAX_STEPS, MAX_WAIT_MINUTES, MAX_WORKFLOWS,
    SendAgentMessageStep, StartCallStep, Step, UpsertContactStep, WaitStep, Workflow, WorkflowObject, WorkflowStatus,
};
