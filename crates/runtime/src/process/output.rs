//! A process's stdout and stderr, cut into lines and handed to the invocations in flight.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gust_core::LogStream;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::LogSink;
use crate::lines::LineSplitter;

/// Lines written while no invocation listens, kept for the next one (start-up output).
const MAX_EARLY_LINES: usize = 200;
/// stderr lines kept to explain a crash.
const TAIL_LINES: usize = 20;
/// How long output still goes to an invocation that has just ended: a program's last lines
/// for a request often reach the pipe just after its response.
const LATE_LINES: Duration = Duration::from_millis(100);

/// Routes one instance's output: to the oldest invocation in flight, or, between invocations,
/// to the next one. Keeps the last stderr lines for error messages.
#[derive(Default)]
pub struct OutputRouter {
    state: Mutex<RouterState>,
}

#[derive(Default)]
struct RouterState {
    listeners: VecDeque<(u64, LogSink)>,
    /// The invocation that ended last, and when.
    recent: Option<(Instant, LogSink)>,
    early: VecDeque<(LogStream, String)>,
    tail: VecDeque<String>,
}

impl OutputRouter {
    pub fn line(&self, stream: LogStream, line: String) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if stream == LogStream::Stderr {
            if state.tail.len() == TAIL_LINES {
                state.tail.pop_front();
            }
            state.tail.push_back(line.clone());
        }
        let recent = match &state.recent {
            Some((ended, sink)) if ended.elapsed() < LATE_LINES => Some(sink),
            _ => None,
        };
        match state.listeners.front().map(|(_, sink)| sink).or(recent) {
            Some(sink) => sink.line(stream, line),
            None => {
                if state.early.len() == MAX_EARLY_LINES {
                    state.early.pop_front();
                }
                state.early.push_back((stream, line));
            }
        }
    }

    /// Until the returned guard is dropped, output may go to `sink`; it first gets what was
    /// written while nobody listened.
    pub fn attach(self: &Arc<Self>, sink: LogSink) -> Listening {
        let id = NEXT_LISTENER.fetch_add(1, Ordering::Relaxed);
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for (stream, line) in state.early.drain(..) {
            sink.line(stream, line);
        }
        state.listeners.push_back((id, sink));
        Listening {
            router: self.clone(),
            id,
        }
    }

    /// The last stderr lines, joined, to explain a failure.
    pub fn tail(&self) -> String {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.tail.is_empty() {
            return "(nothing on stderr)".into();
        }
        state.tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

static NEXT_LISTENER: AtomicU64 = AtomicU64::new(0);

/// An invocation listening to an instance's output.
pub struct Listening {
    router: Arc<OutputRouter>,
    id: u64,
}

impl Drop for Listening {
    fn drop(&mut self) {
        let mut state = self.router.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(at) = state.listeners.iter().position(|(id, _)| *id == self.id)
            && let Some((_, sink)) = state.listeners.remove(at)
        {
            state.recent = Some((Instant::now(), sink));
        }
    }
}

/// Reads `pipe` to its end, handing each line to `router`.
pub async fn pump(mut pipe: impl AsyncRead + Unpin, stream: LogStream, router: Arc<OutputRouter>) {
    let mut buffer = vec![0u8; 8192];
    let mut lines = LineSplitter::default();
    while let Ok(n) = pipe.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        lines.push(&buffer[..n], |line| router.line(stream, line));
    }
    lines.finish(|line| router.line(stream, line));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collecting() -> (LogSink, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = lines.clone();
        let sink = LogSink::new(
            move |_, line| {
                seen.lock().unwrap().push(line);
                true
            },
            usize::MAX,
            Default::default(),
        );
        (sink, lines)
    }

    #[tokio::test]
    async fn start_up_output_goes_to_the_first_invocation() {
        let router = Arc::new(OutputRouter::default());
        pump(&b"booting\nready"[..], LogStream::Stderr, router.clone()).await;
        let (sink, lines) = collecting();
        let listening = router.attach(sink);
        router.line(LogStream::Stdout, "handling".into());
        drop(listening);
        router.line(LogStream::Stdout, "just after".into());
        std::thread::sleep(LATE_LINES);
        router.line(LogStream::Stdout, "later".into());
        assert_eq!(
            *lines.lock().unwrap(),
            ["booting", "ready", "handling", "just after"]
        );
        assert_eq!(router.tail(), "booting\nready");
    }
}
