use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use gust_core::{CronTrigger, Error, StoredRequest, Trigger, now_ms};
use gust_dispatch::AsyncQueue;
use gust_store::Store;
use tokio::sync::Notify;

use crate::CronSchedule;

/// Longest sleep between looks at the schedules, so that new ones are seen soon.
const MAX_SLEEP: Duration = Duration::from_millis(500);

/// Fires cron triggers into the asynchronous queue. A firing missed while the server was down
/// is made up once, not once per missed firing: the next firing is counted from now.
pub struct Scheduler {
    store: Arc<dyn Store>,
    queue: Arc<AsyncQueue>,
    changed: Notify,
}

impl Scheduler {
    pub fn start(store: Arc<dyn Store>, queue: Arc<AsyncQueue>) -> Arc<Self> {
        let scheduler = Arc::new(Scheduler {
            store,
            queue,
            changed: Notify::new(),
        });
        tokio::spawn(scheduler.clone().run());
        scheduler
    }

    /// Validates and stores a schedule for an existing function.
    pub async fn add(
        &self,
        function: &str,
        cron: &str,
        timezone: Option<&str>,
    ) -> Result<CronTrigger, Error> {
        let schedule = CronSchedule::parse(cron, timezone)?;
        if self.store.function(function).await?.is_none() {
            return Err(Error::function_not_found(function));
        }
        let now = now_ms();
        let next = schedule
            .next_after(now)
            .ok_or_else(|| Error::invalid(format!("cron expression `{cron}` never fires again")))?;
        let trigger = CronTrigger {
            id: ulid::Ulid::new().to_string(),
            function: function.to_string(),
            cron: cron.to_string(),
            timezone: schedule.timezone_name().to_string(),
            created_at_ms: now,
            last_fired_at_ms: None,
            next_fire_at_ms: next,
        };
        self.store.add_trigger(trigger.clone()).await?;
        self.changed.notify_one();
        Ok(trigger)
    }

    async fn run(self: Arc<Self>) {
        loop {
            let sleep = match self.fire_due().await {
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
                () = self.changed.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// Fires every due trigger; returns when the next one is due.
    async fn fire_due(&self) -> Result<Option<i64>, Error> {
        let now = now_ms();
        let mut next_due = None::<i64>;
        for trigger in self.store.triggers(None).await? {
            let mut due_at = trigger.next_fire_at_ms;
            if due_at <= now {
                // One bad stored schedule must not stop the others: it is skipped, loudly.
                let schedule = match CronSchedule::parse(&trigger.cron, Some(&trigger.timezone)) {
                    Ok(schedule) => schedule,
                    Err(e) => {
                        tracing::error!(trigger = %trigger.id, "schedule cannot be read, skipped: {}", e.message);
                        continue;
                    }
                };
                if let Err(e) = self.fire(&trigger, due_at).await {
                    tracing::warn!(trigger = %trigger.id, "schedule firing failed: {e}");
                }
                due_at = schedule.next_after(now).unwrap_or(i64::MAX);
                self.store.trigger_fired(&trigger.id, now, due_at).await?;
            }
            next_due = Some(next_due.map_or(due_at, |n| n.min(due_at)));
        }
        Ok(next_due)
    }

    /// Queues one firing as a CloudEvent in binary mode.
    async fn fire(&self, trigger: &CronTrigger, scheduled_ms: i64) -> Result<String, Error> {
        let time = Utc
            .timestamp_millis_opt(scheduled_ms)
            .single()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default();
        let headers = vec![
            ("ce-specversion".into(), "1.0".into()),
            ("ce-id".into(), ulid::Ulid::new().to_string()),
            ("ce-source".into(), format!("/gust/triggers/{}", trigger.id)),
            ("ce-type".into(), "dev.gust.schedule".into()),
            ("ce-time".into(), time.clone()),
            ("content-type".into(), "application/json".into()),
        ];
        let body = serde_json::json!({
            "trigger": trigger.id, "cron": trigger.cron, "timezone": trigger.timezone,
            "scheduled_time": time,
        });
        let request = StoredRequest {
            method: "POST".into(),
            path_with_query: "/".into(),
            headers,
            body: body.to_string().into_bytes(),
        };
        self.queue
            .enqueue(&trigger.function, Trigger::Schedule, request, None)
            .await
    }
}
