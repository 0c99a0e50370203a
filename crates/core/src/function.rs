use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::FunctionConfig;

/// How a version's artifact is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// A WebAssembly component of the `wasi:http/proxy` world.
    Wasm,
}

impl Runtime {
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Wasm => "wasm",
        }
    }

    pub fn parse(text: &str) -> Option<Runtime> {
        match text {
            "wasm" => Some(Runtime::Wasm),
            _ => None,
        }
    }
}

/// One immutable deployment of a function: an artifact and the config it runs with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Version {
    pub function: String,
    pub number: u32,
    pub runtime: Runtime,
    /// sha256 of the artifact, hex.
    pub artifact_sha256: String,
    pub artifact_size: u64,
    pub config: FunctionConfig,
    pub created_at_ms: i64,
}

/// A function and its latest version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FunctionInfo {
    pub name: String,
    pub created_at_ms: i64,
    pub latest: Version,
}
