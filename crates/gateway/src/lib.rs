//! HTTP ingress: function invocation under `/fn`, the management API under `/v1`, and its
//! OpenAPI document.

mod access;
mod api;
mod auth;
mod body_limit;
mod dashboard;
mod enqueue;
mod error;
mod guest_headers;
mod health;
mod hooks;
mod invoke;
mod listener;
mod openapi;
mod permissions;
mod routes;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};
use gust_bucket::Buckets;
use gust_core::KeyValue;
use gust_dispatch::{AsyncQueue, Dispatcher};
use gust_events::{Triggers, WebhookSource};
use gust_meter::{Metrics, PriceModel};
use gust_secrets::SecretVault;
use tokio::sync::watch;

pub use access::Access;
pub use auth::AdminToken;
pub use error::ApiError;
pub use listener::{ConnectionLimits, serve};
pub use routes::Routes;

/// What every handler can reach. Handlers get it by clone, once per request: one shared
/// allocation, not a copy of every field.
#[derive(Clone)]
pub struct AppState(Arc<App>);

impl AppState {
    pub fn new(app: App) -> Self {
        AppState(Arc::new(app))
    }
}

impl std::ops::Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}

pub struct App {
    pub dispatcher: Arc<Dispatcher>,
    /// Who may do what: the admin token and the scoped tokens.
    pub access: Access,
    /// Guards `/metrics` when set (`gust serve --metrics-token`).
    pub metrics_token: Option<AdminToken>,
    /// Largest artifact upload accepted, in bytes.
    pub max_upload_bytes: usize,
    /// Turns true when the server starts shutting down; ends streams that would never end.
    pub shutdown: watch::Receiver<bool>,
    /// The node's metrics, when metering is on.
    pub metrics: Option<Arc<Metrics>>,
    pub prices: PriceModel,
    pub queue: Arc<AsyncQueue>,
    pub triggers: Arc<Triggers>,
    /// Takes the posts to `/hooks/{id}`.
    pub webhooks: Arc<WebhookSource>,
    /// Buckets and S3 keys.
    pub buckets: Arc<Buckets>,
    pub secrets: Arc<SecretVault>,
    /// Key-value stores of functions.
    pub kv: Arc<dyn KeyValue>,
    /// The API gateway's routes.
    pub routes: Arc<Routes>,
    /// Largest asynchronous payload accepted, in bytes.
    pub max_async_payload_bytes: usize,
}

pub fn router(state: AppState) -> Router {
    let upload_limit = DefaultBodyLimit::max(state.max_upload_bytes.saturating_add(64 * 1024));
    let management =
        api::routes()
            .layer(upload_limit)
            .route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                permissions::authorize,
            ));
    Router::new()
        .route("/fn/{name}", any(invoke::invoke))
        .route("/fn/{name}/", any(invoke::invoke))
        .route("/fn/{name}/{*rest}", any(invoke::invoke))
        .route("/async/{name}", any(enqueue::enqueue))
        .route("/async/{name}/", any(enqueue::enqueue))
        .route("/async/{name}/{*rest}", any(enqueue::enqueue))
        .route("/hooks/{id}", post(hooks::receive))
        .route("/v1/openapi.json", get(openapi::document))
        .route("/metrics", get(health::metrics))
        .route("/healthz", get(health::alive))
        .route("/readyz", get(health::ready))
        .route("/ui", get(dashboard::page))
        .route("/ui/", get(dashboard::page))
        .route("/ui/{*path}", get(dashboard::file))
        .nest("/v1", management)
        .fallback(routes::serve)
        .with_state(state)
}
