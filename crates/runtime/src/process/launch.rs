//! Starts a function's command through the sandbox helper and watches it until it exits.

use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gust_core::{FunctionConfig, LogStream};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::cgroup::{Cgroup, CgroupLayout, Limits};
use super::egress::{self, EGRESS_PORT};
use super::kv_socket::{self, KvSocket};
use super::loopback_relay;
use super::netns::NetNamespace;
use super::output::{OutputRouter, pump};
use super::sandbox::{SPEC_FD, SandboxSpec};
use super::spawner::Spawner;

/// Processes one instance may have at once: room for a server's threads and workers, not for
/// a fork bomb.
pub const MAX_PIDS: u32 = 256;
/// Size of an instance's private /tmp.
const TMP_MB: u32 = 64;

/// The port an HTTP-mode function listens on inside its own network namespace.
const FUNCTION_PORT: u16 = 8080;

/// How isolated functions are on this host, found once at start.
pub struct Isolation {
    /// Namespaces (pid, mount, IPC, UTS and network) and the unprivileged user (needs root).
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
                "not running as root: no pid, mount or network namespaces, no private /tmp; \
                 functions run as Gust's own user, on the host's network"
                    .to_string(),
            );
        }
        let cgroups = match CgroupLayout::detect() {
            Ok(layout) => Some(layout),
            Err(why) => {
                missing.push(format!("no cgroups ({why}): no memory, pid or CPU limit"));
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

impl Isolation {
    /// Whether every part of the sandbox is there.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }

    /// Whether Gust runs as root, the one way to have the namespaces and the user.
    pub fn is_root(&self) -> bool {
        self.namespaces
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
    /// The sandbox's own network, when it has one.
    network: Option<SandboxNetwork>,
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

    /// A connection to `port` on the sandbox's loopback (the host's, without a namespace).
    pub async fn connect(&self, port: u16) -> std::io::Result<TcpStream> {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        match &self.network {
            Some(network) => network.namespace.tcp_socket()?.connect(address).await,
            None => TcpStream::connect(address).await,
        }
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

/// A sandbox's own network namespace, the egress proxy that serves it and its loopback relays.
struct SandboxNetwork {
    namespace: NetNamespace,
    proxy: JoinHandle<()>,
    relays: Vec<JoinHandle<()>>,
}

/// The listeners Gust makes inside a new namespace before the function starts there.
struct NamespaceListeners {
    egress: std::net::TcpListener,
    relays: Vec<(u16, std::net::TcpListener)>,
}

impl Drop for SandboxNetwork {
    fn drop(&mut self) {
        self.relays.iter().for_each(JoinHandle::abort);
        self.proxy.abort();
    }
}

pub struct Launcher {
    /// The `gust` binary, which runs the helper as `gust __sandbox SPEC`.
    helper: PathBuf,
    isolation: Isolation,
    spawner: Spawner,
    /// Where the sandboxes' (empty) root mount points are made.
    roots: PathBuf,
    next: AtomicU64,
}

/// What a function's sandboxes get from the host: its unpacked folder, and the socket of its
/// key-value stores when it was granted some.
pub struct FunctionFiles {
    pub dir: PathBuf,
    pub kv_socket: Option<KvSocket>,
}

/// What to run, and with which limits.
pub struct LaunchSpec<'a> {
    pub files: &'a FunctionFiles,
    /// The command, limits and allowed hosts.
    pub config: &'a Arc<FunctionConfig>,
    pub env: Vec<(String, String)>,
    /// Whether the caller writes to stdin and reads stdout itself (stdio mode); otherwise
    /// stdout is logged like stderr.
    pub piped: bool,
}

impl Launcher {
    pub fn new(
        helper: PathBuf,
        isolation: Isolation,
        roots: PathBuf,
        spawner: Spawner,
    ) -> Launcher {
        Launcher {
            helper,
            isolation,
            spawner,
            roots,
            next: AtomicU64::new(0),
        }
    }

    /// The port an HTTP-mode instance is told to listen on.
    pub fn instance_port(&self) -> Result<u16, String> {
        if self.isolation.namespaces {
            Ok(FUNCTION_PORT)
        } else {
            free_port()
        }
    }

    pub fn launch(&self, spec: LaunchSpec<'_>) -> Result<Launched, String> {
        let id = format!(
            "{}-{}",
            std::process::id(),
            self.next.fetch_add(1, Ordering::Relaxed)
        );
        let config = spec.config;
        let limits = Limits {
            memory_bytes: u64::from(config.memory_mb) << 20,
            max_pids: MAX_PIDS,
            cpu_millis: config.cpu_millis,
        };
        let cgroup = match &self.isolation.cgroups {
            Some(layout) => Some(layout.create(&id, limits)?),
            None => None,
        };
        let mut env = spec.env;
        if self.isolation.namespaces {
            env.extend(proxy_env());
        }
        let kv_socket = spec
            .files
            .kv_socket
            .as_ref()
            .map(|s| s.path().to_path_buf());
        if let Some(host_path) = &kv_socket {
            let seen = match self.isolation.namespaces {
                true => kv_socket::SANDBOX_PATH.to_string(),
                false => host_path.to_string_lossy().into_owned(),
            };
            env.push((kv_socket::VARIABLE.to_string(), seen));
        }
        let root_dir = self.roots.join(&id);
        std::fs::create_dir_all(&root_dir)
            .map_err(|e| format!("cannot create {}: {e}", root_dir.display()))?;
        let sandbox = SandboxSpec {
            command: config.command.clone().unwrap_or_default(),
            function_dir: spec.files.dir.clone(),
            kv_socket,
            root_dir: root_dir.clone(),
            env,
            cgroup_procs: cgroup.as_ref().map(Cgroup::procs_files).unwrap_or_default(),
            isolate: self.isolation.namespaces,
            tmp_mb: TMP_MB,
        };
        // In a memory file, not the arguments or the environment: the function's variables may
        // be secrets (any local user can read a process's arguments), and one string of the
        // environment cannot pass 128 KiB.
        let spec_file =
            spec_file(&sandbox).map_err(|e| format!("cannot hand the sandbox its spec: {e}"))?;
        let spec_fd = spec_file.as_raw_fd();
        let mut command = Command::new(&self.helper);
        command
            .arg(super::sandbox::SUBCOMMAND)
            .env_clear()
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
        // If Gust dies, the helper dies with it (and the sandbox with the helper). The signal
        // follows the forking thread: the spawner's, which lives as long as Gust.
        unsafe {
            command.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                // The copy is the helper's to read; it is not closed on exec like the original.
                let handed = if spec_fd == SPEC_FD {
                    libc::fcntl(SPEC_FD, libc::F_SETFD, 0)
                } else {
                    libc::dup2(spec_fd, SPEC_FD)
                };
                if handed < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let relayed = loopback_relay::relayed_ports(config, &[EGRESS_PORT, FUNCTION_PORT]);
        let (mut child, network) = self.spawn(command, relayed)?;
        drop(spec_file);
        let pid = child.id().unwrap_or(0);
        let output = Arc::new(OutputRouter::default());
        let network = match network {
            Some((namespace, listeners)) => {
                let proxy = egress::serve(listeners.egress, config.clone(), output.clone())
                    .map_err(|e| format!("cannot start the egress proxy: {e}"))?;
                let relays = listeners
                    .relays
                    .into_iter()
                    .map(|(port, listener)| loopback_relay::serve(port, listener))
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("cannot start a loopback relay: {e}"))?;
                Some(SandboxNetwork {
                    namespace,
                    proxy,
                    relays,
                })
            }
            None => None,
        };
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
            network,
            stdin,
            stdout,
            output,
            exited,
        })
    }
}

impl Launcher {
    /// Starts the helper from the spawner's thread, in a network namespace of its own (with
    /// the egress proxy's listener and the relays') when the host allows.
    fn spawn(
        &self,
        mut command: Command,
        relayed: Vec<u16>,
    ) -> Result<(Child, Option<(NetNamespace, NamespaceListeners)>), String> {
        let isolate_network = self.isolation.namespaces;
        let spawned = self.spawner.run(move || {
            if !isolate_network {
                return command.spawn().map(|child| (child, None));
            }
            let (namespace, spawned) = NetNamespace::create_and(|| {
                let listeners = NamespaceListeners {
                    egress: std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, EGRESS_PORT))?,
                    relays: relayed
                        .into_iter()
                        .map(loopback_relay::bind)
                        .collect::<Result<_, _>>()?,
                };
                Ok::<_, std::io::Error>((command.spawn()?, listeners))
            })?;
            let (child, listener) = spawned?;
            Ok((child, Some((namespace, listener))))
        })?;
        spawned.map_err(|e| format!("cannot start the sandbox helper: {e}"))
    }
}

/// The sandbox spec as JSON in an anonymous memory file, read from its start.
fn spec_file(spec: &SandboxSpec) -> std::io::Result<std::fs::File> {
    use std::io::{Seek, Write};
    let fd = unsafe { libc::memfd_create(c"gust-sandbox-spec".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    serde_json::to_writer(&mut file, spec)?;
    file.flush()?;
    file.rewind()?;
    Ok(file)
}

/// How a sandboxed program finds the egress proxy: the variables most HTTP clients read.
fn proxy_env() -> Vec<(String, String)> {
    let proxy = format!("http://127.0.0.1:{EGRESS_PORT}");
    let local = "localhost,127.0.0.1".to_string();
    [
        ("HTTP_PROXY", proxy.clone()),
        ("HTTPS_PROXY", proxy.clone()),
        ("http_proxy", proxy.clone()),
        ("https_proxy", proxy),
        ("NO_PROXY", local.clone()),
        ("no_proxy", local),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A port nothing listens on now, for an instance on the host's own network.
fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("cannot find a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
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
