//! Domain types of Gust and their validation. No I/O lives here.

#[macro_use]
mod text_enum;

mod address;
mod alias;
mod async_invocation;
mod bucket;
mod capability;
mod config;
mod destination;
mod duration;
mod error;
mod function;
mod invocation;
mod invocation_id;
mod kv;
mod name;
mod origin;
mod route;
mod run_keyed;
mod s3_key;
mod scaling;
mod secret;
mod token;
mod trigger;
mod usage;

pub use address::is_internal;
pub use alias::{Alias, Selector, Split, Target, validate_alias_name};
pub use async_invocation::{AsyncInvocation, AsyncResult, AsyncState, AttemptError, StoredRequest};
pub use bucket::{
    BucketInfo, MAX_KEY_BYTES, ObjectInfo, StoredPart, validate_bucket_name, validate_object_key,
};
pub use capability::{Capability, Provision, provisioned};
pub use config::{
    ConfigPatch, FunctionConfig, MAX_CPU_MILLIS, MAX_EVENT_AGE_MS, MAX_MEMORY_MB, MAX_RETRIES,
    MAX_TIMEOUT_MS, MIN_CPU_MILLIS, MIN_MEMORY_MB,
};
pub use destination::{Destination, DestinationKind};
pub use duration::parse_duration_ms;
pub use error::{Error, ErrorKind};
pub use function::{FunctionInfo, FunctionStatus, InstanceCount, Runtime, Version};
pub use invocation::{InvocationRecord, InvocationStatus, LogLine, LogStream};
pub use invocation_id::InvocationId;
pub use kv::{
    KeyPage, KeyValue, KvStoreInfo, MAX_KV_BATCH, MAX_KV_KEY_BYTES, MAX_KV_KEYS,
    MAX_KV_VALUE_BYTES, check_kv_batch, check_kv_key, incremented, kv_store_full, validate_kv_key,
    validate_kv_store_name, validate_kv_value,
};
pub use name::{FUNCTION_NAME_PATTERN, validate_function_name};
pub use origin::Origin;
pub use route::{METHODS, RESERVED_PREFIXES, Route};
pub use run_keyed::RunKeyed;
pub use s3_key::{BucketAccess, BucketGrant, S3Key};
pub use scaling::{MAX_CONCURRENCY, MAX_INSTANCES, MAX_QUEUE_SIZE, ProcessMode};
pub use secret::{MAX_SECRET_BYTES, SecretInfo, validate_secret_name};
pub use token::{Permission, Role, TokenInfo};
pub use trigger::Trigger;
pub use usage::{UsageGroup, UsageQuery, UsageSums};

/// Milliseconds since the Unix epoch, the one timestamp format of the platform.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
