//! Schedules: each firing of a schedule claimed by one node, however many look at it.

use async_trait::async_trait;
use gust_core::Error;
use serde_json::{Map, Value};

#[async_trait]
pub trait Schedules: Send + Sync + 'static {
    /// Moves a trigger's state from `seen` to `next` if it still is `seen`. The one caller
    /// that moves it has claimed the firing `seen` was waiting for (true); any other finds it
    /// moved already (false), as does one whose trigger is gone. `next` must differ from
    /// `seen` (the next firing's time, say), or the firing stays up for claiming.
    async fn claim_firing(
        &self,
        trigger_id: &str,
        seen: &Map<String, Value>,
        next: Map<String, Value>,
    ) -> Result<bool, Error>;
}
