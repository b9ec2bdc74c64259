//! `workflow-scheduler`: once a minute, starts the runs of the schedule triggers that are due.
//!
//! Every enabled schedule trigger sits in the global list of the minute it is next due in
//! (written with the trigger, in one transaction). A tick reads each minute's list from a
//! few minutes before where the last tick stopped up to now, starts each trigger's run under
//! an id derived from the trigger and the minute — a second tick, or a retried one, finds that
//! run instead of starting another — and then moves the trigger to its next minute, counted
//! from now: a schedule missed while nothing ticked runs once, not once per miss; a paused
//! workflow's or a suspended workspace's minute passes without a run. Reading a few
//! minutes again picks up a trigger whose write landed in a minute a tick had already read.

use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::Serialize;
use serde_json::json;
use switchboard_core::StoreError;
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{StoredTrigger, TriggerType, Workflow, WorkflowStatus, WorkspaceStatus};
use switchboard_core::ports::{DueSchedules, Repository, WorkflowQueue, Workspaces};
use switchboard_domain::automation::executions::Runs;
use switchboard_domain::automation::schedules::Schedule;
use switchboard_store::DynamoStore;

/// Minutes read again before where the last tick stopped.
const LOOKBACK_MINUTES: i64 = 3;
/// Minutes one tick reads at most (a query each): after a longer outage, the next ticks read
/// on from there.
pub const MAX_MINUTES_PER_TICK: u32 = 24 * 60;

pub struct Scheduler {
    pub due: Arc<dyn DueSchedules>,
    pub triggers: Arc<dyn Repository<StoredTrigger>>,
    pub workflows: Arc<dyn Repository<Workflow>>,
    /// A suspended workspace (a deleted customer's) starts no runs.
    pub accounts: Arc<dyn Workspaces>,
    pub runs: Runs,
}

/// The scheduler over its adapters: what `main.rs` runs and the tests call.
pub fn scheduler(store: &DynamoStore, queue: Arc<dyn WorkflowQueue>) -> Scheduler {
    Scheduler {
        due: Arc::new(store.clone()),
        triggers: Arc::new(store.clone()),
        workflows: Arc::new(store.clone()),
        accounts: Arc::new(store.clone()),
        runs: Runs {
            executions: Arc::new(store.clone()),
            queue,
        },
    }
}

/// What a tick did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Ticked {
    pub minutes_read: u32,
    /// Runs started (or found started by an earlier tick).
    pub started: u32,
    /// Due triggers whose workflow was not live, or whose workspace is suspended: moved on
    /// without a run.
    pub skipped: u32,
}

impl Scheduler {
    pub async fn tick(&self, now: DateTime<Utc>) -> anyhow::Result<Ticked> {
        let this_minute = now.duration_trunc(Duration::minutes(1))?;
        let lookback = Duration::minutes(LOOKBACK_MINUTES);
        let read_through = self.due.read_through().await?;
        let mut minute = read_through.unwrap_or(this_minute) - lookback;
        let mut ticked = Ticked::default();
        while minute <= this_minute && ticked.minutes_read < MAX_MINUTES_PER_TICK {
            for (workspace_id, trigger_id) in self.due.due_in(minute).await? {
                match self.fire(&workspace_id, &trigger_id, now).await? {
                    Some(true) => ticked.started += 1,
                    Some(false) => ticked.skipped += 1,
                    None => {}
                }
            }
            // A minute is read through only once each of its triggers has moved on; a failure
            // above leaves it for the next tick.
            if read_through.is_none_or(|through| minute > through) {
                self.due.set_read_through(minute).await?;
            }
            minute += Duration::minutes(1);
            ticked.minutes_read += 1;
        }
        Ok(ticked)
    }

    /// Starts the trigger's run if it is due, and moves it to its next minute: whether a run
    /// was started (`None`: not due, or gone).
    async fn fire(&self, workspace_id: &str, trigger_id: &str, now: DateTime<Utc>) -> anyhow::Result<Option<bool>> {
        let Some(read) = self.triggers.get(workspace_id, trigger_id).await? else {
            return Ok(None);
        };
        let trigger = &read.value;
        let (Some(due), Some(cron), Some(zone)) = (trigger.next_run_at, &trigger.cron, &trigger.timezone) else {
            return Ok(None);
        };
        if !trigger.enabled || due > now {
            return Ok(None);
        }
        let (workspace, workflow) = tokio::try_join!(
            self.accounts.get_workspace(workspace_id),
            self.workflows.get(workspace_id, &trigger.workflow_id)
        )?;
        let active = workspace.is_some_and(|w| w.status == WorkspaceStatus::Active);
        let live = workflow.filter(|w| active && w.value.status == WorkflowStatus::Live);
        if let Some(workflow) = &live {
            let input = json!({
                "type": "schedule",
                "trigger_id": trigger.id,
                "data": {"scheduled_for": due, "timezone": zone},
            });
            let id = ids::derived_at(prefix::EXECUTION, due, &trigger.id);
            self.runs
                .start(
                    workspace_id,
                    &workflow.value,
                    TriggerType::Schedule,
                    input,
                    Some(id),
                    now,
                )
                .await?;
        }
        let mut next = trigger.clone();
        // Saved schedules were checked when saved; one that no longer reads is left off.
        next.next_run_at = Schedule::parse(cron, zone)
            .ok()
            .and_then(|s| s.next_after(now.max(due)));
        match self.triggers.update(workspace_id, &read, &next, &[]).await {
            // Another tick moved it on, or it was changed meanwhile: either way it is not due.
            Ok(_) | Err(StoreError::VersionMismatch) => Ok(Some(live.is_some())),
            Err(e) => Err(e.into()),
        }
    }
}
