use std::time::Duration;

use rand::Rng;

/// Delay before retry `retry` (1 for the first): `base × 2^(retry-1)`, scaled by a random
/// factor in [0.5, 1) so that failures at the same moment do not retry in lockstep.
pub fn retry_delay(base: Duration, retry: u32) -> Duration {
    let exponential = base.saturating_mul(1u32 << retry.saturating_sub(1).min(20));
    exponential.mul_f64(rand::rng().random_range(0.5..1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_with_jitter() {
        let base = Duration::from_secs(1);
        for retry in 1..=4 {
            let full = base * 2u32.pow(retry - 1);
            let delay = retry_delay(base, retry);
            assert!(
                delay >= full / 2 && delay < full,
                "retry {retry}: {delay:?}"
            );
        }
        assert!(retry_delay(base, 100) <= base * (1 << 20));
    }
}
