//! Instances kept after a request for the next request of the same version, as a warm
//! execution environment is: instantiating and resetting memory cost more than the request.
//!
//! An instance only ever serves its own version, one request at a time. It is kept only when
//! its request ended cleanly (no trap, no timeout, every resource released), at most
//! `MAX_REUSE` times, and dropped after its version's idle timeout.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::Store;
use wasmtime_wasi_http::p2::bindings::Proxy;

use super::guest::GuestState;

/// Requests one instance serves before it is replaced by a fresh one.
const MAX_REUSE: u32 = 1000;
/// Idle instances one version keeps.
const MAX_IDLE_PER_VERSION: usize = 64;

pub struct WarmInstance {
    pub store: Store<GuestState>,
    pub proxy: Proxy,
    pub served: u32,
    idle_since: Instant,
}

impl WarmInstance {
    pub fn new(store: Store<GuestState>, proxy: Proxy, served: u32) -> Self {
        WarmInstance {
            store,
            proxy,
            served,
            idle_since: Instant::now(),
        }
    }
}

/// How many idle instances the whole node may keep (they hold pooling-allocator slots and
/// their memory stays resident).
pub struct IdleBudget {
    left: AtomicUsize,
}

impl IdleBudget {
    pub fn new(max_idle: usize) -> Arc<Self> {
        Arc::new(IdleBudget {
            left: AtomicUsize::new(max_idle),
        })
    }

    fn take(&self) -> bool {
        self.left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
    }

    fn give(&self, n: usize) {
        self.left.fetch_add(n, Ordering::AcqRel);
    }
}

pub struct WarmPool {
    idle: Mutex<Vec<WarmInstance>>,
    budget: Arc<IdleBudget>,
}

impl WarmPool {
    pub fn new(budget: Arc<IdleBudget>) -> Self {
        WarmPool {
            idle: Mutex::new(Vec::new()),
            budget,
        }
    }

    /// The most recently used idle instance (its memory is the likeliest to be hot).
    pub fn take(&self) -> Option<WarmInstance> {
        let warm = self.lock().pop();
        if warm.is_some() {
            self.budget.give(1);
        }
        warm
    }

    /// Keeps an instance for a later request, if it may serve more and there is room.
    pub fn give_back(&self, mut warm: WarmInstance) {
        if warm.served >= MAX_REUSE {
            return;
        }
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE_PER_VERSION && self.budget.take() {
            warm.idle_since = Instant::now();
            idle.push(warm);
            return;
        }
        drop(idle);
        // Dropped here, outside the lock: tearing an instance down resets its memory.
        drop(warm);
    }

    /// Drops the instances idle for `idle` or longer.
    pub fn trim(&self, idle: Duration) {
        let expired: Vec<WarmInstance> = {
            let mut instances = self.lock();
            let keep_from = instances.partition_point(|w| w.idle_since.elapsed() >= idle);
            instances.drain(..keep_from).collect()
        };
        self.budget.give(expired.len());
    }

    pub fn idle_count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<WarmInstance>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for WarmPool {
    fn drop(&mut self) {
        self.budget.give(self.lock().len());
    }
}
