//! The source of kind `webhook`: a URL, `/hooks/ID`, that a third party posts to. A post whose
//! signature checks is stored as an asynchronous invocation (retries, dead letters, records
//! and billing apply) and answered 202; any other is refused, and nothing is stored.

mod signature;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use async_trait::async_trait;
use bytes::Bytes;
use gust_core::{Error, ErrorKind, Origin, now_ms};
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use self::signature::Scheme;
use self::signature::{DEFAULT_HMAC_HEADER, STRIPE_TOLERANCE_S, Verifier};
use crate::{Checked, CloudEvent, Source, SourceContext, settings};

/// A webhook trigger's settings.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookConfig {
    /// How posts are signed: `none`, `github`, `stripe` or `hmac-sha256`.
    #[serde(default = "no_scheme")]
    verify: Scheme,
    /// The secret shared with the sender; never shown back (see `Trigger::without_secrets`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    /// `hmac-sha256`: the header that carries the signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    header: Option<String>,
    /// `stripe`: how far a signature's time may be from now, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tolerance_s: Option<u64>,
}

fn no_scheme() -> Scheme {
    Scheme::None
}

impl WebhookConfig {
    fn verifier(&self) -> Verifier {
        Verifier {
            scheme: self.verify,
            secret: self.secret.clone().unwrap_or_default().into_bytes(),
            header: self
                .header
                .clone()
                .unwrap_or_else(|| DEFAULT_HMAC_HEADER.into())
                .to_ascii_lowercase(),
            tolerance_s: self.tolerance_s.unwrap_or(STRIPE_TOLERANCE_S),
        }
    }
}

struct Hook {
    function: String,
    verifier: Verifier,
}

#[derive(Default)]
pub struct WebhookSource {
    context: OnceLock<SourceContext>,
    hooks: RwLock<HashMap<String, Hook>>,
}

impl WebhookSource {
    /// Checks a post to `/hooks/ID` and stores it as an invocation; returns its id.
    pub async fn receive(
        &self,
        id: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<String, Error> {
        let Some(context) = self.context.get() else {
            return Err(Error::internal("webhooks are not started yet"));
        };
        let function = {
            let hooks = self.hooks.read().unwrap_or_else(|p| p.into_inner());
            let hook = hooks
                .get(id)
                .ok_or_else(|| Error::not_found(format!("no webhook `{id}`")))?;
            let now_s = (now_ms() / 1000) as u64;
            hook.verifier.check(headers, &body, now_s).map_err(|why| {
                Error::new(
                    ErrorKind::Unauthorized,
                    format!("webhook signature refused: {why}"),
                )
            })?;
            hook.function.clone()
        };
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("application/octet-stream");
        let event = CloudEvent {
            event_type: "dev.gust.webhook.received".into(),
            source: format!("/hooks/{id}"),
            subject: None,
            time_ms: now_ms(),
            content_type: content_type.to_string(),
            data: body.to_vec(),
            traceparent: None,
        };
        let mut request = event.into_request();
        request.headers.extend(passed_on(headers));
        let origin = Origin::new("webhook", id);
        context
            .queue
            .enqueue(&function, origin, request, None)
            .await
    }

    async fn reload(&self) -> Result<(), Error> {
        let Some(context) = self.context.get() else {
            return Ok(());
        };
        let triggers = context.store.triggers(None, Some("webhook")).await?;
        let hooks = triggers
            .into_iter()
            .filter_map(|trigger| {
                match serde_json::from_value::<WebhookConfig>(Value::Object(trigger.config)) {
                    Ok(config) => Some((
                        trigger.id,
                        Hook {
                            function: trigger.function,
                            verifier: config.verifier(),
                        },
                    )),
                    Err(e) => {
                        tracing::error!(trigger = %trigger.id, "webhook cannot be read, skipped: {e}");
                        None
                    }
                }
            })
            .collect();
        *self.hooks.write().unwrap_or_else(|p| p.into_inner()) = hooks;
        Ok(())
    }
}

/// The sender's headers the function sees (`x-github-event`, `stripe-signature`, ...): all
/// but those of the connection, its credentials, and the names Gust alone sets.
fn passed_on(headers: &HeaderMap) -> Vec<(String, String)> {
    const DROPPED: [&str; 9] = [
        "host",
        "content-length",
        "content-type",
        "authorization",
        "cookie",
        "connection",
        "transfer-encoding",
        "keep-alive",
        "upgrade",
    ];
    headers
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            !DROPPED.contains(&name) && !name.starts_with("ce-") && !name.starts_with("x-gust-")
        })
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
        .collect()
}

#[async_trait]
impl Source for WebhookSource {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    async fn check(&self, _function: &str, config: Map<String, Value>) -> Result<Checked, Error> {
        let config: WebhookConfig = settings::read("webhook", config)?;
        let has_secret = config.secret.as_ref().is_some_and(|s| !s.is_empty());
        if config.verify != Scheme::None && !has_secret {
            return Err(Error::invalid(
                "a signed webhook needs the secret it is signed with (`secret`, or \
                 `--secret-file F` in the CLI)",
            ));
        }
        if config.verify == Scheme::None && has_secret {
            return Err(Error::invalid(
                "a secret without `verify` would check nothing: say how posts are signed \
                 (github, stripe or hmac-sha256)",
            ));
        }
        if let Some(header) = &config.header
            && (config.verify != Scheme::HmacSha256
                || http::HeaderName::from_bytes(header.as_bytes()).is_err())
        {
            return Err(Error::invalid(format!(
                "`header` ({header}) names the header of an hmac-sha256 webhook's signature"
            )));
        }
        Ok(Checked::settings(&config))
    }

    async fn start(self: Arc<Self>, context: SourceContext) {
        let _ = self.context.set(context);
        if let Err(e) = self.reload().await {
            tracing::error!("webhooks: {e}");
        }
    }

    async fn changed(&self) {
        if let Err(e) = self.reload().await {
            tracing::error!("webhooks: {e}");
        }
    }
}
