//! Opens a TCP connection to `?to=HOST:PORT` (wasi:sockets, through Rust's std), sends
//! `ping\n` and answers the line it gets back; 502 with the error when it cannot. A probe of
//! what `--allow-host` lets a function reach over TCP.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use gust_sdk::{Request, Response};

fn handle(req: Request) -> Response {
    let Some(target) = req.query("to") else {
        return Response::text("say where: ?to=HOST:PORT\n").with_status(400);
    };
    match ping(&target) {
        Ok(reply) => Response::text(reply),
        Err(e) => Response::text(format!("cannot reach {target}: {e}\n")).with_status(502),
    }
}

fn ping(target: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(target)?;
    stream.write_all(b"ping\n")?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply)?;
    Ok(reply)
}

gust_sdk::export_handler!(handle);
