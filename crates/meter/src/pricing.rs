use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What an invocation costs. Defaults are AWS Lambda's published x86 list prices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PriceModel {
    /// US dollars per million requests.
    pub per_million_requests: f64,
    /// US dollars per GB-second (billed seconds × configured memory in GiB).
    pub per_gb_second: f64,
    /// Requests free of charge in the period a report covers.
    pub free_requests: u64,
    /// GB-seconds free of charge in the period a report covers.
    pub free_gb_seconds: f64,
}

impl Default for PriceModel {
    fn default() -> Self {
        PriceModel {
            per_million_requests: 0.20,
            per_gb_second: 0.000_016_666_7,
            free_requests: 0,
            free_gb_seconds: 0.0,
        }
    }
}

impl PriceModel {
    /// List price, before any free tier.
    pub fn price(&self, requests: u64, gb_seconds: f64) -> f64 {
        requests as f64 * self.per_million_requests / 1e6 + gb_seconds * self.per_gb_second
    }

    /// What the free tier takes off a period's total.
    pub fn free_tier_credit(&self, requests: u64, gb_seconds: f64) -> f64 {
        self.price(
            requests.min(self.free_requests),
            gb_seconds.min(self.free_gb_seconds),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_list_prices() {
        let model = PriceModel::default();
        // One million 100 ms invocations at 1024 MB: $0.20 + 100,000 GB-s × $0.0000166667.
        let price = model.price(1_000_000, 100_000.0);
        assert!((price - 1.86667).abs() < 1e-6, "{price}");
        assert_eq!(model.free_tier_credit(5, 5.0), 0.0);
    }

    #[test]
    fn the_free_tier_caps_at_usage() {
        let model = PriceModel {
            free_requests: 1_000_000,
            free_gb_seconds: 400_000.0,
            ..Default::default()
        };
        let small = model.free_tier_credit(10, 1.0);
        assert!((small - model.price(10, 1.0)).abs() < 1e-12);
        let big = model.free_tier_credit(5_000_000, 1e6);
        assert!((big - model.price(1_000_000, 400_000.0)).abs() < 1e-9);
    }
}
