use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A schedule that invokes a function asynchronously at each firing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CronTrigger {
    pub id: String,
    pub function: String,
    /// Six fields with seconds (`*/10 * * * * *`), or the classic five (minute first).
    pub cron: String,
    /// IANA time zone the expression is read in.
    pub timezone: String,
    pub created_at_ms: i64,
    pub last_fired_at_ms: Option<i64>,
    pub next_fire_at_ms: i64,
}
