//! What stream sources share (Redis streams, NATS, MQTT and Kafka): each is a `Stream`, served
//! as a `Source` by `StreamSource`, with a task per trigger that consumes for as long as the
//! trigger exists, starts over with a backoff when its broker fails, and says how it is doing
//! in the trigger's state. Each event is delivered in place (`AsyncQueue::deliver_in_place`)
//! and acknowledged to the broker after, so delivery is at least once, in order, and paused
//! while the function is at its limit.

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use gust_core::{Error, Trigger};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use tokio::task::JoinHandle;

use crate::{Checked, Source, SourceContext, settings};

/// One kind of stream source: its settings, how a new trigger's broker is checked, and a
/// session of consuming.
#[async_trait]
pub trait Stream: Send + Sync + 'static {
    /// The `kind` of its triggers.
    const KIND: &'static str;
    type Config: Serialize + DeserializeOwned + Send + Sync + 'static;

    /// The settings if they make sense as they are (no I/O), else what is wrong with them.
    fn checked(config: Self::Config) -> Result<Self::Config, String>;

    /// Whether the broker answers and has what the settings name, at `trigger add`.
    async fn reachable(config: &Self::Config) -> Result<(), String>;

    /// Consumes and delivers; it ends only with the broker's failure.
    async fn session(
        context: &SourceContext,
        trigger: &Trigger,
        config: &Self::Config,
    ) -> Result<(), String>;
}

/// The `Source` of a kind of stream.
pub struct StreamSource<S> {
    consumers: Consumers,
    stream: PhantomData<S>,
}

impl<S: Stream> Default for StreamSource<S> {
    fn default() -> Self {
        StreamSource {
            consumers: Consumers::new(S::KIND, |context, trigger| {
                Box::pin(consume::<S>(context, trigger))
            }),
            stream: PhantomData,
        }
    }
}

async fn consume<S: Stream>(context: SourceContext, trigger: Trigger) {
    let Some(config) = settings_or_report(&context, &trigger, S::checked).await else {
        return;
    };
    keep_consuming(context.clone(), &trigger, || {
        S::session(&context, &trigger, &config)
    })
    .await;
}

#[async_trait]
impl<S: Stream> Source for StreamSource<S> {
    fn kind(&self) -> &'static str {
        S::KIND
    }

    async fn check(&self, _function: &str, config: Map<String, Value>) -> Result<Checked, Error> {
        let config = settings::read::<S::Config>(S::KIND, config)?;
        let config = S::checked(config).map_err(Error::invalid)?;
        S::reachable(&config).await.map_err(Error::invalid)?;
        Ok(Checked::settings(&config))
    }

    async fn start(self: Arc<Self>, context: SourceContext) {
        self.consumers.start(context).await;
    }

    async fn changed(&self) {
        self.consumers.sync().await;
    }
}

/// The first wait before reconnecting to a broker, doubled up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Consumes a trigger's stream until the task is stopped.
type Consume = fn(SourceContext, Trigger) -> BoxFuture<'static, ()>;

/// The running consumers of one kind of source, by trigger id.
struct Consumers {
    kind: &'static str,
    consume: Consume,
    context: OnceLock<SourceContext>,
    running: Mutex<HashMap<String, JoinHandle<()>>>,
}

impl Consumers {
    fn new(kind: &'static str, consume: Consume) -> Consumers {
        Consumers {
            kind,
            consume,
            context: OnceLock::new(),
            running: Mutex::default(),
        }
    }

    async fn start(&self, context: SourceContext) {
        let _ = self.context.set(context);
        self.sync().await;
    }

    /// Starts a consumer for each stored trigger of the kind that has none, and stops those
    /// whose trigger is gone (an event being delivered then is not acknowledged, so the broker
    /// delivers it again to whoever consumes next).
    async fn sync(&self) {
        if let Err(e) = self.try_sync().await {
            tracing::error!("{} triggers: {e}", self.kind);
        }
    }

    async fn try_sync(&self) -> Result<(), Error> {
        let Some(context) = self.context.get() else {
            return Ok(());
        };
        let triggers = context.store.triggers(None, Some(self.kind)).await?;
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running.retain(|id, task| {
            let kept = triggers.iter().any(|t| &t.id == id);
            if !kept {
                task.abort();
            }
            kept && !task.is_finished()
        });
        for trigger in triggers {
            if !running.contains_key(&trigger.id) {
                let id = trigger.id.clone();
                running.insert(id, tokio::spawn((self.consume)(context.clone(), trigger)));
            }
        }
        Ok(())
    }
}

/// The trigger's settings, read into its source's struct and passed through `check`; a
/// trigger whose settings do not pass says why in its state and is not consumed.
async fn settings_or_report<C: DeserializeOwned>(
    context: &SourceContext,
    trigger: &Trigger,
    check: impl FnOnce(C) -> Result<C, String>,
) -> Option<C> {
    let read = settings::read::<C>(&trigger.kind, trigger.config.clone())
        .map_err(|e| e.message)
        .and_then(check);
    match read {
        Ok(config) => Some(config),
        Err(why) => {
            report(context, trigger, Status::Error(why)).await;
            None
        }
    }
}

/// Runs `session` again and again: each ends only with its broker's failure, which goes in the
/// trigger's state before the next try, after a backoff that grows while the failures last.
async fn keep_consuming<S, Fut>(context: SourceContext, trigger: &Trigger, session: S)
where
    S: Fn() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut backoff = FIRST_BACKOFF;
    loop {
        let started = tokio::time::Instant::now();
        let failure = match session().await {
            Ok(()) => return,
            Err(failure) => failure,
        };
        tracing::warn!(trigger = %trigger.id, "stream trigger: {failure}; retrying in {backoff:?}");
        report(&context, trigger, Status::Error(failure)).await;
        if started.elapsed() > MAX_BACKOFF {
            backoff = FIRST_BACKOFF;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// An event of `trigger` was delivered and acknowledged.
pub fn count_event(context: &SourceContext, trigger: &Trigger) {
    if let Some(metrics) = &context.metrics {
        metrics.trigger_event(&trigger.id, &trigger.kind);
    }
}

/// How a stream trigger is doing, as `gust trigger ls` shows it.
pub enum Status {
    /// Consuming, with how many events wait in the broker (when it says).
    Running { lag: Option<u64> },
    /// Its broker failed; it keeps trying.
    Error(String),
}

pub async fn report(context: &SourceContext, trigger: &Trigger, status: Status) {
    let trigger_id = trigger.id.as_str();
    let state = match status {
        Status::Running { lag } => {
            if let (Some(metrics), Some(lag)) = (&context.metrics, lag) {
                metrics.set_trigger_lag(trigger_id, &trigger.kind, lag);
            }
            json!({"status": "running", "lag": lag})
        }
        Status::Error(reason) => json!({"status": "error", "reason": reason}),
    };
    let Value::Object(mut state) = state else {
        unreachable!("a JSON object")
    };
    state.insert("updated_at_ms".into(), json!(gust_core::now_ms()));
    let state: Map<String, Value> = state.into_iter().filter(|(_, v)| !v.is_null()).collect();
    if let Err(e) = context.store.set_trigger_state(trigger_id, state).await {
        tracing::warn!(trigger = %trigger_id, "cannot record a trigger's state: {e}");
    }
}
