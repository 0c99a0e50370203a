//! Which of the traces Gust starts are recorded: the first few each second for each span name
//! (so a function called now and then is always seen), and past those a share of the rest,
//! chosen by the trace id.

use std::fmt::{self, Display};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Names share these counters by hash: two names that collide share their second's traces.
const SLOTS: usize = 256;

/// How many traces to record, as `gust serve` was told.
#[derive(Debug, Clone, Copy)]
pub struct Sampling {
    /// The share of the traces past the reservoir that are recorded, from 0 to 1.
    pub ratio: f64,
    /// The traces recorded each second for each name whatever the ratio.
    pub reservoir: u32,
}

pub(crate) struct Sampler {
    /// A trace past the reservoir is recorded when the low 63 bits of its id are below this.
    ratio_below: u64,
    reservoir: u32,
    since: Instant,
    /// Per slot: the second it counts (high 32 bits) and the traces it took in it.
    slots: Box<[AtomicU64]>,
}

impl Sampler {
    pub fn new(sampling: Sampling) -> Result<Sampler, String> {
        let Sampling { ratio, reservoir } = sampling;
        if !(0.0..=1.0).contains(&ratio) {
            return Err(format!("--trace-sample-ratio {ratio} must be from 0 to 1"));
        }
        Ok(Sampler {
            ratio_below: (ratio * (1u64 << 63) as f64) as u64,
            reservoir,
            since: Instant::now(),
            slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    /// Whether a new trace whose first span is `name` is recorded.
    pub fn samples(&self, name: &impl Display, trace_id: u128) -> bool {
        if (trace_id as u64) >> 1 < self.ratio_below {
            return true;
        }
        self.reservoir > 0 && self.takes(hash(name), self.since.elapsed().as_secs())
    }

    /// Whether the reservoir of `key`'s slot has room left in `second`, taking it if so.
    fn takes(&self, key: u64, second: u64) -> bool {
        let slot = &self.slots[key as usize % SLOTS];
        let second = second & u64::from(u32::MAX);
        let mut seen = slot.load(Ordering::Relaxed);
        loop {
            let next = if seen >> 32 != second {
                second << 32 | 1
            } else if (seen as u32) < self.reservoir {
                seen + 1
            } else {
                return false;
            };
            match slot.compare_exchange_weak(seen, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(now) => seen = now,
            }
        }
    }
}

/// FNV-1a of what `name` displays, with no string made.
fn hash(name: &impl Display) -> u64 {
    struct Fnv(u64);
    impl fmt::Write for Fnv {
        fn write_str(&mut self, text: &str) -> fmt::Result {
            for byte in text.bytes() {
                self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
            }
            Ok(())
        }
    }
    let mut fnv = Fnv(0xcbf2_9ce4_8422_2325);
    let _ = fmt::write(&mut fnv, format_args!("{name}"));
    fnv.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampler(ratio: f64, reservoir: u32) -> Sampler {
        Sampler::new(Sampling { ratio, reservoir }).unwrap()
    }

    #[test]
    fn the_reservoir_takes_its_traces_each_second_for_each_name() {
        let sampler = sampler(0.0, 2);
        let (hello, todo) = (hash(&"hello"), hash(&"todo"));
        assert_ne!(hello as usize % SLOTS, todo as usize % SLOTS);
        let taken = |key, second| (0..5).filter(|_| sampler.takes(key, second)).count();
        assert_eq!(taken(hello, 7), 2);
        assert_eq!(taken(todo, 7), 2, "a name of its own");
        assert_eq!(taken(hello, 7), 0, "the second's are taken");
        assert_eq!(taken(hello, 8), 2, "a new second");
    }

    #[test]
    fn past_the_reservoir_the_ratio_decides_by_the_trace_id() {
        let ids = || (0..4_000).map(|_| rand::random::<u128>());
        let quarter = sampler(0.25, 0);
        let sampled = ids().filter(|&id| quarter.samples(&"f", id)).count();
        assert!(
            (800..1_200).contains(&sampled),
            "{sampled} of 4,000 at 0.25"
        );
        assert!(ids().all(|id| sampler(1.0, 0).samples(&"f", id)));

        let only_reservoir = sampler(0.0, 1);
        let sampled = ids().filter(|&id| only_reservoir.samples(&"f", id)).count();
        assert!((1..=2).contains(&sampled), "one a second: {sampled}");
    }

    #[test]
    fn a_ratio_outside_0_to_1_is_refused() {
        for ratio in [-0.1, 1.5, f64::NAN] {
            let refused = Sampler::new(Sampling {
                ratio,
                reservoir: 1,
            })
            .err();
            assert!(
                refused.is_some_and(|e| e.contains("from 0 to 1")),
                "{ratio}"
            );
        }
    }
}
