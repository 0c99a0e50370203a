//! The thread that advances the engine's epoch: what makes running guests yield and time out.
//! It ticks only while some code is loaded, so a node scaled to zero hardly wakes.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use wasmtime::{Engine, EngineWeak};

/// How often a parked ticker looks whether its engine is gone.
const CHECK_ENGINE: Duration = Duration::from_secs(1);

pub struct EpochTicker {
    /// How many loaded versions (and the guests they run) need ticks.
    users: Mutex<usize>,
    woken: Condvar,
}

/// Keeps the ticker going while held: by a loaded version, as long as any of its guests runs.
pub struct TickerUse(Arc<EpochTicker>);

impl EpochTicker {
    /// Starts the thread; it ends with the engine.
    pub fn start(engine: &Engine, tick: Duration) -> Arc<Self> {
        let ticker = Arc::new(EpochTicker {
            users: Mutex::new(0),
            woken: Condvar::new(),
        });
        let engine = engine.weak();
        let shared = ticker.clone();
        std::thread::Builder::new()
            .name("gust-epoch".into())
            .spawn(move || {
                while shared.wait_for_users(&engine) {
                    // A tick a full period after the first use, never at once: a guest gets
                    // its whole slice before it yields.
                    std::thread::sleep(tick);
                    let Some(engine) = engine.upgrade() else {
                        return;
                    };
                    engine.increment_epoch();
                }
            })
            .expect("spawn epoch thread");
        ticker
    }

    pub fn use_ticks(self: &Arc<Self>) -> TickerUse {
        let mut users = self.lock();
        *users += 1;
        if *users == 1 {
            self.woken.notify_one();
        }
        TickerUse(self.clone())
    }

    /// Blocks while nothing is loaded; false once the engine is gone.
    fn wait_for_users(&self, engine: &EngineWeak) -> bool {
        let mut users = self.lock();
        while *users == 0 {
            users = match self.woken.wait_timeout(users, CHECK_ENGINE) {
                Ok((users, _)) => users,
                Err(poisoned) => poisoned.into_inner().0,
            };
            if engine.upgrade().is_none() {
                return false;
            }
        }
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, usize> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for TickerUse {
    fn drop(&mut self) {
        *self.0.lock() -= 1;
    }
}
