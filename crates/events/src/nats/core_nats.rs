//! Core NATS: a subscription (in a queue group, when set, so that consumers share the work).
//! Messages are delivered in place one after the other; NATS keeps none of them.

use futures::StreamExt;
use gust_core::{Origin, Trigger};

use crate::SourceContext;
use crate::stream::{Status, count_event, report};

pub async fn session(
    context: &SourceContext,
    trigger: &Trigger,
    client: async_nats::Client,
    subject: &str,
    queue_group: Option<&str>,
) -> Result<(), String> {
    let subscribed = match queue_group {
        Some(group) => {
            client
                .queue_subscribe(subject.to_string(), group.to_string())
                .await
        }
        None => client.subscribe(subject.to_string()).await,
    };
    let mut messages = subscribed.map_err(|e| format!("cannot subscribe to {subject}: {e}"))?;
    report(context, trigger, Status::Running { lag: None }).await;
    while let Some(message) = messages.next().await {
        let request = super::event(&message, None).into_request();
        let origin = Origin::new("nats", &trigger.id);
        context
            .queue
            .deliver_in_place(&trigger.function, origin, request)
            .await
            .map_err(|e| format!("cannot deliver a message of {subject}: {}", e.message))?;
        count_event(context, trigger);
    }
    Err("the NATS connection closed".into())
}
