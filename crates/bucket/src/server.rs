//! The S3 endpoint's listener: s3s's service behind a bound on request bodies, which s3s does
//! not set by itself.

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Limited};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use s3s::S3Result;
use s3s::auth::{S3Auth, SecretKey};
use s3s::service::{S3Service, S3ServiceBuilder};

use crate::{GustS3, KeyRing};
use tokio::net::TcpListener;

/// Bodies of requests that are not an object's bytes (XML: which keys to delete, which parts
/// make an upload) are small.
const MAX_REQUEST_XML_BYTES: usize = 2 * 1024 * 1024;

/// The S3 service: Gust's storage, its keys checking signatures.
pub fn service(s3: GustS3, keys: Arc<KeyRing>) -> S3Service {
    let mut builder = S3ServiceBuilder::new(s3);
    builder.set_auth(Signatures(keys));
    builder.build()
}

/// s3s checks each request's signature with the secret this answers.
struct Signatures(Arc<KeyRing>);

#[async_trait::async_trait]
impl S3Auth for Signatures {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.0.get(access_key).await {
            Ok(Some(key)) => Ok(SecretKey::from(key.secret_key)),
            Ok(None) => Err(s3s::s3_error!(InvalidAccessKeyId)),
            Err(e) => Err(s3s::s3_error!(InternalError, "{}", e.message)),
        }
    }
}

/// Serves the S3 API on `listener` until the process ends.
pub async fn serve(listener: TcpListener, service: S3Service, max_object_bytes: u64) {
    let service = Arc::new(service);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("s3: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let service = service.clone();
        tokio::spawn(async move {
            let handler =
                service_fn(move |request| call(service.clone(), request, max_object_bytes));
            let connection = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), handler);
            if let Err(e) = connection.await {
                tracing::debug!(%peer, "s3 connection: {e}");
            }
        });
    }
}

async fn call(
    service: Arc<S3Service>,
    request: http::Request<hyper::body::Incoming>,
    max_object_bytes: u64,
) -> Result<s3s::HttpResponse, s3s::HttpError> {
    // Only a PUT carries an object's (or a part's) bytes.
    let limit = if request.method() == http::Method::PUT {
        usize::try_from(max_object_bytes).unwrap_or(usize::MAX)
    } else {
        MAX_REQUEST_XML_BYTES
    };
    let request = request.map(|body| {
        let limited = Limited::new(body, limit).map_err(std::io::Error::other);
        s3s::Body::http_body_unsync(limited)
    });
    service.call(request).await
}

/// The address the endpoint listens on, or None for `off`.
pub fn parse_listen(text: &str) -> Result<Option<SocketAddr>, String> {
    if text == "off" {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|e| format!("--s3-listen takes HOST:PORT or `off`: {e}"))
}
