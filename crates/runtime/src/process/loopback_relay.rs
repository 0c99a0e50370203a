//! Loopback relays: an allowed host service on `127.0.0.1:PORT` (Gust's S3 endpoint, or a
//! database the function was allowed with `--allow-host 127.0.0.1:5432`) is reachable inside
//! the sandbox at that same address, as it is for Wasm functions. Gust listens on the port in
//! the sandbox's namespace and carries each connection to the host's port.

use std::net::Ipv4Addr;

use gust_core::FunctionConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The host's loopback ports `config` allows, except those the sandbox uses itself.
pub fn relayed_ports(config: &FunctionConfig, taken: &[u16]) -> Vec<u16> {
    let mut ports: Vec<u16> = config
        .allow_hosts
        .iter()
        .filter_map(|entry| {
            let (host, port) = entry.rsplit_once(':')?;
            let port = port.parse::<u16>().ok()?;
            (host.parse::<Ipv4Addr>().ok()? == Ipv4Addr::LOCALHOST).then_some(port)
        })
        .filter(|port| !taken.contains(port))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Binds a relay's listener: call it inside the sandbox's namespace.
pub fn bind(port: u16) -> std::io::Result<(u16, std::net::TcpListener)> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
    listener.set_nonblocking(true)?;
    Ok((port, listener))
}

/// Relays every connection to `listener` (made inside the namespace) to the host's `port`,
/// until the returned task is aborted.
pub fn serve(port: u16, listener: std::net::TcpListener) -> std::io::Result<JoinHandle<()>> {
    let listener = TcpListener::from_std(listener)?;
    Ok(tokio::spawn(async move {
        while let Ok((mut inside, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut host) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await {
                    let _ = tokio::io::copy_bidirectional(&mut inside, &mut host).await;
                }
            });
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_entries_with_a_port_are_relayed() {
        let config = FunctionConfig {
            allow_hosts: [
                "127.0.0.1:9000",
                "127.0.0.1:9000",
                "127.0.0.1:3128",
                "127.0.0.1",
                "localhost:6379",
                "10.0.0.5:5432",
                "api.example.com:443",
            ]
            .map(String::from)
            .to_vec(),
            ..Default::default()
        };
        assert_eq!(relayed_ports(&config, &[3128, 8080]), vec![9000]);
    }
}
