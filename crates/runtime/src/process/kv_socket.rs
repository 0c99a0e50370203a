//! Key-value stores for process functions: a small HTTP API on a Unix socket, one per loaded
//! version granted a store. The socket is mounted into each sandbox at `/run/gust/kv.sock`
//! (`GUST_KV_SOCKET`), so a function reaches its stores without any network: the socket is
//! its identity, and it opens only the stores its version was granted.
//!
//! - `GET /kv/STORE/KEY`: the value (404 when absent)
//! - `PUT /kv/STORE/KEY`: sets it to the body; with `x-gust-if-value: BASE64` (or
//!   `x-gust-if-absent: true`) only over that value, else 412
//! - `DELETE /kv/STORE/KEY`
//! - `POST /kv/STORE/KEY?increment=N`: adds N atomically, answers the sum
//! - `GET /kv/STORE?prefix=P&after=K`: a page of keys, as JSON

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use gust_core::{Error, ErrorKind, KeyValue, MAX_KV_BATCH};
use serde::Deserialize;
use tokio::task::JoinHandle;

/// Where sandboxed functions find the socket.
pub const SANDBOX_PATH: &str = "/run/gust/kv.sock";
/// The variable that tells a function where the socket is.
pub const VARIABLE: &str = "GUST_KV_SOCKET";
/// `sun_path` holds 108 bytes with its NUL.
const MAX_SOCKET_PATH: usize = 107;

/// A listening socket; it stops and is removed when dropped (when its version is unloaded).
pub struct KvSocket {
    path: PathBuf,
    server: JoinHandle<()>,
}

#[derive(Clone)]
struct Grant {
    backend: Arc<dyn KeyValue>,
    stores: Arc<[String]>,
}

impl KvSocket {
    /// Listens at `path` for a version granted `stores`. Must be called inside the runtime.
    pub fn open(
        path: PathBuf,
        backend: Arc<dyn KeyValue>,
        stores: &[String],
    ) -> Result<KvSocket, String> {
        if path.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(format!(
                "the key-value socket path {} is longer than a Unix socket allows: use a \
                 shorter --data-dir",
                path.display()
            ));
        }
        let _ = std::fs::remove_file(&path);
        let listener = tokio::net::UnixListener::bind(&path)
            .map_err(|e| format!("cannot listen at {}: {e}", path.display()))?;
        // The function runs as another user; the socket is reachable only where it is mounted.
        allow_everyone(&path)?;
        let grant = Grant {
            backend,
            stores: stores.into(),
        };
        let router = Router::new()
            .route("/kv/{store}", get(keys))
            .route(
                "/kv/{store}/{*key}",
                get(read).put(write).delete(remove).post(increment),
            )
            .with_state(grant);
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::warn!("the key-value socket stopped: {e}");
            }
        });
        Ok(KvSocket { path, server })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for KvSocket {
    fn drop(&mut self) {
        self.server.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

fn allow_everyone(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
        .map_err(|e| format!("cannot open {} to functions: {e}", path.display()))
}

/// An error as the socket answers it: its status and message.
struct Refusal(Error);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = match self.0.kind {
            ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::Conflict => StatusCode::PRECONDITION_FAILED,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body =
            serde_json::json!({"error": {"code": self.0.kind.code(), "message": self.0.message}});
        (status, axum::Json(body)).into_response()
    }
}

impl From<Error> for Refusal {
    fn from(err: Error) -> Self {
        Refusal(err)
    }
}

impl Grant {
    fn check(&self, store: &str) -> Result<&dyn KeyValue, Refusal> {
        if self.stores.iter().any(|s| s == store) {
            return Ok(self.backend.as_ref());
        }
        let message = format!("this function was not granted the store `{store}` (--kv {store})");
        Err(Error::new(ErrorKind::Forbidden, message).into())
    }
}

#[derive(Deserialize)]
struct KeysQuery {
    #[serde(default)]
    prefix: String,
    after: Option<String>,
}

async fn keys(
    State(grant): State<Grant>,
    UrlPath(store): UrlPath<String>,
    Query(query): Query<KeysQuery>,
) -> Result<Response, Refusal> {
    let kv = grant.check(&store)?;
    let after = query.after.as_deref();
    let page = kv.keys(&store, &query.prefix, after, MAX_KV_BATCH).await?;
    Ok(axum::Json(page).into_response())
}

async fn read(
    State(grant): State<Grant>,
    UrlPath((store, key)): UrlPath<(String, String)>,
) -> Result<Response, Refusal> {
    match grant.check(&store)?.get(&store, &key).await? {
        Some(value) => Ok(value.into_response()),
        None => Err(Error::not_found(format!("no key `{key}` in `{store}`")).into()),
    }
}

async fn write(
    State(grant): State<Grant>,
    UrlPath((store, key)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, Refusal> {
    let kv = grant.check(&store)?;
    let Some(expected) = expected_value(&headers)? else {
        kv.set(&store, &key, body.to_vec()).await?;
        return Ok(StatusCode::NO_CONTENT);
    };
    if kv
        .compare_and_swap(&store, &key, expected, body.to_vec())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        let message = format!("`{key}` no longer holds the value expected");
        Err(Error::new(ErrorKind::Conflict, message).into())
    }
}

/// What a conditional write expects the key to hold: `Some(None)` for absent.
fn expected_value(headers: &HeaderMap) -> Result<Option<Option<Vec<u8>>>, Refusal> {
    if headers.get("x-gust-if-absent").is_some_and(|v| v == "true") {
        return Ok(Some(None));
    }
    let Some(value) = headers.get("x-gust-if-value") else {
        return Ok(None);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.as_bytes())
        .map_err(|_| Error::invalid("x-gust-if-value holds the expected value in base64"))?;
    Ok(Some(Some(decoded)))
}

async fn remove(
    State(grant): State<Grant>,
    UrlPath((store, key)): UrlPath<(String, String)>,
) -> Result<StatusCode, Refusal> {
    grant.check(&store)?.delete(&store, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct IncrementQuery {
    increment: i64,
}

async fn increment(
    State(grant): State<Grant>,
    UrlPath((store, key)): UrlPath<(String, String)>,
    query: Result<Query<IncrementQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<String, Refusal> {
    let Query(query) =
        query.map_err(|_| Error::invalid("POST takes ?increment=N, an integer to add"))?;
    let sum = grant
        .check(&store)?
        .increment(&store, &key, query.increment)
        .await?;
    Ok(sum.to_string())
}
