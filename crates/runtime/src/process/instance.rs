//! One running process of an HTTP-mode function: started with `PORT`, ready once it accepts
//! connections, then sent requests over kept-alive HTTP/1 connections.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::launch::{Exit, Launched};
use crate::RequestBody;

pub struct HttpInstance {
    pub process: Launched,
    port: u16,
    ready: OnceCell<Result<(), String>>,
    /// Requests given to this instance and not yet finished.
    busy: AtomicU32,
    last_used: Mutex<Instant>,
    /// Set when it must not take more requests (timed out, crashed, being stopped).
    retired: AtomicBool,
    idle_connections: Mutex<Vec<SendRequest<RequestBody>>>,
}

impl HttpInstance {
    pub fn new(process: Launched, port: u16) -> HttpInstance {
        HttpInstance {
            process,
            port,
            ready: OnceCell::new(),
            busy: AtomicU32::new(0),
            last_used: Mutex::new(Instant::now()),
            retired: AtomicBool::new(false),
            idle_connections: Mutex::new(Vec::new()),
        }
    }

    /// Waits (once, shared by every caller) until the program accepts connections, it exits,
    /// or `limit` passes.
    pub async fn wait_ready(&self, limit: Duration) -> Result<(), String> {
        self.ready.get_or_init(|| self.probe(limit)).await.clone()
    }

    pub fn is_ready(&self) -> bool {
        matches!(self.ready.get(), Some(Ok(())))
    }

    async fn probe(&self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        let mut pause = Duration::from_micros(500);
        loop {
            if let Some(exit) = *self.process.exited.borrow() {
                return Err(format!(
                    "the function's process exited ({}) before listening on $PORT",
                    describe(exit)
                ));
            }
            if let Ok(stream) = self.process.connect(self.port).await {
                self.keep(stream).await;
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the function did not listen on $PORT within {} ms",
                    limit.as_millis()
                ));
            }
            tokio::time::sleep(pause).await;
            // A refused connect costs microseconds: probe often, so readiness is seen at once.
            pause = (pause * 2).min(Duration::from_millis(1));
        }
    }

    /// Turns the probe's connection into the first kept-alive one.
    async fn keep(&self, stream: TcpStream) {
        if let Ok(sender) = handshake(stream).await {
            self.idle().push(sender);
        }
    }

    pub fn take_slot(&self, concurrency: u32) -> bool {
        self.busy
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |busy| {
                (busy < concurrency && !self.is_gone()).then_some(busy + 1)
            })
            .is_ok()
    }

    pub fn release_slot(&self) {
        *self.last_used.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        self.busy.fetch_sub(1, Ordering::AcqRel);
    }

    pub fn busy(&self) -> u32 {
        self.busy.load(Ordering::Acquire)
    }

    pub fn idle_for(&self) -> Duration {
        self.last_used
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
    }

    /// Takes no more requests and stops the process.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::Release);
        self.process.kill();
    }

    pub fn is_gone(&self) -> bool {
        self.retired.load(Ordering::Acquire) || self.process.has_exited()
    }

    /// Sends a request over a free kept-alive connection (or a new one).
    pub async fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> Result<http::Response<Incoming>, String> {
        let mut sender = match self.free_connection() {
            Some(sender) => sender,
            None => {
                let stream = self
                    .process
                    .connect(self.port)
                    .await
                    .map_err(|e| e.to_string())?;
                handshake(stream).await.map_err(|e| e.to_string())?
            }
        };
        let response = sender.send_request(request).await;
        // Back in the list at once: it is taken again only once it is ready (body read).
        self.idle().push(sender);
        response.map_err(|e| e.to_string())
    }

    fn free_connection(&self) -> Option<SendRequest<RequestBody>> {
        let mut idle = self.idle();
        idle.retain(|sender| !sender.is_closed());
        let free = idle.iter().position(|sender| sender.is_ready())?;
        Some(idle.swap_remove(free))
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<SendRequest<RequestBody>>> {
        self.idle_connections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Why a request to this instance failed, once the process has had a moment to exit.
    pub async fn explain_failure(&self, error: &str) -> (Option<Exit>, String) {
        let exit = tokio::time::timeout(Duration::from_millis(200), self.process.wait())
            .await
            .ok();
        let what = match exit {
            Some(exit) => format!("the function's process exited ({})", describe(exit)),
            None => format!("the function's connection failed ({error})"),
        };
        let message = format!(
            "{what} while serving the request; its last stderr lines:\n{}",
            self.process.output.tail()
        );
        (exit, message)
    }
}

async fn handshake(stream: TcpStream) -> Result<SendRequest<RequestBody>, hyper::Error> {
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

pub fn describe(exit: Exit) -> String {
    if exit.out_of_memory {
        "killed for passing its memory limit".to_string()
    } else if exit.code > 128 {
        format!("killed by signal {}", exit.code - 128)
    } else {
        format!("exit code {}", exit.code)
    }
}
