use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use gust_core::LogStream;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

use crate::LogSink;
use crate::lines::LineSplitter;

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
            lines: LineSplitter::default(),
        })
    }
}

struct LineWriter {
    logs: LogSink,
    stream: LogStream,
    lines: LineSplitter,
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let (logs, stream) = (&this.logs, this.stream);
        this.lines.push(buf, |line| logs.line(stream, line));
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
        let (logs, stream) = (&self.logs, self.stream);
        self.lines.finish(|line| logs.line(stream, line));
    }
}
