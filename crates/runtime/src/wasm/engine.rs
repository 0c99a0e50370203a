use std::time::Duration;

use gust_core::MAX_MEMORY_MB;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// The default budget of linear memory for all instances together: 8 GiB.
pub const DEFAULT_MAX_MEMORY: usize = 8 << 30;

/// Knobs of the shared engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Instances that can run at once across all functions.
    pub max_instances: u32,
    /// Instances kept warm between requests across all functions.
    pub max_idle_instances: u32,
    /// Linear memory those warm instances may hold together, in bytes.
    pub max_idle_memory: usize,
    /// Linear memory all instances, running or warm, may hold together, in bytes.
    pub max_memory: usize,
    /// How often the epoch advances: the granularity of timeouts and of yielding to other tasks.
    pub epoch_tick: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            max_instances: 1000,
            max_idle_instances: 256,
            max_idle_memory: 1 << 30,
            max_memory: DEFAULT_MAX_MEMORY,
            epoch_tick: Duration::from_millis(10),
        }
    }
}

pub fn build(options: &EngineOptions) -> anyhow::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    let instances = options.max_instances + options.max_idle_instances;
    pool.total_component_instances(instances)
        // A component holds a few core instances (its module plus adapter shims).
        .total_core_instances(instances * 4)
        .total_memories(instances * 2)
        .total_tables(instances * 2)
        .max_memory_size(MAX_MEMORY_MB as usize * 1024 * 1024)
        .max_memories_per_component(4)
        .max_tables_per_component(8);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Ok(Engine::new(&config)?)
}
