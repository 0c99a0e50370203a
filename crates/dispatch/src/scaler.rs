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
        let versions: Vec<_> = self.active_versions();
        for (name, active) in versions {
            let config = &active.config;
            let idle = Duration::from_millis(config.idle_timeout_ms);
            active.loaded.scale_down(idle, config.min_instances);
            active.loaded.keep_warm(config.min_instances);
            let instances = active.instances();
            let unused = active.limiter.in_use() == 0
                && instances.busy == 0
                && active.idle_ms() >= idle.as_millis() as i64;
            if config.min_instances == 0 && unused {
                self.unload(&name, &active);
            } else {
                active.report_instances();
            }
        }
    }
}
