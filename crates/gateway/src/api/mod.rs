//! The management API under `/v1`.

mod aliases;
mod buckets;
mod callback_secret;
mod deploy;
mod functions;
mod invocations;
mod kv;
mod logs;
mod routes;
mod secrets;
mod tokens;
mod triggers;
mod usage;

use axum::Router;
use axum::routing::{delete, get, post, put};

use crate::AppState;

pub use deploy::DeployResponse;

pub(crate) use aliases::{
    __path_list as __path_list_aliases, __path_remove as __path_remove_alias, __path_rollback,
    __path_set as __path_set_alias,
};
pub(crate) use buckets::{
    __path_create as __path_create_bucket, __path_create_key, __path_list as __path_list_buckets,
    __path_list_keys, __path_remove as __path_remove_bucket, __path_remove_key,
};
pub(crate) use callback_secret::__path_get as __path_callback_secret;
pub(crate) use deploy::__path_deploy;
pub(crate) use functions::{
    __path_delete, __path_get, __path_invocations, __path_list, __path_reconfigure, __path_versions,
};
pub(crate) use invocations::{
    __path_cancel, __path_dead_letters, __path_get as __path_get_invocation,
    __path_list as __path_list_async, __path_replay,
};
pub(crate) use kv::{
    __path_get as __path_get_kv, __path_keys as __path_kv_keys, __path_remove as __path_remove_kv,
    __path_set as __path_set_kv, __path_stores as __path_kv_stores,
};
pub(crate) use logs::__path_logs;
pub(crate) use routes::{
    __path_add as __path_add_route, __path_list as __path_list_routes,
    __path_remove as __path_remove_route,
};
pub(crate) use secrets::{
    __path_list as __path_list_secrets, __path_remove as __path_remove_secret,
    __path_set as __path_set_secret,
};
pub(crate) use tokens::{
    __path_create as __path_create_token, __path_list as __path_list_tokens,
    __path_revoke as __path_revoke_token,
};
pub(crate) use triggers::{
    __path_add as __path_add_trigger, __path_list as __path_list_triggers,
    __path_remove as __path_remove_trigger,
};
pub(crate) use usage::__path_usage;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/functions", get(functions::list))
        .route(
            "/functions/{name}",
            put(deploy::deploy)
                .get(functions::get)
                .patch(functions::reconfigure)
                .delete(functions::delete),
        )
        .route("/functions/{name}/versions", get(functions::versions))
        .route("/functions/{name}/aliases", get(aliases::list))
        .route(
            "/functions/{name}/aliases/{alias}",
            put(aliases::set).delete(aliases::remove),
        )
        .route(
            "/functions/{name}/aliases/{alias}/rollback",
            post(aliases::rollback),
        )
        .route("/functions/{name}/invocations", get(functions::invocations))
        .route("/functions/{name}/logs", get(logs::logs))
        .route(
            "/functions/{name}/callback-secret",
            get(callback_secret::get),
        )
        .route("/usage", get(usage::usage))
        .route("/functions/{name}/triggers", post(triggers::add))
        .route("/triggers", get(triggers::list))
        .route("/triggers/{id}", delete(triggers::remove))
        .route("/functions/{name}/async", get(invocations::list))
        .route("/functions/{name}/dlq", get(invocations::dead_letters))
        .route("/functions/{name}/dlq/replay", post(invocations::replay))
        .route(
            "/invocations/{id}",
            get(invocations::get).delete(invocations::cancel),
        )
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{id}", delete(tokens::revoke))
        .route("/buckets", get(buckets::list).post(buckets::create))
        .route("/buckets/{bucket}", delete(buckets::remove))
        .route(
            "/s3-keys",
            get(buckets::list_keys).post(buckets::create_key),
        )
        .route("/s3-keys/{id}", delete(buckets::remove_key))
        .route("/routes", get(routes::list).post(routes::add))
        .route("/routes/{id}", delete(routes::remove))
        .route("/kv", get(kv::stores))
        .route("/kv/{store}", get(kv::keys))
        .route(
            "/kv/{store}/{*key}",
            get(kv::get).put(kv::set).delete(kv::remove),
        )
        .route("/secrets", get(secrets::list))
        .route("/secrets/{name}", put(secrets::set).delete(secrets::remove))
}
