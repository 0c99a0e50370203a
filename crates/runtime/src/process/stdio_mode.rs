//! Stdio mode: a fresh process per request, CGI-style. The request body goes to stdin, the
//! method, path, query and headers to environment variables; stdout is the response body and
//! a non-zero exit is an error.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use gust_core::{FunctionConfig, InstanceCount, InvocationStatus};
use http_body_util::{BodyExt, BodyStream, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio::time::{Instant, timeout_at};

use super::instance::describe;
use super::launch::{FunctionFiles, LaunchSpec, Launched, Launcher};
use super::{base_env, failed};
use crate::{Call, Execution, Outcome, RequestBody};

/// Largest response a script may write, as Lambda's synchronous response limit.
const MAX_STDOUT: u64 = 6 * 1024 * 1024;

pub struct StdioRunner {
    launcher: Arc<Launcher>,
    files: FunctionFiles,
    config: Arc<FunctionConfig>,
    /// One permit per process that may run at once (max_instances).
    slots: Arc<Semaphore>,
    running: AtomicU32,
}

impl StdioRunner {
    pub fn new(launcher: Arc<Launcher>, files: FunctionFiles, config: Arc<FunctionConfig>) -> Self {
        StdioRunner {
            slots: Arc::new(Semaphore::new(config.max_instances as usize)),
            launcher,
            files,
            config,
            running: AtomicU32::new(0),
        }
    }

    pub fn count(&self) -> InstanceCount {
        let running = self.running.load(Ordering::Relaxed);
        InstanceCount {
            warm: running,
            busy: running,
        }
    }

    pub async fn invoke(&self, call: Call, request: http::Request<RequestBody>) -> Execution {
        let started = Instant::now();
        let limit = Duration::from_millis(self.config.timeout_ms);
        let deadline = started + limit;
        let Ok(Ok(_slot)) = timeout_at(deadline, self.slots.clone().acquire_owned()).await else {
            let message = format!(
                "no process slot was free within the {} ms timeout",
                limit.as_millis()
            );
            return failed(InvocationStatus::Timeout, message, started, true);
        };
        let (parts, body) = request.into_parts();
        let mut env = base_env(&self.config);
        env.extend(cgi_env(&parts, &call.invocation_id));
        let launched = self.launcher.launch(LaunchSpec {
            files: &self.files,
            config: &self.config,
            env,
            piped: true,
        });
        let mut process = match launched {
            Ok(process) => process,
            Err(message) => return failed(InvocationStatus::Crashed, message, started, true),
        };
        let instance_start = Some(started.elapsed());
        let running = Running::count(&self.running);
        let listening = process.output.attach(call.logs.clone());
        let result = timeout_at(deadline, run(&mut process, body)).await;
        drop((listening, running));
        match result {
            Err(_) => {
                process.kill();
                let message = format!("the script did not finish within {} ms", limit.as_millis());
                failed(InvocationStatus::Timeout, message, started, true)
            }
            Ok(Err(message)) => {
                process.kill();
                failed(InvocationStatus::Error, message, started, true)
            }
            Ok(Ok((exit, stdout))) if exit.code == 0 => {
                let response = http::Response::builder()
                    .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                    .body(
                        Full::new(stdout)
                            .map_err(|never| match never {})
                            .boxed_unsync(),
                    )
                    .unwrap_or_default();
                let outcome = Outcome {
                    status: InvocationStatus::Ok,
                    error: None,
                    duration: started.elapsed(),
                    instance_start,
                };
                Execution::over(Ok(response), outcome, true)
            }
            Ok(Ok((exit, _))) => {
                let status = if exit.out_of_memory {
                    InvocationStatus::MemoryExceeded
                } else {
                    InvocationStatus::Error
                };
                let message = format!(
                    "the script ended with {}; its last stderr lines:\n{}",
                    describe(exit),
                    process.output.tail()
                );
                failed(status, message, started, true)
            }
        }
    }
}

/// Counts a running process for as long as it lives, however the request ends.
struct Running<'a>(&'a AtomicU32);

impl<'a> Running<'a> {
    fn count(counter: &'a AtomicU32) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Running(counter)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Feeds the body to stdin while reading stdout, then waits for the exit.
async fn run(
    process: &mut Launched,
    body: RequestBody,
) -> Result<(super::launch::Exit, Bytes), String> {
    let stdin = process.stdin.take();
    let feed = async move {
        let Some(mut stdin) = stdin else { return };
        let mut frames = BodyStream::new(body);
        while let Some(Ok(frame)) = frames.next().await {
            if let Ok(data) = frame.into_data() {
                // A script that does not read its input is not an error.
                if stdin.write_all(&data).await.is_err() {
                    return;
                }
            }
        }
    };
    let stdout = process.stdout.take();
    let read = async move {
        let mut out = Vec::new();
        if let Some(stdout) = stdout {
            let mut limited = stdout.take(MAX_STDOUT + 1);
            limited
                .read_to_end(&mut out)
                .await
                .map_err(|e| e.to_string())?;
        }
        if out.len() as u64 > MAX_STDOUT {
            return Err(format!(
                "the script wrote more than {} MiB to stdout",
                MAX_STDOUT >> 20
            ));
        }
        Ok(Bytes::from(out))
    };
    let ((), stdout) = tokio::join!(feed, read);
    let stdout = stdout?;
    Ok((process.wait().await, stdout))
}

/// The request as CGI/1.1 variables (RFC 3875), which shell scripts know how to read.
/// Whether a request header becomes an `HTTP_*` variable. `Proxy` would become `HTTP_PROXY`,
/// which programs read as their outbound proxy (httpoxy). A name with `_` would collide with
/// the `-` of another (`X-User_Id` and `X-User-Id` are both `HTTP_X_USER_ID`): a caller could
/// pass a header a front proxy checked under another spelling.
fn reaches_cgi(name: &str) -> bool {
    name != "proxy" && !name.contains('_')
}

fn cgi_env(parts: &http::request::Parts, invocation_id: &str) -> Vec<(String, String)> {
    let mut env = vec![
        ("REQUEST_METHOD".to_string(), parts.method.to_string()),
        ("PATH_INFO".to_string(), parts.uri.path().to_string()),
        (
            "QUERY_STRING".to_string(),
            parts.uri.query().unwrap_or_default().to_string(),
        ),
        ("GUST_INVOCATION_ID".to_string(), invocation_id.to_string()),
    ];
    for (name, value) in &parts.headers {
        let Ok(value) = value.to_str() else { continue };
        if !reaches_cgi(name.as_str()) {
            continue;
        }
        let key = match name.as_str() {
            "content-type" => "CONTENT_TYPE".to_string(),
            "content-length" => "CONTENT_LENGTH".to_string(),
            other => format!("HTTP_{}", other.to_ascii_uppercase().replace('-', "_")),
        };
        env.push((key, value.to_string()));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_and_underscored_headers_never_become_variables() {
        let request = http::Request::post("/run?x=1")
            .header("proxy", "http://evil.example:8080")
            .header("x-user_id", "admin")
            .header("x-user-id", "7")
            .header("content-type", "text/plain")
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        let env = cgi_env(&parts, "id");
        let keys: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert!(!keys.contains(&"HTTP_PROXY"), "{keys:?}");
        let user: Vec<&str> = env
            .iter()
            .filter(|(k, _)| k == "HTTP_X_USER_ID")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(user, ["7"]);
        assert!(keys.contains(&"CONTENT_TYPE"));
    }
}
