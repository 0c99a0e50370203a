//! Starts a function's command through the sandbox helper and watches it until it exits.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gust_core::LogStream;
use tokio::process::{ChildStdin, ChildStdout, Command};
use tokio::sync::watch;

use super::cgroup::{Cgroup, CgroupLayout};
use super::output::{OutputRouter, pump};
use super::sandbox::SandboxSpec;

/// Processes one instance may have at once: room for a server's threads and workers, not for
/// a fork bomb.
pub const MAX_PIDS: u32 = 256;
/// Size of an instance's private /tmp.
const TMP_MB: u32 = 64;

/// How isolated functions are on this host, found once at start.
pub struct Isolation {
    /// Namespaces and the unprivileged user (needs root).
    pub namespaces: bool,
    pub cgroups: Option<CgroupLayout>,
    /// What is missing, in words for the start-up warning.
    pub missing: Vec<String>,
}

impl Isolation {
    pub fn detect() -> Isolation {
        let root = unsafe { libc::geteuid() } == 0;
        let mut missing = Vec::new();
        if !root {
            missing.push(
                "not running as root: no pid/mount namespaces, no private /tmp, functions run \
                 as Gust's own user"
                    .to_string(),
            );
        }
        let cgroups = match CgroupLayout::detect() {
            Ok(layout) => Some(layout),
            Err(why) => {
                missing.push(format!("no cgroups ({why}): no memory or pid limit"));
                None
            }
        };
        Isolation {
            namespaces: root,
            cgroups,
            missing,
        }
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy)]
pub struct Exit {
    /// Exit code, or 128 + signal.
    pub code: i32,
    /// The kernel killed it for passing its memory limit.
    pub out_of_memory: bool,
}

/// What a launch gives back: the pipes left to the caller and a watch on the exit.
pub struct Launched {
    pid: u32,
    pub stdin: Option<ChildStdin>,
    pub stdout: Option<ChildStdout>,
    pub output: Arc<OutputRouter>,
    pub exited: watch::Receiver<Option<Exit>>,
}

impl Launched {
    /// Kills the sandbox and everything in it (its process group); harmless once exited.
    pub fn kill(&self) {
        if self.exited.borrow().is_none() {
            unsafe { libc::kill(-(self.pid as i32), libc::SIGKILL) };
        }
    }

    pub fn has_exited(&self) -> bool {
        self.exited.borrow().is_some()
    }

    /// Waits for the exit.
    pub async fn wait(&self) -> Exit {
        let mut exited = self.exited.clone();
        match exited.wait_for(Option::is_some).await {
            Ok(exit) => exit.unwrap_or(LOST),
            Err(_) => LOST,
        }
    }
}

const LOST: Exit = Exit {
    code: -1,
    out_of_memory: false,
};

impl Drop for Launched {
    fn drop(&mut self) {
        self.kill();
    }
}

pub struct Launcher {
    /// The `gust` binary, which runs the helper as `gust __sandbox SPEC`.
    helper: PathBuf,
    isolation: Isolation,
    /// Where the sandboxes' (empty) root mount points are made.
    roots: PathBuf,
    next: AtomicU64,
}

/// What to run, and with how much memory.
pub struct LaunchSpec<'a> {
    pub function_dir: &'a Path,
    pub command: &'a str,
    pub env: Vec<(String, String)>,
    pub memory_mb: u32,
    /// Whether the caller writes to stdin and reads stdout itself (stdio mode); otherwise
    /// stdout is logged like stderr.
    pub piped: bool,
}

impl Launcher {
    pub fn new(helper: PathBuf, isolation: Isolation, roots: PathBuf) -> Launcher {
        Launcher {
            helper,
            isolation,
            roots,
            next: AtomicU64::new(0),
        }
    }

    pub fn launch(&self, spec: LaunchSpec<'_>) -> Result<Launched, String> {
        let id = format!(
            "{}-{}",
            std::process::id(),
            self.next.fetch_add(1, Ordering::Relaxed)
        );
        let cgroup = match &self.isolation.cgroups {
            Some(layout) => Some(layout.create(&id, u64::from(spec.memory_mb) << 20, MAX_PIDS)?),
            None => None,
        };
        let root_dir = self.roots.join(&id);
        std::fs::create_dir_all(&root_dir)
            .map_err(|e| format!("cannot create {}: {e}", root_dir.display()))?;
        let sandbox = SandboxSpec {
            command: spec.command.to_string(),
            function_dir: spec.function_dir.to_path_buf(),
            root_dir: root_dir.clone(),
            env: spec.env,
            cgroup_procs: cgroup.as_ref().map(Cgroup::procs_files).unwrap_or_default(),
            isolate: self.isolation.namespaces,
            tmp_mb: TMP_MB,
        };
        let spec_json = serde_json::to_string(&sandbox).map_err(|e| e.to_string())?;
        let mut command = Command::new(&self.helper);
        command
            .arg(super::sandbox::SUBCOMMAND)
            .env_clear()
            // In the environment, not the arguments: the function's variables may be secrets,
            // and any local user can read a process's arguments.
            .env(super::sandbox::SPEC_VARIABLE, spec_json)
            .stdin(if spec.piped {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so that one signal reaches everything it started.
            .process_group(0)
            .kill_on_drop(true);
        // If Gust dies, the helper dies with it (and the sandbox with the helper).
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start the sandbox helper: {e}"))?;
        let pid = child.id().unwrap_or(0);
        let output = Arc::new(OutputRouter::default());
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(pump(stderr, LogStream::Stderr, output.clone()));
        }
        let stdout = child.stdout.take();
        let stdout = match (spec.piped, stdout) {
            (false, Some(stdout)) => {
                tokio::spawn(pump(stdout, LogStream::Stdout, output.clone()));
                None
            }
            (_, stdout) => stdout,
        };
        let stdin = child.stdin.take();
        let (exit_tx, exited) = watch::channel(None);
        tokio::spawn(async move {
            let code = match child.wait().await {
                Ok(status) => status
                    .code()
                    .or(status.signal().map(|s| 128 + s))
                    .unwrap_or(-1),
                Err(_) => -1,
            };
            let out_of_memory = cgroup.as_ref().is_some_and(Cgroup::oom_killed);
            let _ = exit_tx.send(Some(Exit {
                code,
                out_of_memory,
            }));
            release(cgroup, root_dir).await;
        });
        Ok(Launched {
            pid,
            stdin,
            stdout,
            output,
            exited,
        })
    }
}

/// Removes an exited instance's cgroup and root mount point, once the kernel has let go of
/// the processes that were in them.
async fn release(cgroup: Option<Cgroup>, root_dir: PathBuf) {
    for _ in 0..50 {
        if std::fs::remove_dir(&root_dir).is_ok() || !root_dir.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let Some(cgroup) = cgroup else { return };
    // The namespace's last processes may take a moment to go.
    for _ in 0..100 {
        if cgroup.remove() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tracing::warn!(?cgroup, "could not remove an instance's cgroup");
}
