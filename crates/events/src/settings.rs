//! A trigger's settings and state are JSON objects in the store: each source reads them into a
//! struct of its own and writes them back from it.

use gust_core::Error;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::Checked;

/// The settings of a trigger of `kind`, or a 400 saying what is wrong with them.
pub fn read<T: DeserializeOwned>(kind: &str, map: Map<String, Value>) -> Result<T, Error> {
    serde_json::from_value(Value::Object(map))
        .map_err(|e| Error::invalid(format!("a {kind} trigger's settings: {e}")))
}

pub fn to_map<T: Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => unreachable!("settings and states are structs"),
    }
}

impl Checked {
    /// Checked settings, with no state yet.
    pub fn settings<T: Serialize>(config: &T) -> Checked {
        Checked {
            config: to_map(config),
            state: Map::new(),
        }
    }
}
