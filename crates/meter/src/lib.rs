//! Metering: invocation records to usage and price, and the Prometheus metrics of the node.

mod metrics;
mod pricing;
mod report;

pub use metrics::{FunctionMetrics, Metrics};
pub use pricing::PriceModel;
pub use report::{UsageLine, UsageReport};
