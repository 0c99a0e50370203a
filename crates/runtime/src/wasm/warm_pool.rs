//! Instances kept after a request for the next request of the same version, as a warm
//! execution environment is: instantiating and resetting memory cost more than the request.
//!
//! An instance only ever serves its own version, one request at a time. It is kept only when
//! its request ended cleanly (no trap, no timeout, every resource released), at most
//! `MAX_REUSE` times, while its memory stays under `MAX_KEPT_MEMORY` and the node's idle
//! instances fit their budget of count and memory, and dropped after its version's idle
//! timeout.

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
/// An instance whose memory grew past this is dropped after its request, not kept: one large
/// request must not leave its memory resident for every later one.
pub const MAX_KEPT_MEMORY: usize = 64 << 20;

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

    fn memory(&self) -> usize {
        self.store.data().limiter.grown_to
    }
}

/// How many idle instances the whole node may keep, and how much memory they may hold
/// together (they hold pooling-allocator slots and their memory stays resident).
pub struct IdleBudget {
    left: AtomicUsize,
    bytes_left: AtomicUsize,
}

impl IdleBudget {
    pub fn new(max_idle: usize, max_bytes: usize) -> Arc<Self> {
        Arc::new(IdleBudget {
            left: AtomicUsize::new(max_idle),
            bytes_left: AtomicUsize::new(max_bytes),
        })
    }

    fn take(&self, bytes: usize) -> bool {
        let take = |left: &AtomicUsize, n: usize| {
            left.fetch_update(Ordering::AcqRel, Ordering::Acquire, |l| l.checked_sub(n))
                .is_ok()
        };
        if !take(&self.left, 1) {
            return false;
        }
        if !take(&self.bytes_left, bytes) {
            self.left.fetch_add(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    fn give(&self, instances: &[WarmInstance]) {
        let bytes: usize = instances.iter().map(WarmInstance::memory).sum();
        self.left.fetch_add(instances.len(), Ordering::AcqRel);
        self.bytes_left.fetch_add(bytes, Ordering::AcqRel);
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
        let warm = self.lock().pop()?;
        self.budget.give(std::slice::from_ref(&warm));
        Some(warm)
    }

    /// Keeps an instance for a later request, if it may serve more and there is room.
    pub fn give_back(&self, mut warm: WarmInstance) {
        if warm.served >= MAX_REUSE || warm.memory() > MAX_KEPT_MEMORY {
            return;
        }
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE_PER_VERSION && self.budget.take(warm.memory()) {
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
        self.budget.give(&expired);
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
        self.budget.give(&self.lock());
    }
}
