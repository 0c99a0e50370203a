//! Gust's S3-compatible object storage: buckets any S3 client can use, whose changes raise
//! events for functions.

mod admin;
mod credentials;
mod files;
mod guest_access;
mod keys;
mod notify;
mod s3;
mod server;

pub use admin::Buckets;
pub use credentials::{CREDENTIALS_FILE, ensure_root_key};
pub use files::ObjectFiles;
pub use guest_access::{BucketAccessGrants, REGION};
pub use keys::KeyRing;
pub use notify::{Change, ChangeKind, Notifier};
pub use s3::{DEFAULT_MAX_OBJECT_BYTES, GustS3};
pub use s3s::service::S3Service;
pub use server::{parse_listen, serve, service};
