//! Stops functions that write into the bucket that triggers them from looping forever, as
//! Lambda does after 16 hops. An event's hop is one more than that of the invocation whose
//! function wrote the object; a function's hop is that of the latest bucket event it was sent,
//! for a minute after it.

use std::collections::HashMap;
use std::sync::Mutex;

use gust_core::now_ms;

/// The longest chain of bucket events Gust delivers.
pub const MAX_HOPS: u32 = 16;
/// How long a function's writes count as part of the chain that last invoked it.
const CHAIN_MEMORY_MS: i64 = 60_000;

#[derive(Default)]
pub struct Chains {
    /// Function → (hop of the latest event sent to it, when).
    latest: Mutex<HashMap<String, (u32, i64)>>,
}

impl Chains {
    /// The hop of an event caused by a write of `writer` (a person or an outside program: 1).
    pub fn hop_after(&self, writer: Option<&str>) -> u32 {
        let Some(writer) = writer else { return 1 };
        let latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        match latest.get(writer) {
            Some(&(hop, at)) if now_ms() - at < CHAIN_MEMORY_MS => hop + 1,
            _ => 1,
        }
    }

    /// An event of `hop` goes to `function`.
    pub fn sent(&self, function: &str, hop: u32) {
        let now = now_ms();
        let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        latest.retain(|_, (_, at)| now - *at < CHAIN_MEMORY_MS);
        let entry = latest.entry(function.to_string()).or_insert((hop, now));
        *entry = (entry.0.max(hop), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_writing_where_it_is_triggered_climbs_one_hop_a_write() {
        let chains = Chains::default();
        assert_eq!(chains.hop_after(None), 1);
        chains.sent("thumb", 1);
        assert_eq!(chains.hop_after(Some("thumb")), 2);
        chains.sent("thumb", 2);
        // An upload from outside meanwhile does not reset the chain.
        chains.sent("thumb", 1);
        assert_eq!(chains.hop_after(Some("thumb")), 3);
        assert_eq!(chains.hop_after(Some("other")), 1);
    }
}
