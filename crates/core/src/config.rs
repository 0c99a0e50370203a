use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use std::net::IpAddr;

use crate::address::is_internal;
use crate::scaling::{ProcessMode, validate_runtime, validate_scaling};
use crate::{BucketGrant, Destination, Error, Runtime};

pub const MAX_TIMEOUT_MS: u64 = 15 * 60 * 1000;
pub const MAX_RETRIES: u32 = 10;
/// Asynchronous events are kept at most six hours, as Lambda keeps them.
pub const MAX_EVENT_AGE_MS: u64 = 6 * 3600 * 1000;
pub const MIN_MEMORY_MB: u32 = 16;
/// A wasm32 linear memory cannot address more than 4 GiB.
pub const MAX_MEMORY_MB: u32 = 4096;
/// Bytes of `KEY=VALUE` pairs a function's environment may hold.
pub const MAX_ENV_BYTES: usize = 64 * 1024;
/// CPU limits of process instances, in thousandths of a core.
pub const MIN_CPU_MILLIS: u32 = 10;
pub const MAX_CPU_MILLIS: u32 = 64_000;

/// What a version of a function runs with. Versions are immutable: changing any of this
/// makes a new version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct FunctionConfig {
    /// Callable without the admin token.
    pub public: bool,
    /// Wall-clock limit of one invocation, in milliseconds (at most 15 minutes).
    pub timeout_ms: u64,
    /// Linear memory limit in MiB.
    pub memory_mb: u32,
    /// Process runtime: CPU time of one instance, in thousandths of a core (1000: one core).
    pub cpu_millis: u32,
    /// Environment variables the function sees.
    pub env: BTreeMap<String, String>,
    /// Hosts (`host` or `host:port`) the function may call over outbound HTTP.
    pub allow_hosts: Vec<String>,
    /// Retries of a failed asynchronous invocation (after the first attempt).
    pub max_retries: u32,
    /// How long an asynchronous event may wait for a successful attempt, in milliseconds.
    pub max_event_age_ms: u64,
    /// Callers without the token may set `X-Callback-Url` on asynchronous invocations
    /// (callers with it always may).
    pub allow_callbacks: bool,
    /// Process runtime: the command that starts the function, run by `/bin/sh -c`.
    pub command: Option<String>,
    /// Process runtime: how requests reach the command.
    pub mode: ProcessMode,
    /// Process runtime: requests one instance serves at once.
    pub concurrency: u32,
    /// Instances kept warm even without requests (started at deploy).
    pub min_instances: u32,
    /// Most instances at once.
    pub max_instances: u32,
    /// An instance idle this long is stopped (down to `min_instances`), in milliseconds.
    pub idle_timeout_ms: u64,
    /// Most requests of this function running at once; the rest wait in its queue.
    pub max_concurrency: u32,
    /// Buckets the function may use through the S3 endpoint, with a key Gust issues it.
    pub buckets: Vec<BucketGrant>,
    /// Secrets set as variables: variable name → secret name (`gust secret set`). Only the
    /// names are kept with the version; the values are set when it is loaded.
    pub secrets: BTreeMap<String, String>,
    /// Key-value stores the function may use (wasi:keyvalue, or the socket API of process
    /// functions), by name.
    pub kv: Vec<String>,
    /// Where the answer of an event or asynchronous invocation that succeeded goes:
    /// `function:NAME`, `kafka:TOPIC`, `nats:SUBJECT`, `mqtt:TOPIC` or `webhook:URL`.
    #[schema(value_type = Option<String>, example = "kafka:sensor-stats")]
    pub on_success: Option<Destination>,
    /// Where an event or asynchronous invocation that failed every attempt is reported.
    #[schema(value_type = Option<String>)]
    pub on_failure: Option<Destination>,
    /// Most requests waiting for a free slot; past it, 429.
    pub queue_size: u32,
    /// Longest a request waits for a free slot before a 429, in milliseconds.
    pub queue_timeout_ms: u64,
}

impl Default for FunctionConfig {
    fn default() -> Self {
        FunctionConfig {
            public: false,
            timeout_ms: 30_000,
            memory_mb: 128,
            cpu_millis: 1000,
            env: BTreeMap::new(),
            allow_hosts: Vec::new(),
            max_retries: 2,
            max_event_age_ms: MAX_EVENT_AGE_MS,
            allow_callbacks: false,
            command: None,
            mode: ProcessMode::Http,
            concurrency: 1,
            min_instances: 0,
            max_instances: 10,
            idle_timeout_ms: 5 * 60 * 1000,
            max_concurrency: 100,
            buckets: Vec::new(),
            secrets: BTreeMap::new(),
            kv: Vec::new(),
            on_success: None,
            on_failure: None,
            queue_size: 100,
            queue_timeout_ms: 10_000,
        }
    }
}

impl FunctionConfig {
    /// Checks the settings for a version of the given runtime.
    pub fn validate_for(&self, runtime: Runtime) -> Result<(), Error> {
        self.validate()?;
        validate_scaling(self)?;
        validate_runtime(self, runtime)
    }

    fn validate(&self) -> Result<(), Error> {
        if self.timeout_ms == 0 || self.timeout_ms > MAX_TIMEOUT_MS {
            return Err(Error::invalid(format!(
                "timeout {}ms is out of range: use 1ms to 15m",
                self.timeout_ms
            )));
        }
        if !(MIN_MEMORY_MB..=MAX_MEMORY_MB).contains(&self.memory_mb) {
            return Err(Error::invalid(format!(
                "memory {} MB is out of range: use {MIN_MEMORY_MB} to {MAX_MEMORY_MB} MB",
                self.memory_mb
            )));
        }
        if !(MIN_CPU_MILLIS..=MAX_CPU_MILLIS).contains(&self.cpu_millis) {
            return Err(Error::invalid(format!(
                "cpu {} millicores is out of range: use {MIN_CPU_MILLIS} to {MAX_CPU_MILLIS} \
                 (1000 is one core)",
                self.cpu_millis
            )));
        }
        if self.max_retries > MAX_RETRIES {
            return Err(Error::invalid(format!(
                "max retries {} is out of range: use 0 to {MAX_RETRIES}",
                self.max_retries
            )));
        }
        if !(1000..=MAX_EVENT_AGE_MS).contains(&self.max_event_age_ms) {
            return Err(Error::invalid(format!(
                "max event age {}ms is out of range: use 1s to 6h",
                self.max_event_age_ms
            )));
        }
        for key in self.env.keys().chain(self.secrets.keys()) {
            if key.is_empty() || key.contains('=') || key.contains('\0') {
                return Err(Error::invalid(format!(
                    "invalid environment variable name `{key}`"
                )));
            }
        }
        for store in &self.kv {
            crate::validate_kv_store_name(store)?;
        }
        for (variable, secret) in &self.secrets {
            crate::validate_secret_name(secret)?;
            if self.env.contains_key(variable) {
                return Err(Error::invalid(format!(
                    "`{variable}` is both a variable and a secret: name only one"
                )));
            }
        }
        let env_bytes: usize = self.env.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        if env_bytes > MAX_ENV_BYTES {
            return Err(Error::invalid(format!(
                "the environment is {env_bytes} bytes; the limit is {} KiB: keep large \
                 values in the artifact",
                MAX_ENV_BYTES / 1024
            )));
        }
        if self.env.values().any(|v| v.contains('\0')) {
            return Err(Error::invalid("an environment value contains a NUL byte"));
        }
        for host in &self.allow_hosts {
            let valid = !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]*/".contains(c));
            if !valid {
                return Err(Error::invalid(format!(
                    "invalid allowed host `{host}`: use host or host:port"
                )));
            }
        }
        validate_bucket_grants(&self.buckets)
    }

    /// Whether outbound HTTP to `host` (and `port`, the scheme's default when absent) is allowed.
    /// An entry without a port allows any port; `*.example.com` allows subdomains.
    pub fn allows_host(&self, host: &str, port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        self.allow_hosts.iter().any(|entry| {
            let entry = entry.to_ascii_lowercase();
            let (entry_host, entry_port) = match entry.rsplit_once(':') {
                Some((h, p)) if !h.ends_with(']') || entry.starts_with('[') => {
                    (h.to_string(), p.parse::<u16>().ok())
                }
                _ => (entry.clone(), None),
            };
            let host_matches = match entry_host.strip_prefix("*.") {
                Some(suffix) => host.ends_with(&format!(".{suffix}")),
                None if entry_host.contains('/') => cidr_contains(&entry_host, &host),
                None => entry_host == host,
            };
            host_matches && entry_port.is_none_or(|p| p == port)
        })
    }

    /// The names (not addresses, ranges or `*.` patterns) allowed at `port`: a TCP connection
    /// to an address one of them resolves to is allowed.
    pub fn allowed_names(&self, port: u16) -> Vec<String> {
        let mut names = Vec::new();
        for entry in &self.allow_hosts {
            let entry = entry.to_ascii_lowercase();
            let (name, entry_port) = match entry.rsplit_once(':') {
                Some((name, p)) if !entry.starts_with('[') => {
                    (name.to_string(), p.parse::<u16>().ok())
                }
                _ => (entry.clone(), None),
            };
            let is_name = !name.starts_with("*.")
                && !name.contains(['/', '[', ':'])
                && name.parse::<IpAddr>().is_err();
            if is_name && entry_port.is_none_or(|p| p == port) {
                names.push(name);
            }
        }
        names
    }

    /// Whether a connection to `ip`, an address an allowed host resolved to, may be made. An
    /// address of the host itself or of its private networks must be listed as an address:
    /// allowing `api.example.com` never lets a name that resolves to 127.0.0.1 through.
    pub fn allows_address(&self, ip: IpAddr, port: u16) -> bool {
        !is_internal(ip) || self.allows_host(&ip.to_string(), port)
    }
}

/// Whether `host` is an address in the range `cidr` (`10.0.0.0/8`, `fd00::/8`).
fn cidr_contains(cidr: &str, host: &str) -> bool {
    let Some((network, bits)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(network), Ok(bits), Ok(ip)) = (
        network.parse::<IpAddr>(),
        bits.parse::<u32>(),
        host.trim_matches(['[', ']']).parse::<IpAddr>(),
    ) else {
        return false;
    };
    match (network, ip) {
        (IpAddr::V4(network), IpAddr::V4(ip)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(network) & mask == u32::from(ip) & mask
        }
        (IpAddr::V6(network), IpAddr::V6(ip)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(network) & mask == u128::from(ip) & mask
        }
        _ => false,
    }
}

fn validate_bucket_grants(grants: &[BucketGrant]) -> Result<(), Error> {
    for (index, grant) in grants.iter().enumerate() {
        crate::validate_bucket_name(&grant.bucket)?;
        if grants[..index].iter().any(|g| g.bucket == grant.bucket) {
            return Err(Error::invalid(format!(
                "bucket `{}` is granted twice: grant it once, as NAME:read, NAME:write or NAME:rw",
                grant.bucket
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_is_granted_once() {
        let mut config = FunctionConfig::default();
        config
            .buckets
            .push(BucketGrant::parse("photos:read").unwrap());
        config
            .buckets
            .push(BucketGrant::parse("photos-thumbs:write").unwrap());
        assert!(config.validate().is_ok());
        config.buckets.push(BucketGrant::parse("photos").unwrap());
        assert!(config.validate().unwrap_err().message.contains("twice"));
    }

    fn with_hosts(hosts: &[&str]) -> FunctionConfig {
        FunctionConfig {
            allow_hosts: hosts.iter().map(|h| h.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn host_rules() {
        let mut config = with_hosts(&["api.example.com", "127.0.0.1:9000", "*.svc.local"]);
        assert!(config.allows_host("api.example.com", 443));
        assert!(config.allows_host("API.example.com", 80));
        assert!(config.allows_host("127.0.0.1", 9000));
        assert!(!config.allows_host("127.0.0.1", 9001));
        assert!(config.allows_host("a.svc.local", 80));
        config.allow_hosts = vec!["10.0.0.0/8:5432".into(), "db.internal:5432".into()];
        assert!(config.allows_host("10.1.2.3", 5432));
        assert!(!config.allows_host("10.1.2.3", 5433));
        assert!(!config.allows_host("11.0.0.1", 5432));
        assert_eq!(config.allowed_names(5432), vec!["db.internal".to_string()]);
        assert!(config.allowed_names(80).is_empty());
        assert!(!config.allows_host("svc.local", 80));
        assert!(!config.allows_host("evil.com", 443));
        assert!(!FunctionConfig::default().allows_host("api.example.com", 443));
    }

    #[test]
    fn internal_addresses_must_be_listed_as_addresses() {
        let config = with_hosts(&["api.example.com", "127.0.0.1:9000"]);
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        assert!(config.allows_address(ip("93.184.216.34"), 443));
        assert!(config.allows_address(ip("127.0.0.1"), 9000));
        assert!(!config.allows_address(ip("127.0.0.1"), 9001));
        assert!(!config.allows_address(ip("169.254.169.254"), 80));
        assert!(!config.allows_address(ip("10.0.0.5"), 443));
    }

    #[test]
    fn the_environment_is_bounded() {
        let mut config = FunctionConfig::default();
        config.env.insert("BIG".into(), "x".repeat(MAX_ENV_BYTES));
        let error = config.validate().unwrap_err();
        assert!(error.message.contains("64 KiB"), "{}", error.message);
        config.env.insert("BIG".into(), "x".repeat(1000));
        assert!(config.validate().is_ok());
        config.env.insert("NUL".into(), "a\0b".into());
        assert!(config.validate().is_err());
    }

    #[test]
    fn cpu_limits_are_checked() {
        let mut config = FunctionConfig {
            cpu_millis: MIN_CPU_MILLIS - 1,
            ..Default::default()
        };
        assert!(
            config
                .validate()
                .unwrap_err()
                .message
                .contains("millicores")
        );
        config.cpu_millis = 250;
        assert!(config.validate().is_ok());
    }

    #[test]
    fn limits_are_checked() {
        let mut config = FunctionConfig::default();
        assert!(config.validate_for(Runtime::Wasm).is_ok());
        config.timeout_ms = MAX_TIMEOUT_MS + 1;
        assert!(config.validate().is_err());
        config.timeout_ms = 1000;
        config.memory_mb = 8;
        assert!(config.validate().is_err());
        config.memory_mb = 128;
        config.env.insert("A=B".into(), "x".into());
        assert!(config.validate().is_err());
    }
}

/// A change to some of a function's settings; absent fields keep their value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigPatch {
    pub public: Option<bool>,
    pub timeout_ms: Option<u64>,
    pub memory_mb: Option<u32>,
    pub cpu_millis: Option<u32>,
    /// Replaces the whole environment.
    pub env: Option<BTreeMap<String, String>>,
    /// Replaces the whole list of allowed hosts.
    pub allow_hosts: Option<Vec<String>>,
    pub max_retries: Option<u32>,
    pub max_event_age_ms: Option<u64>,
    pub allow_callbacks: Option<bool>,
    pub command: Option<String>,
    pub mode: Option<ProcessMode>,
    pub concurrency: Option<u32>,
    pub min_instances: Option<u32>,
    pub max_instances: Option<u32>,
    pub idle_timeout_ms: Option<u64>,
    pub max_concurrency: Option<u32>,
    /// Replaces the whole list of bucket grants.
    pub buckets: Option<Vec<BucketGrant>>,
    /// Replaces the whole map of secret variables.
    pub secrets: Option<BTreeMap<String, String>>,
    /// Replaces the whole list of key-value stores.
    pub kv: Option<Vec<String>>,
    /// Sets the success destination; `""` removes it.
    #[schema(value_type = Option<String>)]
    pub on_success: Option<DestinationChange>,
    /// Sets the failure destination; `""` removes it.
    #[schema(value_type = Option<String>)]
    pub on_failure: Option<DestinationChange>,
    pub queue_size: Option<u32>,
    pub queue_timeout_ms: Option<u64>,
}

impl ConfigPatch {
    pub fn apply(self, config: &FunctionConfig) -> FunctionConfig {
        FunctionConfig {
            public: self.public.unwrap_or(config.public),
            timeout_ms: self.timeout_ms.unwrap_or(config.timeout_ms),
            memory_mb: self.memory_mb.unwrap_or(config.memory_mb),
            cpu_millis: self.cpu_millis.unwrap_or(config.cpu_millis),
            env: self.env.unwrap_or_else(|| config.env.clone()),
            allow_hosts: self
                .allow_hosts
                .unwrap_or_else(|| config.allow_hosts.clone()),
            max_retries: self.max_retries.unwrap_or(config.max_retries),
            max_event_age_ms: self.max_event_age_ms.unwrap_or(config.max_event_age_ms),
            allow_callbacks: self.allow_callbacks.unwrap_or(config.allow_callbacks),
            command: self.command.or_else(|| config.command.clone()),
            mode: self.mode.unwrap_or(config.mode),
            concurrency: self.concurrency.unwrap_or(config.concurrency),
            min_instances: self.min_instances.unwrap_or(config.min_instances),
            max_instances: self.max_instances.unwrap_or(config.max_instances),
            idle_timeout_ms: self.idle_timeout_ms.unwrap_or(config.idle_timeout_ms),
            max_concurrency: self.max_concurrency.unwrap_or(config.max_concurrency),
            buckets: self.buckets.unwrap_or_else(|| config.buckets.clone()),
            secrets: self.secrets.unwrap_or_else(|| config.secrets.clone()),
            kv: self.kv.unwrap_or_else(|| config.kv.clone()),
            on_success: DestinationChange::apply(self.on_success, &config.on_success),
            on_failure: DestinationChange::apply(self.on_failure, &config.on_failure),
            queue_size: self.queue_size.unwrap_or(config.queue_size),
            queue_timeout_ms: self.queue_timeout_ms.unwrap_or(config.queue_timeout_ms),
        }
    }
}

/// A destination in a change of settings: a new one, or `""` for none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DestinationChange(Option<Destination>);

impl DestinationChange {
    fn apply(
        change: Option<DestinationChange>,
        current: &Option<Destination>,
    ) -> Option<Destination> {
        match change {
            Some(DestinationChange(new)) => new,
            None => current.clone(),
        }
    }
}

impl TryFrom<String> for DestinationChange {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        if text.is_empty() {
            return Ok(DestinationChange(None));
        }
        Destination::try_from(text).map(|d| DestinationChange(Some(d)))
    }
}

impl From<DestinationChange> for String {
    fn from(change: DestinationChange) -> String {
        change.0.map(String::from).unwrap_or_default()
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// What a deploy's `config` part may hold: any JSON is read and checked, or refused,
        /// without panicking.
        #[test]
        fn any_config_part_is_read_and_checked_or_refused(
            text in prop_oneof![
                "\\PC{0,200}",
                ("[a-z_]{1,20}", -5i64..100_000).prop_map(|(key, value)| format!("{{\"{key}\": {value}}}")),
            ],
        ) {
            if let Ok(config) = serde_json::from_str::<FunctionConfig>(&text) {
                let _ = config.validate_for(Runtime::Wasm);
                let _ = config.validate_for(Runtime::Process);
            }
        }
    }
}
