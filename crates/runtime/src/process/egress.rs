//! The egress proxy of a sandbox: the one way out of its network namespace.
//!
//! Gust listens on `127.0.0.1:EGRESS_PORT` inside the namespace, and the function finds it in
//! `HTTP_PROXY`/`HTTPS_PROXY`. It takes `CONNECT host:port` (HTTPS, or any TCP) and plain
//! `GET http://host/...` requests, and opens only what the function's `--allow-host` list
//! allows, to the same rules as a Wasm function's outbound HTTP. A name that resolves to an
//! internal address (loopback, private, link-local) is refused unless that address is listed.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gust_core::{FunctionConfig, LogStream};
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use super::output::OutputRouter;

/// The proxy's port inside every sandbox.
pub const EGRESS_PORT: u16 = 3128;
const CONNECT_LIMIT: Duration = Duration::from_secs(10);

type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// What one sandbox may reach, and where its refusals are logged.
struct Policy {
    config: Arc<FunctionConfig>,
    output: Arc<OutputRouter>,
}

/// Serves the proxy on `listener` (made inside the namespace) until the returned task is
/// aborted.
pub fn serve(
    listener: std::net::TcpListener,
    config: Arc<FunctionConfig>,
    output: Arc<OutputRouter>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(listener)?;
    let policy = Arc::new(Policy { config, output });
    Ok(tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let policy = policy.clone();
            let service = hyper::service::service_fn(move |request| {
                let policy = policy.clone();
                async move { Ok::<_, Infallible>(policy.handle(request).await) }
            });
            tokio::spawn(async move {
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades();
                let _ = connection.await;
            });
        }
    }))
}

impl Policy {
    async fn handle(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        let result = if request.method() == Method::CONNECT {
            self.tunnel(request).await
        } else {
            self.forward(request).await
        };
        result.unwrap_or_else(|(status, message)| text(status, message))
    }

    /// `CONNECT host:port`: a byte tunnel, opened before the 200 so that refusals are seen.
    async fn tunnel(&self, request: Request<Incoming>) -> Result<Response<ProxyBody>, Refusal> {
        let authority = request
            .uri()
            .authority()
            .ok_or((StatusCode::BAD_REQUEST, "CONNECT needs host:port".into()))?;
        let port = authority
            .port_u16()
            .ok_or((StatusCode::BAD_REQUEST, "CONNECT needs host:port".into()))?;
        let mut upstream = self.connect(authority.host(), port).await?;
        tokio::spawn(async move {
            if let Ok(upgraded) = hyper::upgrade::on(request).await {
                let mut client = TokioIo::new(upgraded);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            }
        });
        Ok(Response::new(empty()))
    }

    /// `GET http://host/path`: sent on to the host, the answer streamed back.
    async fn forward(&self, request: Request<Incoming>) -> Result<Response<ProxyBody>, Refusal> {
        let (mut parts, body) = request.into_parts();
        let not_absolute = || {
            (
                StatusCode::BAD_REQUEST,
                "this is Gust's egress proxy: send absolute http:// URLs, or CONNECT".to_string(),
            )
        };
        if parts.uri.scheme() != Some(&http::uri::Scheme::HTTP) {
            return Err(not_absolute());
        }
        let authority = parts.uri.authority().cloned().ok_or_else(not_absolute)?;
        let stream = self
            .connect(authority.host(), authority.port_u16().unwrap_or(80))
            .await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(bad_gateway)?;
        tokio::spawn(connection);
        parts.uri = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .map_err(bad_gateway)?;
        parts.headers.remove("proxy-connection");
        parts.headers.remove("proxy-authorization");
        let response = sender
            .send_request(Request::from_parts(parts, body))
            .await
            .map_err(bad_gateway)?;
        Ok(response.map(BodyExt::boxed))
    }

    /// A connection to an allowed host, at an allowed address.
    async fn connect(&self, host: &str, port: u16) -> Result<TcpStream, Refusal> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if !self.config.allows_host(host, port) {
            return Err(self.deny(format!(
                "outbound connection to {host}:{port} denied: deploy with --allow-host {host} \
                 to permit it"
            )));
        }
        let addresses = tokio::net::lookup_host((host, port)).await.map_err(|e| {
            (
                StatusCode::BAD_GATEWAY,
                format!("cannot resolve {host}: {e}"),
            )
        })?;
        let mut refused = None;
        for address in addresses {
            if !self.config.allows_address(address.ip(), port) {
                refused = Some(address.ip());
                continue;
            }
            return match tokio::time::timeout(CONNECT_LIMIT, TcpStream::connect(address)).await {
                Ok(Ok(stream)) => Ok(stream),
                Ok(Err(e)) => Err(bad_gateway(e)),
                Err(_) => Err((
                    StatusCode::GATEWAY_TIMEOUT,
                    format!("{host}:{port} did not answer"),
                )),
            };
        }
        let ip = refused.map_or_else(|| "no address".to_string(), |ip| ip.to_string());
        Err(self.deny(format!(
            "outbound connection to {host}:{port} denied: it resolves to the internal address \
             {ip}, allowed only when listed itself (--allow-host {ip}:{port})"
        )))
    }

    fn deny(&self, message: String) -> Refusal {
        self.output
            .line(LogStream::Stderr, format!("[gust] {message}"));
        (StatusCode::FORBIDDEN, message)
    }
}

type Refusal = (StatusCode, String);

fn bad_gateway(error: impl std::fmt::Display) -> Refusal {
    (StatusCode::BAD_GATEWAY, error.to_string())
}

fn text(status: StatusCode, message: String) -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from(message + "\n"))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response
}

fn empty() -> ProxyBody {
    Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed()
}
