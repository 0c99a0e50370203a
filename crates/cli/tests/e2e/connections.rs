//! Slow and silent clients: a connection that never finishes its request, or sits idle, is
//! closed; the number of open connections is bounded.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::harness::Server;

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Whether the server has closed the connection: a read ends (EOF or reset) instead of
/// waiting.
fn closed_by_server(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn half_sent_requests_and_idle_connections_are_closed() {
    let server = Server::start_with(&["--header-timeout", "1s"]);
    let mut half_sent = connect(&server);
    half_sent
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut idle = connect(&server);
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(closed_by_server(&mut half_sent, Duration::from_secs(10)));
    assert!(closed_by_server(&mut idle, Duration::from_secs(10)));
}

#[test]
fn past_the_connection_limit_new_clients_wait_for_a_free_slot() {
    let server = Server::start_with(&["--max-connections", "2", "--header-timeout", "2s"]);
    let mut holders: Vec<TcpStream> = (0..2).map(|_| connect(&server)).collect();
    for holder in &mut holders {
        holder.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    let mut third = connect(&server);
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    third.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // It was served only once the two slow clients had been let go.
    for holder in &mut holders {
        assert!(closed_by_server(holder, Duration::from_millis(100)));
    }
}
