//! Object notifications: a bucket's changes become asynchronous invocations, committed in the
//! same transaction as the change itself.

mod chain;
mod notification;

use std::sync::{Arc, OnceLock, RwLock};

use async_trait::async_trait;
use gust_bucket::{Change, ChangeKind, Notifier};
use gust_core::{Error, Origin, validate_bucket_name};
use gust_meter::Metrics;
use gust_store::{BucketStore, NewAsync};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use self::chain::{Chains, MAX_HOPS};
use crate::{Checked, CloudEvent, Source, SourceContext, settings};

/// Which changes a trigger wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum EventKind {
    Created,
    Removed,
}

/// A bucket trigger's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BucketConfig {
    bucket: String,
    /// Both when absent.
    #[serde(default = "every_event")]
    events: Vec<EventKind>,
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    suffix: String,
}

fn every_event() -> Vec<EventKind> {
    vec![EventKind::Created, EventKind::Removed]
}

impl BucketConfig {
    fn wants(&self, change: &Change) -> bool {
        let kind = match change.what {
            ChangeKind::Created { .. } => EventKind::Created,
            ChangeKind::Removed => EventKind::Removed,
        };
        change.bucket == self.bucket
            && self.events.contains(&kind)
            && change.key.starts_with(&self.prefix)
            && change.key.ends_with(&self.suffix)
    }
}

/// A trigger of kind `bucket`, as the notifier matches changes against it.
struct Subscription {
    trigger: String,
    function: String,
    config: BucketConfig,
}

/// The source of kind `bucket`, and the notifier of the S3 endpoint.
pub struct BucketSource {
    buckets: Arc<dyn BucketStore>,
    context: OnceLock<SourceContext>,
    subscriptions: RwLock<Vec<Subscription>>,
    chains: Chains,
    /// Counts the events stopped by the hop limit (`gust_bucket_loops_stopped_total`).
    metrics: Option<Arc<Metrics>>,
}

impl BucketSource {
    pub fn new(buckets: Arc<dyn BucketStore>, metrics: Option<Arc<Metrics>>) -> Arc<BucketSource> {
        Arc::new(BucketSource {
            buckets,
            context: OnceLock::new(),
            subscriptions: RwLock::new(Vec::new()),
            chains: Chains::default(),
            metrics,
        })
    }

    async fn reload(&self) -> Result<(), Error> {
        let Some(context) = self.context.get() else {
            return Ok(());
        };
        let triggers = context.store.triggers(None, Some("bucket")).await?;
        let subscriptions = triggers
            .into_iter()
            .filter_map(|trigger| {
                let config = serde_json::from_value(Value::Object(trigger.config.clone()));
                match config {
                    Ok(config) => Some(Subscription {
                        trigger: trigger.id,
                        function: trigger.function,
                        config,
                    }),
                    Err(e) => {
                        tracing::error!(trigger = %trigger.id, "bucket trigger cannot be read, skipped: {e}");
                        None
                    }
                }
            })
            .collect();
        *self
            .subscriptions
            .write()
            .unwrap_or_else(|p| p.into_inner()) = subscriptions;
        Ok(())
    }

    /// The event for one subscriber, as an invocation ready to be stored.
    async fn event_for(
        &self,
        context: &SourceContext,
        change: &Change,
        trigger: &str,
        function: &str,
    ) -> Result<NewAsync, Error> {
        let kind = match change.what {
            ChangeKind::Created { .. } => "created",
            ChangeKind::Removed => "removed",
        };
        let event = CloudEvent {
            event_type: format!("dev.gust.bucket.object.{kind}"),
            source: format!("/buckets/{}", change.bucket),
            subject: Some(change.key.clone()),
            time_ms: change.at_ms,
            content_type: "application/json".into(),
            data: notification::notification(change, trigger)
                .to_string()
                .into_bytes(),
            traceparent: change.traceparent.clone(),
        };
        let origin = Origin::new("bucket", trigger);
        context
            .queue
            .prepare(function, origin, event.into_request(), None)
            .await
    }
}

#[async_trait]
impl Source for BucketSource {
    fn kind(&self) -> &'static str {
        "bucket"
    }

    async fn check(&self, _function: &str, config: Map<String, Value>) -> Result<Checked, Error> {
        let config: BucketConfig = settings::read("bucket", config)?;
        validate_bucket_name(&config.bucket)?;
        if self.buckets.bucket(&config.bucket).await?.is_none() {
            return Err(Error::invalid(format!(
                "no bucket named `{}`: create it first (`gust bucket create {}`)",
                config.bucket, config.bucket
            )));
        }
        if config.events.is_empty() {
            return Err(Error::invalid(
                "a bucket trigger needs at least one of the events created, removed",
            ));
        }
        Ok(Checked::settings(&config))
    }

    async fn start(self: Arc<Self>, context: SourceContext) {
        let _ = self.context.set(context);
        if let Err(e) = self.reload().await {
            tracing::error!("bucket triggers: {e}");
        }
    }

    async fn changed(&self) {
        if let Err(e) = self.reload().await {
            tracing::error!("bucket triggers: {e}");
        }
    }
}

#[async_trait]
impl Notifier for BucketSource {
    async fn events(&self, change: &Change) -> Result<Vec<NewAsync>, Error> {
        let Some(context) = self.context.get() else {
            return Ok(Vec::new());
        };
        let subscribers: Vec<(String, String)> = {
            let subscriptions = self.subscriptions.read().unwrap_or_else(|p| p.into_inner());
            subscriptions
                .iter()
                .filter(|s| s.config.wants(change))
                .map(|s| (s.trigger.clone(), s.function.clone()))
                .collect()
        };
        if subscribers.is_empty() {
            return Ok(Vec::new());
        }
        let hop = self.chains.hop_after(change.writer.as_deref());
        if hop > MAX_HOPS {
            if let Some(metrics) = &self.metrics {
                metrics.bucket_loop_stopped();
            }
            tracing::warn!(
                bucket = %change.bucket, key = %change.key, writer = ?change.writer,
                "a chain of bucket events passed {MAX_HOPS} hops: this event is not delivered \
                 (does a function write into the bucket that triggers it?)"
            );
            return Ok(Vec::new());
        }
        let mut events = Vec::new();
        for (trigger, function) in subscribers {
            match self.event_for(context, change, &trigger, &function).await {
                Ok(event) => {
                    self.chains.sent(&function, hop);
                    events.push(event);
                }
                // The function went away since the trigger was read: nothing to deliver to.
                Err(e) => tracing::warn!(%trigger, "bucket event not raised: {}", e.message),
            }
        }
        Ok(events)
    }

    fn committed(&self) {
        if let Some(context) = self.context.get() {
            context.queue.wake();
        }
    }
}
