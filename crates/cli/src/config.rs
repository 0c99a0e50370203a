use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use gust_core::parse_duration_ms;
use gust_meter::PriceModel;
use serde::Deserialize;

/// The server's config file (`<data-dir>/gust.toml` or `--config`). Every key is optional.
///
/// ```toml
/// [pricing]
/// per_million_requests = 0.20
/// per_gb_second = 0.0000166667
/// free_requests = 1000000
/// free_gb_seconds = 400000
///
/// [retention]
/// records = "7d"        # invocation records and logs older than this become hourly usage
/// roll_up_every = "1h"
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub pricing: PriceModel,
    pub retention: Retention,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retention {
    records: String,
    roll_up_every: String,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            records: "7d".into(),
            roll_up_every: "1h".into(),
        }
    }
}

impl Retention {
    /// How long records are kept whole, and how often older ones are rolled up.
    pub fn periods(&self) -> anyhow::Result<(Duration, Duration)> {
        let records = parse_duration_ms(&self.records).context("retention.records")?;
        let every = parse_duration_ms(&self.roll_up_every).context("retention.roll_up_every")?;
        anyhow::ensure!(every > 0, "retention.roll_up_every must be more than 0");
        Ok((Duration::from_millis(records), Duration::from_millis(every)))
    }
}

impl ServerConfig {
    /// Reads the file if it exists; `required` makes a missing file an error.
    pub fn load(path: &Path, required: bool) -> anyhow::Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(ServerConfig::default());
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let config: ServerConfig =
            toml::from_str(&text).with_context(|| format!("invalid config {}", path.display()))?;
        config.retention.periods()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let config: ServerConfig = toml::from_str("").unwrap();
        assert_eq!(config.pricing, PriceModel::default());
        let config: ServerConfig =
            toml::from_str("[pricing]\nper_gb_second = 0.5\n[retention]\nrecords = \"2h\"\n")
                .unwrap();
        assert_eq!(config.pricing.per_gb_second, 0.5);
        assert_eq!(config.pricing.per_million_requests, 0.20);
        assert_eq!(
            config.retention.periods().unwrap().0,
            Duration::from_secs(7200)
        );
        assert!(toml::from_str::<ServerConfig>("[pricing]\nper_gb = 1\n").is_err());
    }
}
