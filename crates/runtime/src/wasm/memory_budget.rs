//! The linear memory that all Wasm instances of the node may hold together, running or kept
//! warm: an instance that would grow past it is refused the growth, as past its own limit, so
//! that many large guests at once cannot take the host's memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct MemoryBudget {
    limit: usize,
    used: AtomicUsize,
}

impl MemoryBudget {
    pub fn new(limit: usize) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    /// Takes `bytes` if they fit; false leaves nothing taken.
    pub fn take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    pub fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }

    pub fn limit(&self) -> usize {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_only_what_fits_and_gets_it_back() {
        let budget = MemoryBudget::new(100);
        assert!(budget.take(60));
        assert!(!budget.take(41), "past the limit nothing is taken");
        assert!(budget.take(40));
        budget.give_back(60);
        assert!(budget.take(60));
    }
}
