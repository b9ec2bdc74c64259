//! `billing`: the workspace's wallet (`/v1/billing/...`): its balance, its ledger, whether
//! calls can be paid for, and top-ups through the payment provider (which only the signed
//! payment webhook, served by `payment-webhooks`, credits).

use std::sync::Arc;

use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_core::error::ProviderError;
use switchboard_core::model::{
    AutoCharge, Balance, CURRENCY, LedgerEntry, LedgerKind, MAX_ACTIVE_API_KEYS, MAX_WEBHOOK_ENDPOINTS, Precheck,
    PrecheckObject, PrecheckStatus, QuotaLine, Quotas, QuotasObject, RateClass, Scope, SpendingControls, Usage,
    UsageGroup, UsageLine, UsageObject, UsageTotals, Wallet, WorkspaceStatus, price,
};
use switchboard_core::object_name;
use switchboard_core::ports::{
    AutoChargeChange, ControlsChange, ListQuery, OnboardingStore, Payments, Repository, TopUpRequest, Wallets,
    Workspaces,
};
use switchboard_core::{ErrorCode, StoreError, validate};
use switchboard_http::{Access, ApiError, Patch, Platform, QueryParam, Reply, Request, Route, Service};
use switchboard_store::DynamoStore;
use utoipa::ToSchema;

pub struct State {
    pub wallets: Arc<dyn Wallets>,
    pub ledger: Arc<dyn Repository<LedgerEntry>>,
    pub accounts: Arc<dyn Workspaces>,
    pub payments: Arc<dyn Payments>,
    /// The workspace's provider mode, which sets what its minutes cost.
    pub onboarding: Arc<dyn OnboardingStore>,
}

/// The function over its adapters: what `main.rs` runs and the tests call.
pub fn service(platform: Arc<Platform>, store: &DynamoStore, payments: Arc<dyn Payments>) -> Service<State> {
    let state = State {
        wallets: Arc::new(store.clone()),
        ledger: Arc::new(store.clone()),
        accounts: Arc::new(store.clone()),
        onboarding: Arc::new(store.clone()),
        payments,
    };
    Service::new(platform, state, routes())
}

/// The smallest and largest top-up, in cents.
const MIN_TOP_UP: i64 = 500;
const MAX_TOP_UP: i64 = 1_000_000;

object_name!(TopUpCheckoutObject, "topup_checkout");

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopUp {
    /// 500 to 1,000,000 cents ($5 to $10,000).
    #[schema(minimum = 500, maximum = 1000000)]
    pub amount_minor: i64,
    /// Where the provider's checkout page returns the payer after paying.
    #[schema(max_length = 2000)]
    pub success_url: Option<String>,
    /// Where it returns a payer who gives up.
    #[schema(max_length = 2000)]
    pub cancel_url: Option<String>,
}

/// A checkout opened for a top-up: pay it at `checkout_url`. The balance grows when the
/// provider reports the payment (`billing.topup.succeeded`).
#[derive(Debug, Serialize, ToSchema)]
pub struct TopUpCheckout {
    pub object: TopUpCheckoutObject,
    /// `offline` or `stripe`.
    pub provider: &'static str,
    #[schema(example = "cs_test_a1B2c3")]
    pub checkout_id: String,
    /// The provider's payment page (none offline: the offline provider pays at once).
    pub checkout_url: Option<String>,
    pub amount_minor: i64,
    #[schema(example = "USD")]
    pub currency: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSpendingControls {
    /// 1 to 50 ISO 3166-1 alpha-2 codes.
    #[schema(example = json!(["US", "CA"]))]
    pub allowed_countries: Option<Vec<String>>,
    /// 0 to 100,000,000 cents, or `null` for no limit.
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 100000000)]
    pub daily_spend_limit_minor: Patch<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAutoCharge {
    pub enabled: Option<bool>,
    /// 0 to 1,000,000 cents.
    #[schema(minimum = 0, maximum = 1000000)]
    pub threshold_minor: Option<i64>,
    /// What each auto-charge adds: 500 to 1,000,000 cents, as a top-up.
    #[schema(minimum = 500, maximum = 1000000)]
    pub amount_minor: Option<i64>,
}

/// The largest daily spend limit, in cents ($1,000,000).
const MAX_DAILY_LIMIT: i64 = 100_000_000;
/// The most countries a workspace may allow.
const MAX_COUNTRIES: usize = 50;

const TAG: &str = "Billing";
/// The longest call a precheck prices: two hours, the longest an agent may talk.
const MAX_EXPECTED_SECONDS: u32 = 7200;

pub fn routes() -> Vec<Route<State>> {
    vec![
        Route::new(Method::GET, "/v1/billing/balance", balance)
            .doc(TAG, "getBalance", "Get the balance")
            .describe(
                "`balance_minor` is what the ledger adds up to; calls in progress hold what they may cost (`held_minor`) \
                 until they end and are charged; new calls can hold only what is `available_minor`.",
            )
            .returns::<Balance>(200, "The wallet."),
        Route::new(Method::GET, "/v1/billing/precheck", precheck)
            .doc(TAG, "precheckBilling", "Check that calls can be paid for")
            .describe(
                "Whether a call of `expected_seconds` could be placed now: `ok`, or why not (`insufficient_funds`, \
                 `trial_expired`, `account_suspended`). Changes nothing.",
            )
            .query([QueryParam::string(
                "expected_seconds",
                "Length of the call to price, 1 to 7200 seconds (default 60).",
            )])
            .returns::<Precheck>(200, "What the wallet says."),
        Route::new(Method::GET, "/v1/billing/history", history)
            .doc(TAG, "listLedger", "List the ledger")
            .describe(
                "Every change of the balance, newest first: trial credit, top-ups, call charges. Entries never change; \
                 they add up to the balance.",
            )
            .query([
                QueryParam::string("kind", "`trial_credit`, `top_up`, `auto_charge` or `call_charge`."),
                QueryParam::string("from", "Only entries at or after this time (ISO 8601, or a date)."),
                QueryParam::string("to", "Only entries at or before this time (ISO 8601, or a date: its end)."),
            ])
            .returns_list::<LedgerEntry>("A page of ledger entries, newest first."),
        Route::new(Method::GET, "/v1/billing/usage", usage)
            .doc(TAG, "getUsage", "Get usage")
            .describe(
                "Calls that ended from `from` to `to` (UTC days, at most 366; default the last 30), their billed minutes \
                 and cost, by day (default), agent or campaign.",
            )
            .query([
                QueryParam::string("from", "First day (YYYY-MM-DD)."),
                QueryParam::string("to", "Last day (YYYY-MM-DD; default today)."),
                QueryParam::string("group_by", "`day` (default), `agent` or `campaign`."),
            ])
            .returns::<Usage>(200, "The usage."),
        Route::new(Method::GET, "/v1/billing/quotas", quotas)
            .doc(TAG, "getQuotas", "Get quotas")
            .describe("Each limit of the workspace's plan, and what it uses of it now.")
            .returns::<Quotas>(200, "The plan's limits."),
        Route::new(Method::GET, "/v1/billing/spending-controls", spending_controls)
            .doc(TAG, "getSpendingControls", "Get the spending controls")
            .describe(
                "The countries calls may go to, the daily spend limit and what today's calls have committed, and whether \
                 the owner's verified email lets the workspace place live calls. Premium-rate, shared-cost and other \
                 special-service numbers are always refused (`special_service_number`).",
            )
            .returns::<SpendingControls>(200, "The spending controls."),
        Route::new(Method::PATCH, "/v1/billing/spending-controls", update_spending_controls)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "updateSpendingControls", "Change the spending controls")
            .describe(
                "Calls to a country not in `allowed_countries` are refused with `destination_not_allowed`; calls that would \
                 commit more than `daily_spend_limit_minor` in a UTC day (charged, or held by calls in progress) with \
                 `daily_spend_limit_reached`. `null` removes the limit.",
            )
            .body::<UpdateSpendingControls>(|| json!({"allowed_countries": ["US", "CA"], "daily_spend_limit_minor": 5000}))
            .returns::<SpendingControls>(200, "The spending controls."),
        Route::new(Method::GET, "/v1/billing/autocharge", autocharge)
            .doc(TAG, "getAutoCharge", "Get auto-charge")
            .returns::<AutoCharge>(200, "Auto-charge."),
        Route::new(Method::POST, "/v1/billing/autocharge", set_autocharge)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "setAutoCharge", "Set auto-charge")
            .describe(
                "When the available balance falls below `threshold_minor`, `billing.low_balance` is sent and, when \
                 `enabled`, one charge of `amount_minor` is made on the card a paid top-up saved (409 \
                 `payment_method_required` without one). One charge per crossing: the next starts only after a credit \
                 lifts the balance and it falls again. The charge credits the wallet like a top-up, through the \
                 payment webhook (`billing.topup.succeeded` with `kind: auto_charge`).",
            )
            .body::<SetAutoCharge>(|| json!({"enabled": true, "threshold_minor": 1000, "amount_minor": 5000}))
            .returns::<AutoCharge>(200, "Auto-charge as it now is."),
        Route::new(Method::POST, "/v1/billing/topup", top_up)
            .access(Access::Scoped(Scope::Admin))
            .doc(TAG, "topUp", "Top up the wallet")
            .describe(
                "Opens a checkout with the payment provider and credits nothing: the balance grows when the provider's signed \
                 webhook says the checkout was paid (`billing.topup.succeeded`). Locally the offline provider pays at once.",
            )
            .body::<TopUp>(|| json!({"amount_minor": 2000, "success_url": "https://example.com/billing/done"}))
            .returns::<TopUpCheckout>(201, "The checkout to pay."),
    ]
}

async fn wallet(state: &State, req: &Request) -> Result<Wallet, ApiError> {
    state
        .wallets
        .wallet(req.workspace_id()?, req.now)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("the workspace has no wallet")))
}

async fn balance(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    Ok(Reply::ok(&wallet(&state, &req).await?.balance))
}

async fn spending_controls(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    Ok(Reply::ok(&wallet(&state, &req).await?.controls))
}

async fn autocharge(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    Ok(Reply::ok(&wallet(&state, &req).await?.autocharge))
}

async fn set_autocharge(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: SetAutoCharge = req.json()?;
    if input.threshold_minor.is_some_and(|t| !(0..=MAX_TOP_UP).contains(&t)) {
        return Err(ApiError::validation(
            "threshold_minor",
            "`threshold_minor` must be from 0 to 1000000 cents.",
        ));
    }
    if input
        .amount_minor
        .is_some_and(|a| !(MIN_TOP_UP..=MAX_TOP_UP).contains(&a))
    {
        return Err(ApiError::validation(
            "amount_minor",
            "`amount_minor` must be from 500 to 1000000 cents ($5 to $10,000).",
        ));
    }
    let change = AutoChargeChange {
        enabled: input.enabled,
        threshold_minor: input.threshold_minor,
        amount_minor: input.amount_minor,
    };
    let set = state
        .wallets
        .set_autocharge(req.workspace_id()?, &change, req.now)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(code @ ErrorCode::PaymentMethodRequired) => ApiError::param(
                code,
                "enabled",
                "Auto-charge charges the card a paid top-up saved: top up once (POST /v1/billing/topup) first.",
            ),
            e => e.into(),
        })?;
    Ok(Reply::ok(&set))
}

async fn update_spending_controls(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: UpdateSpendingControls = req.json()?;
    let allowed_countries = match input.allowed_countries {
        Some(raw) => {
            if raw.is_empty() || raw.len() > MAX_COUNTRIES {
                return Err(ApiError::validation(
                    "allowed_countries",
                    "`allowed_countries` lists 1 to 50 countries.",
                ));
            }
            let mut countries = Vec::with_capacity(raw.len());
            for country in &raw {
                let code = validate::country("allowed_countries", country)?.as_ref().to_owned();
                if !countries.contains(&code) {
                    countries.push(code);
                }
            }
            Some(countries)
        }
        None => None,
    };
    let daily_spend_limit_minor = match input.daily_spend_limit_minor {
        Patch::Absent => None,
        Patch::Null => Some(None),
        Patch::Value(limit) if (0..=MAX_DAILY_LIMIT).contains(&limit) => Some(Some(limit)),
        Patch::Value(_) => {
            return Err(ApiError::validation(
                "daily_spend_limit_minor",
                "`daily_spend_limit_minor` must be from 0 to 100000000 cents, or null for no limit.",
            ));
        }
    };
    let change = ControlsChange {
        allowed_countries,
        daily_spend_limit_minor,
    };
    let controls = state
        .wallets
        .set_spending_controls(req.workspace_id()?, &change, req.now)
        .await?;
    Ok(Reply::ok(&controls))
}

async fn precheck(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let expected_seconds = req
        .query_number("expected_seconds", 1..=MAX_EXPECTED_SECONDS)?
        .unwrap_or(60);
    let mode = state.onboarding.onboarding(req.workspace_id()?).await?.settings.mode;
    let per_minute_minor = req.principal()?.plan.per_minute_minor_in(mode);
    let required_minor = price(expected_seconds, per_minute_minor);
    let wallet = wallet(&state, &req).await?.balance;
    let workspace = state.accounts.get_workspace(req.workspace_id()?).await?;
    let status = if workspace.is_none_or(|w| w.status == WorkspaceStatus::Suspended) {
        PrecheckStatus::AccountSuspended
    } else if wallet.trial_over(req.now) {
        PrecheckStatus::TrialExpired
    } else if wallet.available_minor < required_minor {
        PrecheckStatus::InsufficientFunds
    } else {
        PrecheckStatus::Ok
    };
    Ok(Reply::ok(&Precheck {
        object: PrecheckObject,
        status,
        required_minor,
        available_minor: wallet.available_minor,
        per_minute_minor,
        currency: CURRENCY.into(),
    }))
}

async fn history(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let kind = req
        .query("kind")
        .map(|raw| {
            LedgerKind::parse(raw).ok_or_else(|| {
                ApiError::param(
                    ErrorCode::InvalidParameter,
                    "kind",
                    "`kind` must be `trial_credit`, `top_up`, `auto_charge` or `call_charge`.",
                )
            })
        })
        .transpose()?;
    let (from, to) = req.period()?;
    let filters = format!("kind={kind:?}&from={from:?}&to={to:?}");
    let page = req.page(&filters)?;
    let query = ListQuery {
        from,
        to,
        equals: kind.map(|k| ("kind", k.as_str().to_owned())).into_iter().collect(),
        ..ListQuery::from(page)
    };
    let found = state.ledger.query(req.workspace_id()?, &query).await?;
    Ok(req.list_versioned(found, &filters))
}

/// A page the provider sends the payer back to: an http(s) URL (the provider checks it further).
fn return_url(name: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let valid = value.len() <= 2000
        && (value.starts_with("https://") || value.starts_with("http://"))
        && !value.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        return Err(ApiError::validation(
            name,
            format!("`{name}` must be an http(s) URL of at most 2000 characters."),
        ));
    }
    Ok(Some(value))
}

async fn top_up(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let input: TopUp = req.json()?;
    if !(MIN_TOP_UP..=MAX_TOP_UP).contains(&input.amount_minor) {
        return Err(ApiError::validation(
            "amount_minor",
            "`amount_minor` must be from 500 to 1000000 cents ($5 to $10,000).",
        ));
    }
    let request = TopUpRequest {
        workspace_id: req.workspace_id()?.to_owned(),
        amount_minor: input.amount_minor,
        currency: CURRENCY.into(),
        success_url: return_url("success_url", input.success_url)?,
        cancel_url: return_url("cancel_url", input.cancel_url)?,
    };
    let checkout = state.payments.checkout(&request).await.map_err(|e| match e {
        ProviderError::Rejected(why) => ApiError::validation("amount_minor", why),
        ProviderError::Unauthorized(why) => ApiError::unavailable(anyhow::anyhow!("payments refused our key: {why}")),
        ProviderError::Unavailable(e) => ApiError::unavailable(e),
    })?;
    Ok(Reply::created(&TopUpCheckout {
        object: TopUpCheckoutObject,
        provider: state.payments.provider(),
        checkout_id: checkout.id,
        checkout_url: checkout.url,
        amount_minor: request.amount_minor,
        currency: request.currency,
    }))
}

/// The longest range usage is read for, in days.
const MAX_USAGE_DAYS: i64 = 366;

async fn usage(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let group_by = req
        .query_as::<UsageGroup>("group_by", "day, agent or campaign")?
        .unwrap_or(UsageGroup::Day);
    let to = req.query_time("to", false)?.unwrap_or(req.now).date_naive();
    let from = match req.query_time("from", false)? {
        Some(from) => from.date_naive(),
        None => to - chrono::Duration::days(29),
    };
    if from > to {
        return Err(ApiError::param(
            ErrorCode::InvalidParameter,
            "from",
            "`from` is after `to`.",
        ));
    }
    if (to - from).num_days() >= MAX_USAGE_DAYS {
        return Err(ApiError::param(
            ErrorCode::InvalidParameter,
            "from",
            "Usage is read for at most 366 days at once.",
        ));
    }
    let records = state.wallets.usage(req.workspace_id()?, group_by, from, to).await?;
    let mut lines: std::collections::BTreeMap<String, UsageTotals> = std::collections::BTreeMap::new();
    let mut totals = UsageTotals::default();
    for record in records {
        let key = record.key.unwrap_or_else(|| record.day.to_string());
        for sum in [lines.entry(key).or_default(), &mut totals] {
            sum.calls += record.calls;
            sum.minutes += record.minutes;
            sum.cost_minor += record.cost_minor;
        }
    }
    // Calls of no campaign are not in a by-campaign breakdown; the totals count every call.
    if group_by != UsageGroup::Day {
        totals = UsageTotals::default();
        for line in lines.values() {
            totals.calls += line.calls;
            totals.minutes += line.minutes;
            totals.cost_minor += line.cost_minor;
        }
    }
    Ok(Reply::ok(&Usage {
        object: UsageObject,
        from,
        to,
        group_by,
        currency: CURRENCY.into(),
        totals,
        data: lines
            .into_iter()
            .map(|(key, totals)| UsageLine { key, totals })
            .collect(),
    }))
}

async fn quotas(state: Arc<State>, req: Request) -> Result<Reply, ApiError> {
    let plan = req.principal()?.plan;
    let holdings = state.accounts.holdings(req.workspace_id()?).await?;
    let active_calls = wallet(&state, &req).await?.balance.active_calls;
    let line = |name: &str, limit: u32, used: Option<u64>, description: &str| QuotaLine {
        name: name.to_owned(),
        limit: u64::from(limit),
        used,
        description: description.to_owned(),
    };
    let held = |name| holdings.get(name).copied();
    let mode = state.onboarding.onboarding(req.workspace_id()?).await?.settings.mode;
    Ok(Reply::ok(&Quotas {
        object: QuotasObject,
        plan,
        mode,
        per_minute_minor: plan.per_minute_minor_in(mode),
        data: vec![
            line("agents", plan.max_agents(), held("agents"), "Agents in the workspace."),
            line(
                "active_calls",
                plan.max_active_calls(),
                Some(u64::from(active_calls)),
                "Calls in progress at once, across single calls and campaigns.",
            ),
            line("api_keys", MAX_ACTIVE_API_KEYS, held("api_keys"), "Active API keys."),
            line(
                "webhook_endpoints",
                MAX_WEBHOOK_ENDPOINTS,
                held("webhook_endpoints"),
                "Webhook endpoints.",
            ),
            line(
                "reads_per_minute",
                plan.rate_limit(RateClass::Read),
                None,
                "GET requests per credential in any 60 seconds.",
            ),
            line(
                "writes_per_minute",
                plan.rate_limit(RateClass::Write),
                None,
                "Other requests per credential in any 60 seconds.",
            ),
            line(
                "campaign_starts_per_minute",
                plan.rate_limit(RateClass::CampaignStart),
                None,
                "Campaign starts per credential in any 60 seconds.",
            ),
        ],
    }))
}
