//! A broker process of a test's own (redis-server, nats-server, mosquitto): on a free port,
//! with a folder of its own, waited for until it takes connections, killed when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::subject_log::free_port;

pub struct Broker {
    child: Child,
    pub port: u16,
    _dir: TempDir,
}

impl Broker {
    /// Runs what `command` makes of the port and the folder (`name` says what is missing if
    /// it cannot run: scripts/setup installs each broker).
    pub fn start(name: &str, command: impl FnOnce(u16, &Path) -> Command) -> Broker {
        let dir = TempDir::new().unwrap();
        let port = free_port();
        let child = run(name, port, command(port, dir.path()));
        Broker {
            child,
            port,
            _dir: dir,
        }
    }

    /// Kills the broker and starts it again on the same port and folder, with what
    /// `command` makes of them, once `while_down` has run.
    pub fn restart(
        &mut self,
        name: &str,
        command: impl FnOnce(u16, &Path) -> Command,
        while_down: impl FnOnce(),
    ) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        while_down();
        self.child = run(name, self.port, command(self.port, self._dir.path()));
    }
}

/// Spawns `command` and waits until it takes connections on `port`.
fn run(name: &str, port: u16, mut command: Command) -> Child {
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("run {name} (scripts/setup installs it): {e}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{name} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
