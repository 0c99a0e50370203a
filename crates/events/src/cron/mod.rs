//! Cron schedules: each firing is an asynchronous invocation delivered as a CloudEvent.

mod schedule;
mod scheduler;

use std::sync::Arc;

use async_trait::async_trait;
use gust_core::{Error, now_ms};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::Notify;

pub use schedule::CronSchedule;

use crate::settings::{self, to_map};
use crate::{Checked, Source, SourceContext};

/// A cron trigger's settings.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CronConfig {
    /// Six fields with seconds (`*/10 * * * * *`), or the classic five (minute first).
    cron: String,
    /// IANA time zone the expression is read in; UTC when absent.
    #[serde(default)]
    timezone: Option<String>,
}

/// What the scheduler keeps of a cron trigger's progress.
#[derive(Serialize, Deserialize)]
struct CronState {
    last_fired_at_ms: Option<i64>,
    next_fire_at_ms: i64,
}

/// The source of kind `cron`.
#[derive(Default)]
pub struct CronSource {
    changed: Notify,
}

#[async_trait]
impl Source for CronSource {
    fn kind(&self) -> &'static str {
        "cron"
    }

    async fn check(&self, _function: &str, config: Map<String, Value>) -> Result<Checked, Error> {
        let config: CronConfig = from_map(config)?;
        let schedule = CronSchedule::parse(&config.cron, config.timezone.as_deref())?;
        let next = schedule.next_after(now_ms()).ok_or_else(|| {
            Error::invalid(format!(
                "cron expression `{}` never fires again",
                config.cron
            ))
        })?;
        let config = CronConfig {
            timezone: Some(schedule.timezone_name().to_string()),
            ..config
        };
        let state = CronState {
            last_fired_at_ms: None,
            next_fire_at_ms: next,
        };
        Ok(Checked {
            config: to_map(&config),
            state: to_map(&state),
        })
    }

    async fn start(self: Arc<Self>, context: SourceContext) {
        tokio::spawn(scheduler::run(self, context));
    }

    async fn changed(&self) {
        self.changed.notify_one();
    }
}

fn from_map<T: DeserializeOwned>(map: Map<String, Value>) -> Result<T, Error> {
    settings::read("cron", map)
}
