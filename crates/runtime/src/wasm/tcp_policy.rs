//! Outbound TCP from Wasm guests (wasi:sockets), under the same `--allow-host` rules as HTTP:
//! a connection goes to an allowed address or range (`10.0.0.0/8:5432`), or to an address an
//! allowed name resolves to when Gust resolves it, and never to an internal address that is not
//! listed itself. Nothing else: no listening, no UDP, no binding to a chosen address.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use gust_core::{FunctionConfig, LogStream, is_internal};
use wasmtime_wasi::sockets::SocketAddrUse;

use crate::LogSink;

type Check = Pin<Box<dyn Future<Output = bool> + Send + Sync>>;

/// The check wasi:sockets runs on each address a guest's socket uses.
pub fn socket_check(
    config: FunctionConfig,
    logs: LogSink,
) -> impl Fn(SocketAddr, SocketAddrUse) -> Check + Send + Sync + 'static {
    move |address, use_| match use_ {
        // A connect binds implicitly, to the wildcard address.
        SocketAddrUse::TcpBind => {
            let implicit = address.ip().is_unspecified() && address.port() == 0;
            Box::pin(async move { implicit })
        }
        SocketAddrUse::TcpConnect => {
            let (config, logs) = (config.clone(), logs.clone());
            Box::pin(async move {
                let allowed = may_connect(&config, address).await;
                if !allowed {
                    logs.line(
                        LogStream::Stderr,
                        format!(
                            "[gust] TCP connection to {address} denied: deploy with \
                             --allow-host {address} (or a range or name that covers it)"
                        ),
                    );
                }
                allowed
            })
        }
        _ => Box::pin(async { false }),
    }
}

async fn may_connect(config: &FunctionConfig, address: SocketAddr) -> bool {
    let (ip, port) = (address.ip(), address.port());
    if config.allows_host(&ip.to_string(), port) {
        return true;
    }
    if is_internal(ip) {
        return false;
    }
    for name in config.allowed_names(port) {
        if let Ok(mut found) = tokio::net::lookup_host((name.as_str(), port)).await
            && found.any(|resolved| resolved.ip() == ip)
        {
            return true;
        }
    }
    false
}
