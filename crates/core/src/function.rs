use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::FunctionConfig;

/// How a version's artifact is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// A WebAssembly component of the `wasi:http/proxy` world.
    Wasm,
    /// A folder (uploaded as a .tar.gz) whose command runs in a sandboxed process.
    Process,
}
string_enum!(Runtime { Wasm => "wasm", Process => "process" });

impl Runtime {
    /// Reads a runtime's name, with an error that lists the known ones.
    pub fn parse_named(text: &str) -> Result<Runtime, crate::Error> {
        Runtime::parse(text).ok_or_else(|| {
            crate::Error::invalid(format!("unknown runtime `{text}`: use wasm or process"))
        })
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

/// A function's instances on this node: warm ones (code loaded or process running) and those
/// serving a request now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InstanceCount {
    pub warm: u32,
    pub busy: u32,
}

/// A function as the API lists it: its latest version and its instances on the node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FunctionStatus {
    #[serde(flatten)]
    pub function: FunctionInfo,
    /// Zero warm instances: scaled to zero.
    pub instances: InstanceCount,
}
