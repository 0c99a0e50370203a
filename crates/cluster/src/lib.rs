//! Gust's state in NATS JetStream, for several `gust serve` nodes that share one platform.
//! It is built concern by concern behind gust-store's traits, each proved by that concern's
//! conformance suite against a real nats-server: so far the artifacts, the catalog (with
//! aliases and routes, and a watch that tells every node what changed) and the schedules'
//! claims, records shipped through a stream into every node's database, and the work queue.

mod access;
mod artifacts;
mod catalog;
mod join;
mod key_value;
mod pointers;
mod records;
mod relay;
#[cfg(any(test, feature = "test-server"))]
pub mod test_server;
mod watch;
mod work;

pub use artifacts::JetStreamArtifacts;
pub use catalog::JetStreamCatalog;
pub use join::{Cluster, Node};
pub use key_value::JetStreamKeyValue;
pub use records::JetStreamRecords;
pub use relay::relay;
pub use watch::CatalogChange;
pub use work::JetStreamWorkQueue;

/// What a JetStream call's error becomes: the cluster's store did not answer or refused, and
/// the caller may try again (503).
fn nats_error(what: &str, err: impl std::fmt::Display) -> gust_core::Error {
    gust_core::Error::new(
        gust_core::ErrorKind::Unavailable,
        format!("the cluster's store (NATS) did not answer: {what}: {err}; try again"),
    )
}

/// A node's name as part of a key or a consumer's name (letters, digits, `-` and `_`).
fn key_safe(node: &str) -> String {
    node.chars()
        .map(|c| match c.is_ascii_alphanumeric() || c == '-' {
            true => c,
            false => '_',
        })
        .collect()
}

/// Whether JetStream takes `key` as a key: dot-separated tokens of letters, digits, `-/_=`.
fn is_a_key(key: &str) -> bool {
    key.split('.').all(|token| {
        !token.is_empty()
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-/_=".contains(&b))
    })
}
