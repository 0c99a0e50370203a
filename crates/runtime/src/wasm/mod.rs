//! The wasm runtime: components of the `wasi:http/proxy` world on wasmtime.

mod aot_cache;
mod engine;
mod epoch_ticker;
mod function;
mod guest;
mod header;
mod inline_run;
mod keyvalue;
mod long_runners;
mod memory_budget;
mod stdio;
mod tcp_policy;
mod warm_pool;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::{ArtifactSource, Executor, LoadError, Loaded};
use aot_cache::AotCache;
pub use engine::{DEFAULT_MAX_MEMORY, EngineOptions};
use epoch_ticker::EpochTicker;
use function::WasmFunction;
use guest::GuestState;
use gust_core::KeyValue;
use keyvalue::KvView;
use memory_budget::MemoryBudget;
use warm_pool::IdleBudget;
use wasmtime_wasi_config::WasiConfig;

/// Runs wasi:http components: one engine, one linker, and an on-disk cache of compiled code.
pub struct WasmExecutor {
    engine: Engine,
    linker: Arc<Linker<GuestState>>,
    cache: AotCache,
    idle_budget: Arc<IdleBudget>,
    memory: Arc<MemoryBudget>,
    ticker: Arc<EpochTicker>,
    /// The node's key-value stores, when it has them.
    kv: Option<Arc<dyn KeyValue>>,
    /// Linked components by artifact sha256, shared by every version (of any function) with
    /// that artifact while one of them is loaded.
    loaded: Mutex<HashMap<String, Weak<ProxyPre<GuestState>>>>,
}

impl WasmExecutor {
    pub fn new(cache_dir: PathBuf, options: EngineOptions) -> anyhow::Result<Self> {
        let engine = engine::build(&options)?;
        let ticker = EpochTicker::start(&engine, options.epoch_tick);
        let mut linker = Linker::new(&engine);
        // The full WASI 0.2 surface, as `wasmtime serve -Scli` links it: real components import
        // wasi:cli and wasi:filesystem even when they only serve HTTP. Files are linked but
        // empty (no preopens); sockets reach only what --allow-host names (tcp_policy.rs).
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        wasmtime_wasi_config::add_to_linker(&mut linker, |guest: &mut GuestState| {
            WasiConfig::from(&guest.variables)
        })?;
        keyvalue::add_to_linker(&mut linker, |guest: &mut GuestState| {
            KvView::new(&mut guest.table, &guest.kv)
        })?;
        Ok(WasmExecutor {
            cache: AotCache::open(cache_dir, &engine)?,
            engine,
            linker: Arc::new(linker),
            idle_budget: IdleBudget::new(
                options.max_idle_instances as usize,
                options.max_idle_memory,
            ),
            memory: MemoryBudget::new(options.max_memory),
            ticker,
            kv: None,
            loaded: Mutex::new(HashMap::new()),
        })
    }

    /// Gives functions granted a store (`--kv`) the node's key-value stores.
    pub fn with_key_value(mut self, kv: Arc<dyn KeyValue>) -> Self {
        self.kv = Some(kv);
        self
    }

    /// The linked component of `sha256` if a loaded version already has it.
    fn shared(&self, sha256: &str) -> Option<Arc<ProxyPre<GuestState>>> {
        let mut loaded = self.loaded_map();
        let pre = loaded.get(sha256).and_then(Weak::upgrade);
        if pre.is_none() {
            // Forget entries whose versions were all unloaded.
            loaded.retain(|_, pre| pre.strong_count() > 0);
        }
        pre
    }

    fn loaded_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Weak<ProxyPre<GuestState>>>> {
        self.loaded.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Links a compiled component.
    fn link(&self, component: &Component) -> Result<ProxyPre<GuestState>, LoadError> {
        let pre = self
            .linker
            .instantiate_pre(component)
            .map_err(|e| LoadError::Invalid(format!("the component cannot be linked: {e:#}")))?;
        ProxyPre::new(pre).map_err(|e| {
            LoadError::Invalid(format!(
                "the component does not serve HTTP: it must export `wasi:http/incoming-handler` \
                 (the wasi:http/proxy world): {e:#}"
            ))
        })
    }
}

#[async_trait]
impl Executor for WasmExecutor {
    async fn load(
        &self,
        sha256: &str,
        artifact: ArtifactSource,
        _config: &Arc<gust_core::FunctionConfig>,
    ) -> Result<Arc<dyn Loaded>, LoadError> {
        let pre = match self.shared(sha256) {
            Some(pre) => pre,
            None => {
                // Mapping a compiled component takes well under a millisecond: done in place.
                // Handing this worker's other tasks to another thread first (block_in_place)
                // cost about 90 µs of it. Compiling takes tens of milliseconds: that moves.
                let pre = match self.cache.cached(sha256) {
                    Some(component) => self.link(&component),
                    None => tokio::task::block_in_place(|| {
                        self.link(&self.cache.compile(sha256, artifact)?)
                    }),
                };
                let pre = Arc::new(pre?);
                self.loaded_map()
                    .insert(sha256.to_string(), Arc::downgrade(&pre));
                pre
            }
        };
        Ok(Arc::new(WasmFunction::new(
            self.engine.clone(),
            pre,
            self.idle_budget.clone(),
            self.memory.clone(),
            self.kv.clone(),
            self.ticker.use_ticks(),
        )))
    }

    fn forget(&self, sha256: &str) {
        self.cache.remove(sha256);
    }
}
