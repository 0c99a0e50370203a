use std::sync::Arc;
use std::time::Duration;

use gust_core::{Error, Origin, Trigger, now_ms};

use super::{CronConfig, CronSchedule, CronSource, CronState, from_map, to_map};
use crate::{CloudEvent, SourceContext};

/// Longest sleep between looks at the schedules, so that a missed change is seen soon.
const MAX_SLEEP: Duration = Duration::from_millis(500);

/// Fires cron triggers into the asynchronous queue. A firing missed while the server was down
/// is made up once, not once per missed firing: the next firing is counted from now.
pub(super) async fn run(source: Arc<CronSource>, context: SourceContext) {
    loop {
        let sleep = match fire_due(&context).await {
            Ok(next_due_ms) => {
                let until = next_due_ms.map_or(i64::MAX, |due| due - now_ms());
                Duration::from_millis(until.clamp(0, MAX_SLEEP.as_millis() as i64) as u64)
            }
            Err(e) => {
                tracing::error!("schedules: {e}");
                MAX_SLEEP
            }
        };
        tokio::select! {
            () = source.changed.notified() => {}
            () = tokio::time::sleep(sleep) => {}
        }
    }
}

/// Fires every due trigger; returns when the next one is due.
async fn fire_due(context: &SourceContext) -> Result<Option<i64>, Error> {
    let now = now_ms();
    let mut next_due = None::<i64>;
    for trigger in context.store.triggers(None, Some("cron")).await? {
        // One bad stored schedule must not stop the others: it is skipped, loudly.
        let stored = match Stored::read(&trigger) {
            Ok(stored) => stored,
            Err(e) => {
                tracing::error!(trigger = %trigger.id, "schedule cannot be read, skipped: {}", e.message);
                continue;
            }
        };
        let mut due_at = stored.state.next_fire_at_ms;
        if due_at <= now {
            let scheduled = due_at;
            due_at = stored.schedule.next_after(now).unwrap_or(i64::MAX);
            let next = CronState {
                last_fired_at_ms: Some(now),
                next_fire_at_ms: due_at,
            };
            // Every node sharing the store sees the firing due; the one that moves the
            // schedule on fires it. (Claimed first: a node that dies in between loses that
            // firing rather than firing it twice.)
            let claimed = context
                .schedules
                .claim_firing(&trigger.id, &trigger.state, to_map(&next))
                .await?;
            if claimed && let Err(e) = fire(context, &trigger, &stored, scheduled).await {
                tracing::warn!(trigger = %trigger.id, "schedule firing failed: {e}");
            }
        }
        next_due = Some(next_due.map_or(due_at, |n| n.min(due_at)));
    }
    Ok(next_due)
}

/// A cron trigger as the scheduler reads it.
struct Stored {
    config: CronConfig,
    schedule: CronSchedule,
    state: CronState,
}

impl Stored {
    fn read(trigger: &Trigger) -> Result<Stored, Error> {
        let config: CronConfig = from_map(trigger.config.clone())?;
        let schedule = CronSchedule::parse(&config.cron, config.timezone.as_deref())?;
        let state = from_map(trigger.state.clone())?;
        Ok(Stored {
            config,
            schedule,
            state,
        })
    }
}

/// Queues one firing as a CloudEvent.
async fn fire(
    context: &SourceContext,
    trigger: &Trigger,
    stored: &Stored,
    scheduled_ms: i64,
) -> Result<String, Error> {
    let mut event = CloudEvent {
        event_type: "dev.gust.schedule".into(),
        source: format!("/gust/triggers/{}", trigger.id),
        subject: None,
        time_ms: scheduled_ms,
        content_type: "application/json".into(),
        data: Vec::new(),
        traceparent: None,
    };
    let data = serde_json::json!({
        "trigger": trigger.id, "cron": stored.config.cron,
        "timezone": stored.schedule.timezone_name(),
        "scheduled_time": event.time(),
    });
    event.data = data.to_string().into_bytes();
    let origin = Origin::new("schedule", trigger.id.clone());
    context
        .queue
        .enqueue(&trigger.function, origin, event.into_request(), None)
        .await
}
