use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, RequestBuilder, Response, multipart};
use serde_json::Value;
use tempfile::TempDir;

const GUST: &str = env!("CARGO_BIN_EXE_gust");
/// The unprivileged user (`nobody` on Debian).
const NOBODY: u32 = 65534;

/// The repository root (this file is crates/cli/tests/e2e/harness.rs).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Path of a test function's component, building all of examples/ once for wasm32-wasip2.
pub fn guest(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let examples = repo_root().join("examples");
        // Several test processes may start at once: one builds, the others wait on the lock.
        let lock = File::create(std::env::temp_dir().join("gust-examples-build.lock")).unwrap();
        lock.lock().unwrap();
        let status = Command::new("cargo")
            .args(["build", "--release", "--quiet"])
            .current_dir(&examples)
            .status()
            .expect("run cargo for the examples");
        assert!(
            status.success(),
            "building examples/ for wasm32-wasip2 failed"
        );
        // Where that build wrote (a relative CARGO_TARGET_DIR is relative to examples/).
        let target = std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into());
        examples.join(target).join("wasm32-wasip2/release")
    });
    let path = dir.join(format!("{}.wasm", name.replace('-', "_")));
    if path.exists() {
        path
    } else {
        dir.join(format!("{name}.wasm"))
    }
}

/// A folder under examples/ (for process functions).
pub fn example_dir(path: &str) -> PathBuf {
    repo_root().join("examples").join(path)
}

/// A test-only function's folder under crates/cli/tests/fixtures.
pub fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A running `gust serve`, stopped when dropped.
pub struct Server {
    child: Child,
    pub url: String,
    pub token: String,
    pub data_dir: PathBuf,
    _temp: Option<TempDir>,
    http: Client,
}

impl Server {
    pub fn start() -> Server {
        Self::start_with(&[])
    }

    pub fn start_with(extra_args: &[&str]) -> Server {
        let temp = TempDir::new().unwrap();
        let mut server = Self::start_in(temp.path(), extra_args);
        server._temp = Some(temp);
        server
    }

    /// Starts on an existing data directory (to test restarts).
    pub fn start_in(data_dir: &Path, extra_args: &[&str]) -> Server {
        let mut command = Command::new(GUST);
        // Without root there is no sandbox, and process functions run only on this flag.
        if !running_as_root() {
            command.arg("--insecure-process-runtime");
        }
        Self::launch(command, data_dir, extra_args)
    }

    /// Starts as the unprivileged user `nobody`, from a copy of the binary in a data
    /// directory it owns (the build's own folder may be out of its reach). As anyone but
    /// root, starts as that user.
    pub fn start_unprivileged(extra_args: &[&str]) -> Server {
        use std::os::unix::process::CommandExt;
        let temp = TempDir::new().unwrap();
        let binary = temp.path().join("gust");
        std::fs::copy(GUST, &binary).unwrap();
        let mut command = Command::new(&binary);
        if running_as_root() {
            std::os::unix::fs::chown(temp.path(), Some(NOBODY), Some(NOBODY)).unwrap();
            command.uid(NOBODY).gid(NOBODY);
        }
        let mut server = Self::launch(command, temp.path(), extra_args);
        server._temp = Some(temp);
        server
    }

    fn launch(mut command: Command, data_dir: &Path, extra_args: &[&str]) -> Server {
        let log = File::options()
            .create(true)
            .append(true)
            .open(data_dir.join("server.log"))
            .unwrap();
        let mut child = command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--s3-listen",
                "127.0.0.1:0",
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra_args)
            .env("GUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start gust serve");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("gust listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from gust serve: {line:?}"))
            .to_string();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let token = std::fs::read_to_string(data_dir.join("admin.token")).unwrap();
        Server {
            child,
            url,
            token: token.trim().to_string(),
            data_dir: data_dir.to_path_buf(),
            _temp: None,
            http: Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    /// The S3 endpoint's base URL.
    pub fn s3_url(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("s3.url")).unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Sends a signal and waits for the process to exit; returns whether it exited cleanly.
    pub fn signal_and_wait(&mut self, signal: &str) -> bool {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap().success()
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default()
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.http.get(format!("{}{path}", self.url))
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(reqwest::Method::POST, path)
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.url))
    }

    /// An authenticated management request.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.request(method, path).bearer_auth(&self.token)
    }

    pub fn admin_json(&self, path: &str) -> Value {
        let response = self.admin(reqwest::Method::GET, path).send().unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().unwrap()
    }

    /// Deploys over the API; returns the response for the test to check.
    pub fn deploy_raw(&self, name: &str, artifact: Vec<u8>, config: Value) -> Response {
        self.deploy_raw_with(name, "wasm", artifact, config)
    }

    pub fn deploy_raw_with(
        &self,
        name: &str,
        runtime: &str,
        artifact: Vec<u8>,
        config: Value,
    ) -> Response {
        let form = multipart::Form::new()
            .text("runtime", runtime.to_string())
            .text("config", config.to_string())
            .part(
                "artifact",
                multipart::Part::bytes(artifact).file_name("f.wasm"),
            );
        self.admin(reqwest::Method::PUT, &format!("/v1/functions/{name}"))
            .multipart(form)
            .send()
            .unwrap()
    }

    /// Deploys a test function with a config; panics unless it succeeds.
    pub fn deploy(&self, name: &str, guest_name: &str, config: Value) -> Value {
        let response = self.deploy_raw(name, std::fs::read(guest(guest_name)).unwrap(), config);
        let status = response.status();
        let body: Value = response.json().unwrap();
        assert!(status.is_success(), "deploy {name}: {status} {body}");
        body
    }

    /// Runs the `gust` CLI against this server.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_in(Path::new("."), args)
    }

    /// Runs the `gust` CLI in `dir` (a project folder) against this server.
    pub fn cli_in(&self, dir: &Path, args: &[&str]) -> Output {
        Command::new(GUST)
            .current_dir(dir)
            .args(args)
            .env("GUST_SERVER", &self.url)
            .env("GUST_TOKEN", &self.token)
            .output()
            .expect("run gust")
    }

    /// Runs the CLI and returns what it printed; panics unless it succeeds.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let output = self.cli(args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        stdout(&output)
    }

    /// Deploys a process function's folder with the CLI, as a user would; panics unless it
    /// succeeds.
    pub fn deploy_process(&self, name: &str, dir: &Path, command: &str, flags: &[&str]) {
        let dir = dir.to_string_lossy();
        let mut args = vec![
            "deploy",
            name,
            &dir,
            "--runtime",
            "process",
            "--command",
            command,
        ];
        args.extend_from_slice(flags);
        let output = self.cli(&args);
        assert!(
            output.status.success(),
            "deploy {name}: {}",
            stderr(&output)
        );
    }

    /// The function's instances on the server: (warm, busy).
    pub fn instances(&self, function: &str) -> (u64, u64) {
        let status = self.admin_json(&format!("/v1/functions/{function}"));
        let count = |key: &str| status["instances"][key].as_u64().unwrap();
        (count("warm"), count("busy"))
    }

    /// Waits until `check` holds for the function's (warm, busy) instances.
    pub fn wait_for_instances(
        &self,
        function: &str,
        check: impl Fn((u64, u64)) -> bool,
    ) -> (u64, u64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let instances = self.instances(function);
            if check(instances) || Instant::now() > deadline {
                return instances;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Processes the server has started and that still run (its sandboxes).
    pub fn child_processes(&self) -> usize {
        let pid = self.pid().to_string();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return 0;
        };
        entries
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
            .filter(|stat| {
                // Fields after the command's closing parenthesis: state, then ppid.
                let after = stat
                    .rsplit_once(')')
                    .map(|(_, rest)| rest)
                    .unwrap_or_default();
                after.split_whitespace().nth(1) == Some(pid.as_str())
            })
            .count()
    }

    /// Waits until the invocation records of `function` number at least `count`.
    pub fn invocations(&self, function: &str, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let records = self.admin_json(&format!("/v1/functions/{function}/invocations"));
            let records = records.as_array().unwrap().clone();
            if records.len() >= count || Instant::now() > deadline {
                return records;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits up to 10 s for `check` to hold.
pub fn wait_until(check: impl Fn() -> bool, what: &str) {
    wait_within(Duration::from_secs(10), check, what);
}

/// Waits up to `limit` for `check` to hold.
pub fn wait_within(limit: Duration, check: impl Fn() -> bool, what: &str) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn running_as_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with("Uid:"))
        .and_then(|line| line.split_whitespace().nth(2))
        == Some("0")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The `{"error": {"code", "message"}}` body of an error response.
pub fn error_of(response: Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().expect("error bodies are JSON");
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (status, code, message)
}

pub fn public() -> Value {
    serde_json::json!({"public": true})
}

/// A header of an asynchronous invocation's stored result.
pub fn result_header(result: &Value, name: &str) -> Option<String> {
    let headers: Vec<(String, String)> = serde_json::from_value(result["headers"].clone()).ok()?;
    headers.into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
}
