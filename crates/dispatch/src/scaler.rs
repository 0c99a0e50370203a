//! Scaling down: a periodic pass that stops idle instances (down to `min_instances`) and
//! unloads versions that sat idle past their `idle_timeout` with no minimum to keep: scale to
//! zero. Scaling up happens on demand, in the runtimes.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::Dispatcher;

/// How often idle instances are looked for.
const PASS_EVERY: Duration = Duration::from_millis(500);

pub(crate) fn spawn(dispatcher: Weak<Dispatcher>) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(PASS_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(dispatcher) = dispatcher.upgrade() else {
                return;
            };
            dispatcher.scale_down();
        }
    });
}

impl Dispatcher {
    fn scale_down(self: &Arc<Self>) {
        for active in self.active_versions() {
            let config = &active.config;
            let version = &active.version;
            // Only a version that calls still reach keeps instances warm.
            let provisioned = self.is_pointed_at(&version.function, version.number);
            let min_instances = if provisioned { config.min_instances } else { 0 };
            let idle = Duration::from_millis(config.idle_timeout_ms);
            active.loaded.scale_down(idle, min_instances);
            active.loaded.keep_warm(min_instances);
            let instances = active.instances();
            let unused = active.limiter.in_use() == 0
                && instances.busy == 0
                && active.idle_ms() >= idle.as_millis() as i64;
            if min_instances == 0 && unused {
                self.unload(&active);
            } else {
                active.report_instances();
            }
        }
    }
}
