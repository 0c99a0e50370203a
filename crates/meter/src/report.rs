use std::time::{Duration, UNIX_EPOCH};

use gust_core::{UsageGroup, UsageSums};
use serde::Serialize;
use utoipa::ToSchema;

use crate::PriceModel;

/// Usage of one group (a function, a day or an hour) and its list price.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct UsageLine {
    /// Function name, `FN@VERSION`, or the start of the day or hour (RFC 3339, UTC).
    pub key: String,
    pub invocations: u64,
    pub errors: u64,
    pub billed_seconds: f64,
    pub gb_seconds: f64,
    pub price_usd: f64,
}

/// A usage report: one line per group, their total, and what is due after the free tier.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct UsageReport {
    pub group_by: UsageGroup,
    pub lines: Vec<UsageLine>,
    pub total: UsageLine,
    pub free_tier_usd: f64,
    pub amount_due_usd: f64,
}

impl UsageReport {
    pub fn build(sums: Vec<UsageSums>, group_by: UsageGroup, prices: &PriceModel) -> Self {
        let mut total = UsageSums {
            key: "total".into(),
            ..Default::default()
        };
        let lines = sums
            .into_iter()
            .map(|mut sums| {
                total.add(&sums);
                if group_by.bucket_ms().is_some() {
                    sums.key = bucket_start(&sums.key);
                }
                line(&sums, prices)
            })
            .collect();
        let total = line(&total, prices);
        let free_tier_usd = prices.free_tier_credit(total.invocations, total.gb_seconds);
        UsageReport {
            group_by,
            lines,
            amount_due_usd: (total.price_usd - free_tier_usd).max(0.0),
            total,
            free_tier_usd,
        }
    }
}

fn line(sums: &UsageSums, prices: &PriceModel) -> UsageLine {
    UsageLine {
        key: sums.key.clone(),
        invocations: sums.invocations,
        errors: sums.errors,
        billed_seconds: sums.billed_ms as f64 / 1000.0,
        gb_seconds: sums.gb_seconds(),
        price_usd: prices.price(sums.invocations, sums.gb_seconds()),
    }
}

fn bucket_start(ms: &str) -> String {
    let ms: u64 = ms.parse().unwrap_or(0);
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_add_up_to_the_total() {
        let sums = vec![
            UsageSums {
                key: "3600000".into(),
                invocations: 3,
                errors: 1,
                billed_ms: 1500,
                mb_ms: 1500 * 128,
            },
            UsageSums {
                key: "7200000".into(),
                invocations: 2,
                errors: 0,
                billed_ms: 2000,
                mb_ms: 2000 * 1024,
            },
        ];
        let report = UsageReport::build(sums, UsageGroup::Hour, &PriceModel::default());
        assert_eq!(report.lines[0].key, "1970-01-01T01:00:00Z");
        assert_eq!(report.total.invocations, 5);
        assert_eq!(report.total.errors, 1);
        assert_eq!(report.total.billed_seconds, 3.5);
        assert!((report.total.gb_seconds - (0.1875 + 2.0)).abs() < 1e-12);
        let sum: f64 = report.lines.iter().map(|l| l.price_usd).sum();
        assert!((sum - report.total.price_usd).abs() < 1e-12);
        assert_eq!(report.amount_due_usd, report.total.price_usd);
    }
}
