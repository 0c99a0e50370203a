use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// An event source's subscription of one function: the source's kind and its own settings,
/// which that source alone reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Trigger {
    pub id: String,
    pub function: String,
    /// `cron`, `bucket`, ...
    pub kind: String,
    pub created_at_ms: i64,
    /// The settings it was added with, as its source checked them (for `cron`: `cron` and
    /// `timezone`).
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
    /// What its source keeps of its progress (for `cron`: `last_fired_at_ms` and
    /// `next_fire_at_ms`).
    #[schema(value_type = Object)]
    pub state: Map<String, Value>,
}

impl Trigger {
    /// The trigger as it is shown: a secret it was given (a webhook's) stays in the store.
    pub fn without_secrets(mut self) -> Trigger {
        self.config.remove("secret");
        self
    }
}
