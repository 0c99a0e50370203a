//! Event sources that end in the dispatcher. Each kind of trigger is a `Source` in a module of
//! its own; for now cron schedules, whose firings become asynchronous invocations delivered as
//! CloudEvents.

mod cloud_event;
mod cron;
mod source;
mod triggers;

pub use cloud_event::CloudEvent;
pub use cron::{CronSchedule, CronSource};
pub use source::{Checked, Source, SourceContext};
pub use triggers::Triggers;
