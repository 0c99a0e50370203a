//! Checks of the settings that depend on the runtime, and of the scaling limits.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Error, FunctionConfig, MAX_TIMEOUT_MS, Runtime};

/// How a process function receives requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProcessMode {
    /// A long-running program serving HTTP on 127.0.0.1:$PORT.
    Http,
    /// A fresh process per request: body on stdin, response body on stdout.
    Stdio,
}
string_enum!(ProcessMode { Http => "http", Stdio => "stdio" });

pub const MAX_INSTANCES: u32 = 1000;
pub const MAX_CONCURRENCY: u32 = 10_000;
pub const MAX_QUEUE_SIZE: u32 = 100_000;
const MAX_IDLE_TIMEOUT_MS: u64 = 24 * 3600 * 1000;

pub(crate) fn validate_scaling(config: &FunctionConfig) -> Result<(), Error> {
    let in_range = |what: &str, value: u64, min: u64, max: u64| {
        if (min..=max).contains(&value) {
            Ok(())
        } else {
            Err(Error::invalid(format!(
                "{what} {value} is out of range: use {min} to {max}"
            )))
        }
    };
    in_range("concurrency", config.concurrency.into(), 1, 1000)?;
    in_range(
        "max instances",
        config.max_instances.into(),
        1,
        MAX_INSTANCES.into(),
    )?;
    in_range(
        "min instances",
        config.min_instances.into(),
        0,
        config.max_instances.into(),
    )?;
    in_range(
        "max concurrency",
        config.max_concurrency.into(),
        1,
        MAX_CONCURRENCY.into(),
    )?;
    in_range(
        "queue size",
        config.queue_size.into(),
        0,
        MAX_QUEUE_SIZE.into(),
    )?;
    in_range(
        "queue timeout (ms)",
        config.queue_timeout_ms,
        0,
        MAX_TIMEOUT_MS,
    )?;
    in_range(
        "idle timeout (ms)",
        config.idle_timeout_ms,
        1000,
        MAX_IDLE_TIMEOUT_MS,
    )
}

pub(crate) fn validate_runtime(config: &FunctionConfig, runtime: Runtime) -> Result<(), Error> {
    let command = config.command.as_deref().map(str::trim);
    match runtime {
        Runtime::Process if command.is_none_or(str::is_empty) => Err(Error::invalid(
            "the process runtime needs a command (`--command 'python3 handler.py'`)",
        )),
        Runtime::Process if command.is_some_and(|c| c.contains('\0')) => {
            Err(Error::invalid("the command contains a NUL byte"))
        }
        Runtime::Wasm if command.is_some() => Err(Error::invalid(
            "a command is for the process runtime: a wasm component needs none",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_needs_a_command_and_wasm_refuses_one() {
        let mut config = FunctionConfig::default();
        assert!(config.validate_for(Runtime::Process).is_err());
        config.command = Some("python3 handler.py".into());
        assert!(config.validate_for(Runtime::Process).is_ok());
        assert!(config.validate_for(Runtime::Wasm).is_err());
    }

    #[test]
    fn min_instances_cannot_pass_max() {
        let config = FunctionConfig {
            min_instances: 3,
            max_instances: 2,
            ..Default::default()
        };
        let err = config.validate_for(Runtime::Wasm).unwrap_err();
        assert!(err.to_string().contains("min instances 3"), "{err}");
    }
}
