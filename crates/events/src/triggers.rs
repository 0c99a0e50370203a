use std::collections::BTreeMap;
use std::sync::Arc;

use gust_core::{Error, Trigger, now_ms};
use gust_store::Catalog;
use serde_json::{Map, Value};

use crate::{Source, SourceContext};

/// The event sources of a node, by kind: adding or removing a trigger goes through its source.
pub struct Triggers {
    sources: BTreeMap<&'static str, Arc<dyn Source>>,
    store: Arc<dyn Catalog>,
}

impl Triggers {
    /// Starts every source.
    pub async fn start(context: SourceContext, sources: Vec<Arc<dyn Source>>) -> Arc<Self> {
        let store = context.store.clone();
        for source in &sources {
            source.clone().start(context.clone()).await;
        }
        let sources = sources
            .into_iter()
            .map(|source| (source.kind(), source))
            .collect();
        Arc::new(Triggers { sources, store })
    }

    /// Checks a new trigger with its source and keeps it.
    pub async fn add(
        &self,
        function: &str,
        kind: &str,
        config: Map<String, Value>,
    ) -> Result<Trigger, Error> {
        let source = self.source(kind)?;
        if self.store.function(function).await?.is_none() {
            return Err(Error::function_not_found(function));
        }
        let checked = source.check(function, config).await?;
        let trigger = Trigger {
            id: ulid::Ulid::new().to_string(),
            function: function.to_string(),
            kind: kind.to_string(),
            created_at_ms: now_ms(),
            config: checked.config,
            state: checked.state,
        };
        self.store.add_trigger(trigger.clone()).await?;
        source.changed().await;
        Ok(trigger)
    }

    /// False if there was no such trigger.
    pub async fn remove(&self, id: &str) -> Result<bool, Error> {
        let removed = self.store.delete_trigger(id).await?;
        if removed {
            self.reload().await;
        }
        Ok(removed)
    }

    /// Has every source read its triggers again: after a removal, whose kind is not known
    /// here, or after another node added or removed one.
    pub async fn reload(&self) {
        for source in self.sources.values() {
            source.changed().await;
        }
    }

    fn source(&self, kind: &str) -> Result<&Arc<dyn Source>, Error> {
        self.sources.get(kind).ok_or_else(|| {
            let known: Vec<&str> = self.sources.keys().copied().collect();
            Error::invalid(format!(
                "unknown trigger kind `{kind}`: use {}",
                known.join(", ")
            ))
        })
    }
}
