use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use gust_core::LogStream;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

use crate::LogSink;

/// Longest line kept whole; longer output is split.
const MAX_LINE: usize = 16 * 1024;

/// A guest's stdout or stderr, cut into lines for the invocation's log.
pub struct LinePipe {
    logs: LogSink,
    stream: LogStream,
}

impl LinePipe {
    pub fn new(logs: LogSink, stream: LogStream) -> Self {
        LinePipe { logs, stream }
    }
}

impl IsTerminal for LinePipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LinePipe {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            logs: self.logs.clone(),
            stream: self.stream,
            pending: Vec::new(),
        })
    }
}

struct LineWriter {
    logs: LogSink,
    stream: LogStream,
    pending: Vec<u8>,
}

impl LineWriter {
    fn emit(&mut self, bytes: &[u8]) {
        let line = String::from_utf8_lossy(bytes);
        self.logs
            .line(self.stream, line.trim_end_matches('\r').to_string());
    }

    fn push(&mut self, mut buf: &[u8]) {
        while let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let (line, rest) = buf.split_at(end);
            if self.pending.is_empty() {
                self.emit(line);
            } else {
                self.pending.extend_from_slice(line);
                let whole = std::mem::take(&mut self.pending);
                self.emit(&whole);
            }
            buf = &rest[1..];
        }
        self.pending.extend_from_slice(buf);
        while self.pending.len() >= MAX_LINE {
            let rest = self.pending.split_off(MAX_LINE);
            let whole = std::mem::replace(&mut self.pending, rest);
            self.emit(&whole);
        }
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.emit(&rest);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn splits_writes_into_lines() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = {
            let seen = seen.clone();
            LogSink::new(move |_, line| seen.lock().unwrap().push(line))
        };
        let mut writer = LineWriter {
            logs: sink,
            stream: LogStream::Stdout,
            pending: Vec::new(),
        };
        writer.push(b"hel");
        writer.push(b"lo\nworld\r\nta");
        drop(writer);
        assert_eq!(*seen.lock().unwrap(), vec!["hello", "world", "ta"]);
    }
}
