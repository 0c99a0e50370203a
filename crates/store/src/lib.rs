//! Where Gust keeps its state, split by concern: the catalog (what is deployed, with aliases,
//! routes, buckets, tokens and secrets), records (what ran and what it cost), the work queue
//! (asynchronous invocations, claimed under leases), schedules (each firing claimed once) and
//! artifacts (the code itself). `Store` is all but the artifacts at once; the embedded SQLite
//! store (crates/store/src/sqlite) implements them, and a local folder holds the artifacts.
//! Each concern has a conformance suite (`conformance`) that every backend must pass.

mod aliases;
mod artifacts;
mod blobs;
mod buckets;
mod catalog;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod parts;
mod private_file;
mod records;
mod routes;
mod schedules;
mod secrets;
mod sqlite;
mod tokens;
mod work_queue;

pub use aliases::AliasStore;
pub use artifacts::{Artifacts, sha256_hex};
pub use blobs::BlobStore;
pub use buckets::{BucketStore, ObjectQuery, Upload, UploadedPart};
pub use catalog::{Catalog, Deployed, NewVersion};
pub use parts::StoreParts;
pub use private_file::write_private;
pub use records::Records;
pub use routes::RouteStore;
pub use schedules::Schedules;
pub use secrets::{SealedSecret, SecretStore};
pub use sqlite::SqliteStore;
pub use tokens::{NewToken, TokenStore};
pub use work_queue::{AttemptUpdate, Backlog, BacklogLimits, Lease, NewAsync, WorkQueue};

/// Durable platform state: the catalog, records, work queue and schedules of one backend.
pub trait Store: Catalog + Records + WorkQueue + Schedules {}

impl<T: Catalog + Records + WorkQueue + Schedules> Store for T {}
