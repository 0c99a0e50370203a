//! Event sources that end in the dispatcher. For now: cron schedules, whose firings become
//! asynchronous invocations delivered as CloudEvents.

mod cron_schedule;
mod scheduler;

pub use cron_schedule::CronSchedule;
pub use scheduler::Scheduler;
