//! `nats:SUBJECT`: a core NATS message with the metadata as headers, flushed to the server
//! before the send counts as done (a JetStream stream on the subject stores it).

use async_trait::async_trait;
use gust_core::DestinationKind;
use gust_dispatch::{Message, Outlet};

pub struct NatsOutlet {
    client: async_nats::Client,
}

impl NatsOutlet {
    /// A client of `url` that connects, and reconnects, in the background.
    pub async fn new(url: &str) -> Result<NatsOutlet, String> {
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(url)
            .await
            .map_err(|e| format!("bad NATS URL for destinations `{url}`: {e}"))?;
        Ok(NatsOutlet { client })
    }
}

#[async_trait]
impl Outlet for NatsOutlet {
    fn kind(&self) -> DestinationKind {
        DestinationKind::Nats
    }

    async fn send(&self, subject: &str, message: &Message) -> Result<(), String> {
        let mut headers = async_nats::HeaderMap::new();
        for (name, value) in super::metadata(message) {
            headers.insert(name, value);
        }
        self.client
            .publish_with_headers(subject.to_string(), headers, message.body.clone().into())
            .await
            .map_err(|e| format!("publishing to {subject}: {e}"))?;
        self.client
            .flush()
            .await
            .map_err(|e| format!("publishing to {subject}: {e}"))
    }
}
