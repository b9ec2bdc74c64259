//! Calls: placing one, the single path every status report takes (a Twilio callback and a
//! simulator step alike), and the work after a call ends (transcript, analysis).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use switchboard_core::error::ProviderError;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{
    Agent, CURRENCY, Call, CallCost, CallObject, CallRecording, CallStatus, Contact, Conversation, Direction, Event,
    EventType, NumberStatus, PhoneNumber, Plan, ProviderMode, Sentiment, VOICES, price, recording_declined,
    voice_by_id,
};
use switchboard_core::ports::{
    CallJob, CallQueue, CampaignCallEnd, Charge, Directory, DncStore, HeldCall, Hold, OutboundCall, ProviderAccounts,
    Recordings, Repository, Telephony, Unique, Versioned, Wallets, Workspaces,
};
use switchboard_core::{Error, ErrorCode, StoreError, validate};

use crate::conversation::{Engine, Party};

/// The metadata of a campaign's call naming which of its target's attempts it is.
pub const METADATA_ATTEMPT: &str = "attempt";
/// The metadata of a campaign's call naming its target.
pub const METADATA_TARGET_ID: &str = "target_id";

/// How often a change is re-applied when another write to the call got in first.
const ATTEMPTS: usize = 8;
/// How long past its longest duration a call may go unreported before it is taken as lost:
/// room for the provider's final report to arrive late.
pub const OVERDUE_GRACE: chrono::Duration = chrono::Duration::minutes(5);
/// The longest a queue holds a job back; a later check is queued again from there.
const MAX_QUEUE_DELAY: chrono::Duration = chrono::Duration::minutes(15);

/// Where a call's life is written: its record, the wallet its hold and charge move, and the
/// queue of the work that follows its end.
#[derive(Clone, Copy)]
pub struct CallBook<'a> {
    pub calls: &'a dyn Repository<Call>,
    pub wallets: &'a dyn Wallets,
    pub jobs: &'a dyn CallQueue,
    /// Settles a campaign's call as it ends, where the writer of the end can (the call worker,
    /// running simulated calls); else the end is queued for the call worker.
    pub campaign_ends: Option<&'a dyn CampaignCallEnds>,
}

/// What settles a campaign's call once it ended (the dialer).
#[async_trait::async_trait]
pub trait CampaignCallEnds: Send + Sync {
    async fn campaign_call_ended(&self, workspace_id: &str, call_id: &str, end: &CampaignCallEnd) -> Result<(), Error>;
}

/// How a campaign's call ended, for settling its target; `None` for a call of no campaign, or
/// not ended.
pub fn campaign_end(call: &Call) -> Option<CampaignCallEnd> {
    Some(CampaignCallEnd {
        campaign_id: call.campaign_id.clone().filter(|_| call.status.is_final())?,
        to: call.to.clone(),
        status: call.status,
        attempt: call.metadata.get(METADATA_ATTEMPT).and_then(|a| a.parse().ok()),
    })
}

/// What a call may cost at most, held on the wallet before it is placed or answered: its
/// agent's longest call at the plan's rate in the workspace's provider mode.
pub fn hold_for(agent: &Agent, plan: Plan, mode: ProviderMode, now: DateTime<Utc>) -> Hold {
    Hold {
        amount_minor: price(agent.max_call_duration, plan.per_minute_minor_in(mode)),
        max_active_calls: plan.max_active_calls(),
        destination_country: None,
        live: false,
        at: now,
    }
}

/// A call about to be recorded.
#[derive(Debug, Clone)]
pub struct NewCall<'a> {
    pub direction: Direction,
    pub agent: &'a Agent,
    /// The workspace's number: the caller of an outbound call, the callee of an inbound one.
    pub number: &'a PhoneNumber,
    /// The other party (E.164).
    pub remote: String,
    pub contact_id: Option<String>,
    pub campaign_id: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub plan: Plan,
    /// Whose providers carry the call, which sets its rate.
    pub mode: ProviderMode,
    pub provider: String,
    pub provider_call_id: Option<String>,
}

impl NewCall<'_> {
    /// The call record: queued when we place it, ringing when it comes in.
    pub fn record(self, now: DateTime<Utc>) -> Call {
        let at = switchboard_core::clock::api_time(now);
        let (from, to, status) = match self.direction {
            Direction::Outbound => (self.number.phone_number.clone(), self.remote, CallStatus::Queued),
            Direction::Inbound => (self.remote, self.number.phone_number.clone(), CallStatus::Ringing),
        };
        Call {
            id: ids::new_id_at(prefix::CALL, now),
            object: CallObject,
            direction: self.direction,
            status,
            agent_id: self.agent.id.clone(),
            phone_number_id: self.number.id.clone(),
            from,
            to,
            contact_id: self.contact_id,
            campaign_id: self.campaign_id,
            conversation_id: None,
            provider: self.provider,
            provider_call_id: self.provider_call_id,
            metadata: self.metadata,
            transcript: Vec::new(),
            summary: None,
            sentiment: None,
            outcome: None,
            recording_url: None,
            recording: None,
            duration_seconds: None,
            cost: Some(CallCost {
                amount_minor: 0,
                currency: CURRENCY.into(),
                billed_minutes: 0,
                per_minute_minor: self.plan.per_minute_minor_in(self.mode),
            }),
            ended_reason: None,
            answered_at: None,
            ended_at: None,
            created_at: at,
            updated_at: at,
        }
    }
}

/// Reads the call, applies `change` and writes it at the version read, again from a fresh read
/// when another write got in first. `change` returns the events of the change, or `None` when
/// there is nothing to change.
pub async fn modify(
    calls: &dyn Repository<Call>,
    workspace_id: &str,
    call_id: &str,
    now: DateTime<Utc>,
    change: impl FnMut(&mut Call) -> Option<Vec<Event>>,
) -> Result<Versioned<Call>, Error> {
    rewrite(calls, None, workspace_id, call_id, None, now, change).await
}

/// A call as read with what it holds ([`Wallets::held_call`]).
pub type HeldRead = (Versioned<Call>, Option<HeldCall>);

/// `modify`, settling the call's hold on `wallets` in the write that makes it final; the
/// first try starts from `read` when given.
async fn rewrite(
    calls: &dyn Repository<Call>,
    wallets: Option<&dyn Wallets>,
    workspace_id: &str,
    call_id: &str,
    mut read: Option<HeldRead>,
    now: DateTime<Utc>,
    mut change: impl FnMut(&mut Call) -> Option<Vec<Event>>,
) -> Result<Versioned<Call>, Error> {
    for _ in 0..ATTEMPTS {
        let (current, read_hold) = match read.take() {
            Some((current, held)) => (current, Some(held)),
            None => (
                calls
                    .get(workspace_id, call_id)
                    .await?
                    .ok_or_else(|| Error::not_found(ErrorCode::CallNotFound))?,
                None,
            ),
        };
        let mut next = current.value.clone();
        let Some(events) = change(&mut next) else {
            return Ok(current);
        };
        next.updated_at = switchboard_core::clock::api_time(now);
        let ends = next.status.is_final() && !current.value.status.is_final();
        let held = match wallets {
            Some(wallets) if ends => match read_hold {
                Some(held) => held,
                None => wallets.held_for(workspace_id, call_id).await?,
            }
            .map(|held| (wallets, held)),
            _ => None,
        };
        let written = match held {
            Some((wallets, held)) => {
                let charge = charge(&mut next, held.amount_minor, now);
                let ended = wallets
                    .end_held_call(workspace_id, &current, &next, &events, held, &charge)
                    .await;
                // The call is settled either way; a fall missed here is seen by the next charge.
                if ended.is_ok()
                    && let Err(e) = watch_low_balance(wallets, workspace_id, &held, &charge, now).await
                {
                    tracing::warn!(error = %e, workspace_id, "the low balance was not noted");
                }
                ended
            }
            None => calls.update(workspace_id, &current, &next, &events).await,
        };
        match written {
            Ok(updated) => return Ok(updated),
            Err(StoreError::VersionMismatch) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::refused(
        ErrorCode::ConcurrentModification,
        ErrorCode::ConcurrentModification.description(),
    ))
}

/// Sends `billing.low_balance` when this charge took the available balance below the wallet's
/// threshold: once per crossing, however many calls end at once (the wallet notes it
/// conditionally), and starting an auto-charge when that is on (see the event router).
async fn watch_low_balance(
    wallets: &dyn Wallets,
    workspace_id: &str,
    held: &HeldCall,
    charge: &Charge,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let Some(threshold) = held.low_balance_threshold_minor else {
        return Ok(());
    };
    let available = held.available_minor + held.amount_minor - charge.amount_minor;
    if charge.amount_minor == 0 || available >= threshold {
        return Ok(());
    }
    let event = Event::new(
        EventType::BillingLowBalance,
        now,
        serde_json::json!({"object": "balance", "available_minor": available, "threshold_minor": threshold,
                           "currency": CURRENCY}),
    );
    wallets.note_low_balance(workspace_id, &event).await?;
    Ok(())
}

/// What an ended call is charged: its rated cost, capped at what it held (the provider cuts a
/// call at its agent's longest duration, which is what was held).
fn charge(call: &mut Call, held_minor: i64, now: DateTime<Utc>) -> Charge {
    let (mut amount_minor, mut minutes) = (0, 0);
    if let Some(cost) = &mut call.cost {
        if cost.per_minute_minor > 0 {
            let most = u32::try_from(held_minor / cost.per_minute_minor).unwrap_or(u32::MAX);
            cost.billed_minutes = cost.billed_minutes.min(most);
        }
        cost.amount_minor = i64::from(cost.billed_minutes) * cost.per_minute_minor;
        (amount_minor, minutes) = (cost.amount_minor, cost.billed_minutes);
    }
    Charge {
        amount_minor,
        entry_id: ids::new_id_at(prefix::LEDGER_ENTRY, now),
        // No phone number: entries never change, and a person's data must be erasable.
        description: format!("Call {}: {minutes} min", call.id),
        at: now,
    }
}

/// Records an outbound call with its hold on the wallet, and asks the provider to place it.
/// A special-service number, or a wallet that cannot hold the call (see
/// [`switchboard_core::ports::refusal`]), refuses it and nothing is written. A provider that
/// refuses the call leaves it `failed`; one that cannot be reached too, answered as 503.
pub async fn place(
    book: CallBook<'_>,
    telephony: &dyn Telephony,
    workspace_id: &str,
    call: Call,
    agent: &Agent,
    hold: Hold,
    now: DateTime<Utc>,
) -> Result<Versioned<Call>, Error> {
    let destination = validate::destination(&call.to);
    if let Some(kind) = destination.special_service {
        return Err(Error::invalid(
            ErrorCode::SpecialServiceNumber,
            "to",
            format!(
                "This is a {} number: premium-rate, shared-cost and other special-service numbers are never called.",
                kind.replace('_', " ")
            ),
        ));
    }
    // International networks (satellite phones, +800 and the like) belong to no country, so no
    // list of allowed countries takes them.
    if destination.country.is_none() {
        return Err(Error::invalid(
            ErrorCode::DestinationNotAllowed,
            "to",
            "This number belongs to no country (an international network, such as satellite phones); such numbers are never called.",
        ));
    }
    let hold = Hold {
        destination_country: destination.country.clone(),
        live: telephony.is_live(),
        ..hold
    };
    let call = Call {
        provider_call_id: call
            .provider_call_id
            .clone()
            .or_else(|| telephony.call_id_for(&call.id)),
        ..call
    };
    // A campaign's calls are watched by its dialer already: their targets' leases run out.
    if call.campaign_id.is_none() {
        watch(book.jobs, workspace_id, &call.id, agent, now).await?;
    }
    let created = book
        .wallets
        .insert_held_call(workspace_id, &call, &hold)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(code @ ErrorCode::DestinationNotAllowed) => Error::invalid(
                code,
                "to",
                format!(
                    "Calls to {} are not allowed: add it to allowed_countries (PATCH /v1/billing/spending-controls).",
                    destination.country.as_deref().unwrap_or("this country")
                ),
            ),
            e => e.into(),
        })?;
    let outbound = OutboundCall {
        workspace_id: workspace_id.to_owned(),
        call_id: call.id.clone(),
        from: call.from.clone(),
        to: call.to.clone(),
        max_duration: agent.max_call_duration,
    };
    let failure = match telephony.place_call(&outbound).await {
        Ok(provider_call_id) if created.value.provider_call_id.as_ref() == Some(&provider_call_id) => {
            return Ok(created);
        }
        Ok(provider_call_id) => {
            return modify(book.calls, workspace_id, &call.id, now, |c| {
                (c.provider_call_id.is_none()).then(|| {
                    c.provider_call_id = Some(provider_call_id.clone());
                    Vec::new()
                })
            })
            .await;
        }
        Err(e) => e,
    };
    let reason = match &failure {
        ProviderError::Rejected(why) => format!("rejected by the provider: {why}"),
        ProviderError::Unauthorized(why) => format!("the provider refused the credential: {why}"),
        ProviderError::Unavailable(_) => "provider_unavailable".to_owned(),
    };
    let failed = report(
        book,
        workspace_id,
        &created.value.id,
        StatusReport {
            status: CallStatus::Failed,
            at: now,
            duration_seconds: None,
            reason: Some(reason),
        },
    )
    .await?;
    match failure {
        ProviderError::Rejected(_) | ProviderError::Unauthorized(_) => Ok(failed),
        ProviderError::Unavailable(e) => Err(Error::unavailable(e)),
    }
}

/// What placing a call on request reads besides its book: the agent and number it names, the
/// phone lists, the caller's contact, and whose providers carry it.
#[derive(Clone, Copy)]
pub struct Outbound<'a> {
    pub agents: &'a dyn Repository<Agent>,
    pub numbers: &'a dyn Repository<PhoneNumber>,
    pub contacts: &'a dyn Repository<Contact>,
    pub dnc: &'a dyn DncStore,
    pub providers: &'a dyn ProviderAccounts,
    pub book: CallBook<'a>,
}

/// A call asked for by the API or a workflow step.
#[derive(Debug, Clone)]
pub struct CallRequest {
    pub agent_id: String,
    pub phone_number_id: String,
    /// E.164, normalised.
    pub to: String,
    pub contact_id: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// The call's id when the caller derives one (a workflow step placing it again finds it).
    pub id: Option<String>,
}

/// Places a call asked for outside a campaign: an active agent, a number the workspace still
/// holds, a callee on none of its phone lists; its contact found by number when not given; then
/// as [`place`] does, with the hold of the agent's longest call at the plan's rate.
pub async fn start_outbound(
    outbound: Outbound<'_>,
    workspace_id: &str,
    request: CallRequest,
    plan: Plan,
    now: DateTime<Utc>,
) -> Result<Versioned<Call>, Error> {
    let agent = active_agent(outbound.agents, workspace_id, &request.agent_id).await?;
    let number_not_found = || {
        Error::invalid(
            ErrorCode::PhoneNumberNotFound,
            "phone_number_id",
            ErrorCode::PhoneNumberNotFound.description(),
        )
    };
    if !ids::is_valid(prefix::NUMBER, &request.phone_number_id) {
        return Err(number_not_found());
    }
    let number = outbound
        .numbers
        .get(workspace_id, &request.phone_number_id)
        .await?
        .ok_or_else(number_not_found)?
        .value;
    if number.status == NumberStatus::Released {
        return Err(Error::invalid(
            ErrorCode::PhoneNumberReleased,
            "phone_number_id",
            "This number was released; import it again or use another.",
        ));
    }
    let screening = outbound
        .dnc
        .screen(workspace_id, std::slice::from_ref(&request.to), now)
        .await?
        .remove(&request.to)
        .unwrap_or_default();
    if screening.on_dnc || screening.on_registry {
        return Err(Error::invalid(
            ErrorCode::NumberOnDnc,
            "to",
            "This number is on the workspace's do-not-call list or a registry it imported.",
        ));
    }
    if !screening.allows(None) {
        return Err(Error::invalid(
            ErrorCode::NumberInCooldown,
            "to",
            "A campaign called this number within the last 7 days; it is not called again before then.",
        ));
    }
    let contact_id = match request.contact_id {
        Some(id) => Some(id),
        None => contact_for_phone(outbound.contacts, workspace_id, &request.to).await?,
    };
    let telephony = outbound.providers.telephony(workspace_id).await?;
    let mode = outbound.providers.mode(workspace_id).await?;
    let mut record = NewCall {
        direction: Direction::Outbound,
        agent: &agent,
        number: &number,
        remote: request.to,
        contact_id,
        campaign_id: None,
        metadata: request.metadata,
        plan,
        mode,
        provider: telephony.provider().to_owned(),
        provider_call_id: None,
    }
    .record(now);
    if let Some(id) = request.id {
        record.id = id;
    }
    place(
        outbound.book,
        telephony.as_ref(),
        workspace_id,
        record,
        &agent,
        hold_for(&agent, plan, mode, now),
        now,
    )
    .await
}

/// What an inbound call needs to find its workspace, number, agent and caller.
pub struct Inbound<'a> {
    pub numbers: &'a dyn Repository<PhoneNumber>,
    pub agents: &'a dyn Repository<Agent>,
    pub contacts: &'a dyn Repository<Contact>,
    pub accounts: &'a dyn Workspaces,
    pub directory: &'a dyn Directory,
    /// Whose providers the workspace's calls go through, which sets their rate.
    pub providers: &'a dyn ProviderAccounts,
    /// Where the check that ends a call whose end is never reported is queued.
    pub jobs: &'a dyn CallQueue,
}

/// Records a call coming in to `to` from `from` (both E.164) in the workspace holding `to`
/// (which must be `only_in` when given), answered by the agent attached to the number, with
/// its hold on the wallet (refused as `place` refuses). The call is `ringing`; returned with its
/// workspace.
#[allow(clippy::too_many_arguments)]
pub async fn receive(
    inbound: Inbound<'_>,
    wallets: &dyn Wallets,
    from: &str,
    to: &str,
    only_in: Option<&str>,
    provider: &str,
    provider_call_id: Option<String>,
    now: DateTime<Utc>,
) -> Result<(String, Versioned<Call>), Error> {
    let no_number = || {
        Error::invalid(
            ErrorCode::PhoneNumberNotFound,
            "to",
            "No workspace answers this number.",
        )
    };
    let (workspace_id, number_id) = inbound
        .directory
        .number_owner(to)
        .await?
        .filter(|(ws, _)| only_in.is_none_or(|only| only == ws))
        .ok_or_else(no_number)?;
    let ws = workspace_id.as_str();
    let number = inbound.numbers.get(ws, &number_id).await?.ok_or_else(no_number)?.value;
    let agent_id = number.agent_id.clone().ok_or_else(|| {
        Error::invalid(
            ErrorCode::ValidationFailed,
            "to",
            "No agent answers this number: attach one with PATCH /v1/numbers/{id}.",
        )
    })?;
    let agent = active_agent(inbound.agents, ws, &agent_id).await?;
    let contact_id = contact_for_phone(inbound.contacts, ws, from).await?;
    let plan = inbound
        .accounts
        .get_workspace(ws)
        .await?
        .map_or(Plan::Starter, |w| w.plan);
    let mode = inbound.providers.mode(ws).await?;
    let call = NewCall {
        direction: Direction::Inbound,
        agent: &agent,
        number: &number,
        remote: from.to_owned(),
        contact_id,
        campaign_id: None,
        metadata: BTreeMap::new(),
        plan,
        mode,
        provider: provider.to_owned(),
        provider_call_id,
    }
    .record(now);
    watch(inbound.jobs, ws, &call.id, &agent, now).await?;
    let created = wallets
        .insert_held_call(ws, &call, &hold_for(&agent, plan, mode, now))
        .await?;
    Ok((workspace_id, created))
}

/// Queues the check that ends the call `call_id` should its final report never come (a lost
/// callback, a function that died between writing the call and placing it), so that its hold
/// is never kept for good. Queued before the call is written: a call is never without one.
async fn watch(
    jobs: &dyn CallQueue,
    workspace_id: &str,
    call_id: &str,
    agent: &Agent,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let due = now + chrono::Duration::seconds(i64::from(agent.max_call_duration)) + OVERDUE_GRACE;
    check_at(jobs, workspace_id, call_id, due, now).await
}

/// Queues the check of `call_id` due at `due`, to run then or, when that is further than a
/// queue holds a job back, to wait again.
async fn check_at(
    jobs: &dyn CallQueue,
    workspace_id: &str,
    call_id: &str,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let job = CallJob::Overdue {
        workspace_id: workspace_id.to_owned(),
        call_id: call_id.to_owned(),
        due_at: due.timestamp(),
    };
    let delay = (due - now)
        .clamp(chrono::Duration::zero(), MAX_QUEUE_DELAY)
        .to_std()
        .unwrap_or_default();
    jobs.enqueue(&job, delay).await.map_err(Error::unavailable)
}

/// The check [`watch`] queued, at `now`: not yet due, it waits again; due, a call still going
/// takes the final status its provider reports, or else is hung up and ends
/// (`exceeded_max_duration`): completed until now if it was answered, failed if not. Either
/// way through [`report`], which settles its hold.
pub async fn end_if_overdue(
    book: CallBook<'_>,
    providers: &dyn ProviderAccounts,
    workspace_id: &str,
    call_id: &str,
    due_at: i64,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let due = DateTime::from_timestamp(due_at, 0).unwrap_or(now);
    if due > now {
        return check_at(book.jobs, workspace_id, call_id, due, now).await;
    }
    let Some(call) = book.calls.get(workspace_id, call_id).await? else {
        return Ok(());
    };
    if call.value.status.is_final() {
        return Ok(());
    }
    let telephony = providers.telephony(workspace_id).await?;
    let seen = match &call.value.provider_call_id {
        Some(id) => telephony.fetch_call(id).await.map_err(Error::from)?,
        None => None,
    };
    let end = match seen {
        Some(seen) if seen.status.is_final() => {
            // Its answer went unreported too: the seconds the provider counted say when it was.
            let talked = seen.duration_seconds.filter(|&seconds| seconds > 0);
            if let (None, Some(seconds)) = (call.value.answered_at, talked) {
                let answered = StatusReport {
                    status: CallStatus::InProgress,
                    at: now - chrono::Duration::seconds(i64::from(seconds)),
                    duration_seconds: None,
                    reason: None,
                };
                report(book, workspace_id, call_id, answered).await?;
            }
            StatusReport {
                status: seen.status,
                at: now,
                duration_seconds: seen.duration_seconds,
                reason: None,
            }
        }
        _ => {
            if let Some(id) = &call.value.provider_call_id {
                // Ended here whatever the provider says; a failed hang-up is its to report.
                let _ = telephony.hang_up(id).await;
            }
            // An answered call talked until now, as far as anyone here knows (charged at most
            // what it held); an unanswered one failed.
            let answered = call.value.answered_at;
            StatusReport {
                status: if answered.is_some() {
                    CallStatus::Completed
                } else {
                    CallStatus::Failed
                },
                at: now,
                duration_seconds: answered.map(|at| u32::try_from((now - at).num_seconds()).unwrap_or(0)),
                reason: Some("exceeded_max_duration".into()),
            }
        }
    };
    report(book, workspace_id, call_id, end).await.map(|_| ())
}

/// The agent `agent_id` of the workspace, if it may take calls.
pub async fn active_agent(agents: &dyn Repository<Agent>, workspace_id: &str, agent_id: &str) -> Result<Agent, Error> {
    let not_found = || {
        Error::invalid(
            ErrorCode::AgentNotFound,
            "agent_id",
            "No agent with this id in the workspace.",
        )
    };
    if !ids::is_valid(prefix::AGENT, agent_id) {
        return Err(not_found());
    }
    let agent = agents.get(workspace_id, agent_id).await?.ok_or_else(not_found)?.value;
    if !agent.is_active {
        return Err(Error::invalid(
            ErrorCode::AgentInactive,
            "agent_id",
            "This agent is not active; activate it with PATCH /v1/agents/{id}.",
        ));
    }
    Ok(agent)
}

/// The workspace's contact with this phone number, if it has one.
pub async fn contact_for_phone(
    contacts: &dyn Repository<Contact>,
    workspace_id: &str,
    phone: &str,
) -> Result<Option<String>, Error> {
    let unique = Unique::ContactPhone(phone.to_owned());
    Ok(contacts.find_unique(workspace_id, &unique).await?.map(|c| c.value.id))
}

/// What a provider says about a call: a Twilio status callback, a simulator step.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusReport {
    pub status: CallStatus,
    pub at: DateTime<Utc>,
    /// Seconds of conversation, when the provider counts them.
    pub duration_seconds: Option<u32>,
    pub reason: Option<String>,
}

fn default_reason(status: CallStatus) -> &'static str {
    match status {
        CallStatus::Completed => "hangup",
        CallStatus::Busy => "busy",
        CallStatus::NoAnswer => "no_answer",
        CallStatus::Voicemail => "voicemail",
        CallStatus::Canceled => "canceled",
        _ => "failed",
    }
}

/// Applies a status report: calls only move forward (queued, ringing, in progress, final), so a
/// late, repeated or out-of-order report changes nothing. Answering records `call.started`;
/// ending records `call.ended` (`call.failed` for `failed`), with duration and cost, settles
/// the call's hold in the same write (charged once, however often the end is reported), and
/// queues the post-call work when the agent talked.
pub async fn report(
    book: CallBook<'_>,
    workspace_id: &str,
    call_id: &str,
    report: StatusReport,
) -> Result<Versioned<Call>, Error> {
    apply_report(book, workspace_id, call_id, None, report).await
}

/// [`report`] to a call already read with what it holds: nothing is read again unless another
/// write got in first.
pub async fn report_to(
    book: CallBook<'_>,
    workspace_id: &str,
    read: HeldRead,
    report: StatusReport,
) -> Result<Versioned<Call>, Error> {
    let call_id = read.0.value.id.clone();
    apply_report(book, workspace_id, &call_id, Some(read), report).await
}

async fn apply_report(
    book: CallBook<'_>,
    workspace_id: &str,
    call_id: &str,
    read: Option<HeldRead>,
    report: StatusReport,
) -> Result<Versioned<Call>, Error> {
    let at = switchboard_core::clock::api_time(report.at);
    let updated = rewrite(
        book.calls,
        Some(book.wallets),
        workspace_id,
        call_id,
        read,
        report.at,
        |call| {
            if report.status.stage() <= call.status.stage() {
                return None;
            }
            call.status = report.status;
            let event = match report.status {
                CallStatus::Queued | CallStatus::Ringing => None,
                CallStatus::InProgress => {
                    call.answered_at = Some(at);
                    Some(EventType::CallStarted)
                }
                status => {
                    call.ended_at = Some(at);
                    if let Some(answered) = call.answered_at {
                        let seconds = report
                            .duration_seconds
                            .unwrap_or_else(|| (at - answered).num_seconds().max(0) as u32);
                        call.duration_seconds = Some(seconds);
                        if let Some(cost) = &mut call.cost {
                            cost.billed_minutes = seconds.div_ceil(60);
                            cost.amount_minor = price(seconds, cost.per_minute_minor);
                        }
                    }
                    call.ended_reason = Some(
                        report
                            .reason
                            .clone()
                            .unwrap_or_else(|| default_reason(status).to_owned()),
                    );
                    Some(if status == CallStatus::Failed {
                        EventType::CallFailed
                    } else {
                        EventType::CallEnded
                    })
                }
            };
            Some(event.map(|e| vec![Event::new(e, at, &*call)]).unwrap_or_default())
        },
    )
    .await?;
    // Also after a repeated final report: the first one's worker may have died before queueing.
    // Both jobs are idempotent.
    let call = &updated.value;
    if let Some(end) = campaign_end(call) {
        match book.campaign_ends {
            Some(ends) => ends.campaign_call_ended(workspace_id, &call.id, &end).await?,
            None => {
                let job = CallJob::CampaignCallEnded {
                    workspace_id: workspace_id.to_owned(),
                    call_id: call.id.clone(),
                    end: Some(end),
                };
                book.jobs
                    .enqueue(&job, Duration::ZERO)
                    .await
                    .map_err(Error::unavailable)?;
            }
        }
    }
    if call.status.is_final() && call.conversation_id.is_some() && call.summary.is_none() {
        let job = CallJob::PostCall {
            workspace_id: workspace_id.to_owned(),
            call_id: call.id.clone(),
        };
        book.jobs
            .enqueue(&job, Duration::ZERO)
            .await
            .map_err(Error::unavailable)?;
    }
    Ok(updated)
}

/// The id of the conversation held on a call: derived from the call's, so that a retried step
/// finds the conversation it started instead of starting another.
pub fn conversation_id_of(call_id: &str) -> String {
    let ulid = call_id.strip_prefix("call_").unwrap_or(call_id);
    format!("{}_{ulid}", prefix::CONVERSATION)
}

/// The conversation of an answered call, started (the agent's first message) on first use.
pub async fn conversation(
    engine: &Engine,
    calls: &dyn Repository<Call>,
    workspace_id: &str,
    agent: &Agent,
    call: &Call,
    now: DateTime<Utc>,
) -> Result<Versioned<Conversation>, Error> {
    let id = conversation_id_of(&call.id);
    let existing = engine.conversations.get(workspace_id, &id).await?;
    let conversation = match existing {
        Some(conversation) => conversation,
        None => {
            let party = Party {
                phone: Some(match call.direction {
                    Direction::Outbound => call.to.clone(),
                    Direction::Inbound => call.from.clone(),
                }),
                contact_id: call.contact_id.clone(),
            };
            engine
                .start_with_id(
                    workspace_id,
                    id.clone(),
                    agent,
                    switchboard_core::model::Channel::Call,
                    Some(call.id.clone()),
                    party,
                    now,
                )
                .await?
        }
    };
    if call.conversation_id.is_none() {
        modify(calls, workspace_id, &call.id, now, |c| {
            c.conversation_id.is_none().then(|| {
                c.conversation_id = Some(id.clone());
                Vec::new()
            })
        })
        .await?;
    }
    Ok(conversation)
}

/// After a call ends: ends its conversation, stores the transcript on the call
/// (`transcript.ready`), then the analysis (`analysis.complete`). Each step is done once; a
/// retry goes on from the first step not done.
pub async fn finish(
    engine: &Engine,
    calls: &dyn Repository<Call>,
    agents: &dyn Repository<Agent>,
    workspace_id: &str,
    call_id: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let Some(call) = calls.get(workspace_id, call_id).await? else {
        return Ok(());
    };
    let (true, Some(conversation_id)) = (call.value.status.is_final(), call.value.conversation_id.clone()) else {
        return Ok(());
    };
    let mut call = call.value;
    if call.transcript.is_empty() {
        let conversation = engine.end(workspace_id, &conversation_id, "call_ended", now).await?;
        let messages = conversation.messages;
        let at = switchboard_core::clock::api_time(now);
        call = modify(calls, workspace_id, call_id, now, |c| {
            c.transcript.is_empty().then(|| {
                c.transcript = messages.clone();
                vec![Event::new(EventType::TranscriptReady, at, &*c)]
            })
        })
        .await?
        .value;
    }
    if call.summary.is_none() {
        let agent_name = agents
            .get(workspace_id, &call.agent_id)
            .await?
            .map_or_else(|| "a deleted agent".to_owned(), |a| a.value.name);
        let analysis = engine.analyze(workspace_id, &agent_name, &call.transcript, now).await?;
        let sentiment = match analysis.sentiment.as_str() {
            "positive" => Sentiment::Positive,
            "negative" => Sentiment::Negative,
            _ => Sentiment::Neutral,
        };
        let at = switchboard_core::clock::api_time(now);
        modify(calls, workspace_id, call_id, now, |c| {
            c.summary.is_none().then(|| {
                c.summary = Some(analysis.summary.clone());
                c.sentiment = Some(sentiment);
                c.outcome = Some(analysis.outcome.clone());
                vec![Event::new(EventType::AnalysisComplete, at, &*c)]
            })
        })
        .await?;
    }
    Ok(())
}

/// Where a call's recording comes from (the provider that carried the call) and where it is
/// kept.
#[derive(Clone, Copy)]
pub struct Recorder<'a> {
    pub telephony: &'a dyn Telephony,
    pub recordings: &'a dyn Recordings,
    pub accounts: &'a dyn Workspaces,
}

/// After the transcript is stored: keeps the recording of an answered call whose agent records
/// calls, for the plan's retention, unless the callee declined it; then deletes the provider's
/// copies, so that ours, which retention and erasure govern, is the only one. A retry (the
/// provider still preparing the audio) starts again; keeping it twice writes the same object.
pub async fn keep_recording(
    recorder: Recorder<'_>,
    calls: &dyn Repository<Call>,
    agents: &dyn Repository<Agent>,
    workspace_id: &str,
    call_id: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let Some(call) = calls.get(workspace_id, call_id).await? else {
        return Ok(());
    };
    let call = call.value;
    if call.recording.is_some() {
        // Kept by an earlier run that may have died before the provider's copies went.
        return Ok(recorder.telephony.discard_recording(&call).await?);
    }
    if !call.status.is_final() || call.transcript.is_empty() {
        return Ok(());
    }
    let Some(agent) = agents.get(workspace_id, &call.agent_id).await? else {
        return Ok(());
    };
    if !agent.value.record_calls {
        return Ok(());
    }
    if recording_declined(&call.transcript) {
        return Ok(recorder.telephony.discard_recording(&call).await?);
    }
    let voice = voice_by_id(&agent.value.voice).unwrap_or(&VOICES[0]);
    let audio = match recorder.telephony.recording(&call, voice).await {
        Ok(Some(audio)) => audio,
        Ok(None) => return Ok(()),
        Err(ProviderError::Rejected(why) | ProviderError::Unauthorized(why)) => {
            tracing::warn!(workspace_id, call_id, why, "the call's recording could not be made");
            return Ok(());
        }
        Err(ProviderError::Unavailable(e)) => return Err(Error::unavailable(e)),
    };
    let plan = recorder
        .accounts
        .get_workspace(workspace_id)
        .await?
        .map_or(Plan::Starter, |w| w.plan);
    let days = plan.recording_retention_days();
    recorder
        .recordings
        .put(workspace_id, call_id, &audio, days)
        .await
        .map_err(Error::unavailable)?;
    let at = switchboard_core::clock::api_time(now);
    let recording = CallRecording {
        content_type: audio.content_type.to_owned(),
        duration_seconds: audio.duration_seconds().or(call.duration_seconds).unwrap_or_default(),
        size_bytes: audio.audio.len() as u64,
        created_at: at,
        expires_at: at + chrono::Duration::days(i64::from(days)),
    };
    // A call erased meanwhile (its transcript gone) keeps no recording.
    let kept = modify(calls, workspace_id, call_id, now, |c| {
        (c.recording.is_none() && !c.transcript.is_empty()).then(|| {
            c.recording = Some(recording.clone());
            Vec::new()
        })
    })
    .await?;
    if kept.value.recording.is_none() {
        recorder
            .recordings
            .delete(workspace_id, call_id)
            .await
            .map_err(Error::unavailable)?;
    }
    Ok(recorder.telephony.discard_recording(&kept.value).await?)
}

/// How long a recording link handed out with a call serves the audio.
pub const RECORDING_LINK_VALIDITY: Duration = Duration::from_secs(3600);

/// Sets the call's `recording_url` to a fresh link when it has a recording retention has not
/// yet deleted.
pub async fn link_recording(
    recordings: &dyn Recordings,
    workspace_id: &str,
    call: &mut Call,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    call.recording_url = match &call.recording {
        Some(recording) if recording.expires_at > now => Some(
            recordings
                .link(workspace_id, &call.id, RECORDING_LINK_VALIDITY)
                .await
                .map_err(Error::unavailable)?,
        ),
        _ => None,
    };
    Ok(())
}
