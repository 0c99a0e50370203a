use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How usage is broken down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UsageGroup {
    #[default]
    Function,
    /// Each version of each function apart: `FN@N`.
    Version,
    Day,
    Hour,
}

impl UsageGroup {
    /// Width of a time bucket in milliseconds, for the time groupings.
    pub fn bucket_ms(self) -> Option<i64> {
        match self {
            UsageGroup::Function | UsageGroup::Version => None,
            UsageGroup::Day => Some(86_400_000),
            UsageGroup::Hour => Some(3_600_000),
        }
    }
}

/// Which invocations to add up: started in `[from_ms, to_ms)`, of one function or all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageQuery {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub function: Option<String>,
    pub group_by: UsageGroup,
}

/// Exact sums over invocation records (and their hourly roll-ups) for one group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageSums {
    /// The function name, `FN@VERSION`, or the bucket's start (ms since the epoch) for time
    /// groupings.
    pub key: String,
    pub invocations: u64,
    pub errors: u64,
    pub billed_ms: u64,
    /// Sum of billed milliseconds × configured MiB: GB-seconds without rounding.
    pub mb_ms: u64,
}

impl UsageSums {
    pub fn add(&mut self, other: &UsageSums) {
        self.invocations += other.invocations;
        self.errors += other.errors;
        self.billed_ms += other.billed_ms;
        self.mb_ms += other.mb_ms;
    }

    /// GB-seconds as clouds bill them: billed seconds × memory in GiB.
    pub fn gb_seconds(&self) -> f64 {
        self.mb_ms as f64 / 1024.0 / 1000.0
    }
}
