//! The instances of one HTTP-mode version: started on demand up to `max_instances`, each
//! taking up to `concurrency` requests, stopped when idle, and backed off when they keep
//! crashing at start.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gust_core::FunctionConfig;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::instance::HttpInstance;
use super::launch::{FunctionFiles, LaunchSpec, Launcher};
use crate::InstanceCount;

/// Longest a program may take to listen on its port.
const START_LIMIT: Duration = Duration::from_secs(10);
/// Failed starts in a row before new starts are delayed.
const CRASHES_BEFORE_BACKOFF: u32 = 3;
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub struct HttpPool {
    launcher: Arc<Launcher>,
    files: FunctionFiles,
    config: Arc<FunctionConfig>,
    instances: Mutex<Vec<Arc<HttpInstance>>>,
    /// One permit per request an instance could take: max_instances × concurrency.
    slots: Arc<Semaphore>,
    crashes: Mutex<CrashLoop>,
}

#[derive(Default)]
struct CrashLoop {
    in_a_row: u32,
    until: Option<Instant>,
    last_error: String,
}

/// Why no instance took a request.
pub enum Unavailable {
    /// Every instance stayed busy until the deadline.
    NoSlot,
    /// The instance could not be started, or did not get ready.
    Failed(String),
}

/// A slot on an instance, held for one request.
pub struct Lease {
    pub instance: Arc<HttpInstance>,
    /// The request had to wait for the instance to start.
    pub cold: bool,
    _slot: OwnedSemaphorePermit,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.instance.release_slot();
    }
}

impl HttpPool {
    pub fn new(launcher: Arc<Launcher>, files: FunctionFiles, config: Arc<FunctionConfig>) -> Self {
        let slots = config.max_instances as usize * config.concurrency as usize;
        HttpPool {
            launcher,
            files,
            config,
            instances: Mutex::new(Vec::new()),
            slots: Arc::new(Semaphore::new(slots)),
            crashes: Mutex::new(CrashLoop::default()),
        }
    }

    /// A free slot on a warm instance, or on one started for this request, by `deadline`.
    pub async fn acquire(&self, deadline: Instant) -> Result<Lease, Unavailable> {
        let slot = tokio::time::timeout_at(deadline, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| Unavailable::NoSlot)?
            .map_err(|e| Unavailable::Failed(e.to_string()))?;
        let instance = {
            let mut instances = self.lock();
            instances.retain(|i| !i.is_gone());
            let concurrency = self.config.concurrency;
            match instances.iter().find(|i| i.take_slot(concurrency)) {
                Some(instance) => instance.clone(),
                None => {
                    self.check_backoff().map_err(Unavailable::Failed)?;
                    let instance = self.start().map_err(Unavailable::Failed)?;
                    instance.take_slot(concurrency);
                    instances.push(instance.clone());
                    instance
                }
            }
        };
        let cold = !instance.is_ready();
        let lease = Lease {
            instance,
            cold,
            _slot: slot,
        };
        let limit = START_LIMIT.min(deadline.saturating_duration_since(Instant::now()));
        match lease.instance.wait_ready(limit).await {
            Ok(()) => {
                self.started_well();
                Ok(lease)
            }
            Err(why) => {
                lease.instance.retire();
                Err(Unavailable::Failed(self.failed_start(&lease.instance, why)))
            }
        }
    }

    fn start(&self) -> Result<Arc<HttpInstance>, String> {
        let port = self.launcher.instance_port()?;
        let mut env = super::base_env(&self.config);
        env.retain(|(key, _)| key != "PORT");
        env.push(("PORT".into(), port.to_string()));
        let process = self.launcher.launch(LaunchSpec {
            files: &self.files,
            config: &self.config,
            env,
            piped: false,
        })?;
        Ok(Arc::new(HttpInstance::new(process, port)))
    }

    fn check_backoff(&self) -> Result<(), String> {
        let crashes = self.crashes.lock().unwrap_or_else(|p| p.into_inner());
        match crashes.until {
            Some(until) if until > Instant::now() => Err(format!(
                "the function failed to start {} times in a row; the next start is in {} ms. \
                 Last failure: {}",
                crashes.in_a_row,
                (until - Instant::now()).as_millis(),
                crashes.last_error
            )),
            _ => Ok(()),
        }
    }

    fn started_well(&self) {
        let mut crashes = self.crashes.lock().unwrap_or_else(|p| p.into_inner());
        if crashes.in_a_row > 0 {
            *crashes = CrashLoop::default();
        }
    }

    /// Counts a failed start, backing off after several; returns the caller's error message.
    fn failed_start(&self, instance: &HttpInstance, why: String) -> String {
        let message = format!(
            "{why}; its last stderr lines:\n{}",
            instance.process.output.tail()
        );
        let mut crashes = self.crashes.lock().unwrap_or_else(|p| p.into_inner());
        crashes.in_a_row += 1;
        crashes.last_error = message.clone();
        if crashes.in_a_row >= CRASHES_BEFORE_BACKOFF {
            let doublings = (crashes.in_a_row - CRASHES_BEFORE_BACKOFF).min(5);
            let delay = (Duration::from_secs(1) * 2u32.pow(doublings)).min(MAX_BACKOFF);
            crashes.until = Some(Instant::now() + delay);
        }
        message
    }

    /// Stops instances idle for `idle` or longer, keeping at least `keep`.
    pub fn scale_down(&self, idle: Duration, keep: u32) {
        let mut instances = self.lock();
        instances.retain(|i| !i.is_gone());
        let mut surplus = instances.len().saturating_sub(keep as usize);
        instances.retain(|instance| {
            let stop = surplus > 0 && instance.busy() == 0 && instance.idle_for() >= idle;
            if stop {
                surplus -= 1;
                instance.retire();
            }
            !stop
        });
    }

    /// Starts instances until `min` are running (provisioned concurrency).
    pub fn keep_warm(&self, min: u32) {
        if self.check_backoff().is_err() {
            return;
        }
        let mut instances = self.lock();
        instances.retain(|i| !i.is_gone());
        while instances.len() < min as usize {
            match self.start() {
                Ok(instance) => {
                    let probe = instance.clone();
                    tokio::spawn(async move {
                        if probe.wait_ready(START_LIMIT).await.is_err() {
                            probe.retire();
                        }
                    });
                    instances.push(instance);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not start a provisioned instance");
                    return;
                }
            }
        }
    }

    /// Instances ready to serve (one still starting is not warm yet) and those serving.
    pub fn count(&self) -> InstanceCount {
        let instances = self.lock();
        let ready = instances.iter().filter(|i| !i.is_gone() && i.is_ready());
        let (mut warm, mut busy) = (0, 0);
        for instance in ready {
            warm += 1;
            busy += u32::from(instance.busy() > 0);
        }
        InstanceCount { warm, busy }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<HttpInstance>>> {
        self.instances.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for HttpPool {
    fn drop(&mut self) {
        for instance in self.lock().iter() {
            instance.retire();
        }
    }
}
