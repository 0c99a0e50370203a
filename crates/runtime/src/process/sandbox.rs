//! The sandbox helper: a `gust __sandbox` process that puts a function's
//! command in its own namespaces, cgroup and user, then runs it.
//!
//! It runs single-threaded (before any async runtime starts), which is what makes `fork`
//! safe here. The chain is: helper (host pid namespace) → init (pid 1 of a new pid
//! namespace, reaps orphans) → the command. Killing the helper kills init (parent-death
//! signal), and the kernel then kills everything left in the namespace.

use std::ffi::{CStr, CString};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How the `gust` binary is asked to be the helper: `gust __sandbox`, with the spec as JSON
/// on file descriptor `SPEC_FD`.
pub const SUBCOMMAND: &str = "__sandbox";
pub const SPEC_FD: i32 = 3;
/// The unprivileged user functions run as (`nobody` on Debian).
pub const FUNCTION_UID: u32 = 65534;
/// Where the function's files appear inside the sandbox.
pub const FUNCTION_DIR: &str = "/function";
/// Host folders shown read-only inside the sandbox, for interpreters and their libraries.
const SYSTEM_DIRS: &[&str] = &["usr", "bin", "sbin", "lib", "lib32", "lib64", "etc"];
const DEVICES: &[&str] = &["null", "zero", "random", "urandom"];

/// What the helper sets up; written by the server as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxSpec {
    /// The command, run by `/bin/sh -c`.
    pub command: String,
    /// The unpacked artifact (shown read-only at `/function`).
    pub function_dir: PathBuf,
    /// An empty folder the helper turns into the sandbox's root.
    pub root_dir: PathBuf,
    /// The complete environment of the command.
    pub env: Vec<(String, String)>,
    /// `cgroup.procs` files to join before anything else (memory and pid limits).
    pub cgroup_procs: Vec<PathBuf>,
    /// Whether to use namespaces and drop to the unprivileged user (needs root).
    pub isolate: bool,
    /// Size of the private /tmp, in MiB.
    pub tmp_mb: u32,
    /// The socket of the function's key-value stores, mounted at `/run/gust/kv.sock`.
    pub kv_socket: Option<PathBuf>,
}

/// Runs the helper; never returns. The exit status is the command's (128 + signal if killed).
pub fn run() -> ! {
    use std::os::fd::FromRawFd;
    // Read whole, then closed: nothing of it reaches the function.
    let spec_file = unsafe { std::fs::File::from_raw_fd(SPEC_FD) };
    let spec: SandboxSpec = match serde_json::from_reader(std::io::BufReader::new(spec_file)) {
        Ok(spec) => spec,
        Err(e) => fail("reading the sandbox spec", io::Error::other(e)),
    };
    for procs in &spec.cgroup_procs {
        if let Err(e) = std::fs::write(procs, std::process::id().to_string()) {
            fail(&format!("joining {}", procs.display()), e);
        }
    }
    if spec.isolate {
        let flags =
            libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;
        check("unshare", unsafe { libc::unshare(flags) });
    }
    match fork() {
        0 => init(&spec),
        child => std::process::exit(wait_for(child)),
    }
}

/// Pid 1 of the sandbox: builds the root, starts the command and reaps until it exits.
fn init(spec: &SandboxSpec) -> ! {
    check("prctl", unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL)
    });
    if spec.isolate {
        if let Err(e) = build_root(spec) {
            fail("building the sandbox's file system", e);
        }
        let name = b"gust";
        unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) };
    }
    match fork() {
        0 => exec_command(spec),
        command => loop {
            let mut status = 0;
            let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
            if pid == command || pid < 0 {
                std::process::exit(exit_code(status));
            }
        },
    }
}

/// A tmpfs root with the system folders and the function read-only, a private /tmp, a few
/// devices and the namespace's own /proc; the host's root is then detached.
fn build_root(spec: &SandboxSpec) -> io::Result<()> {
    let root = &spec.root_dir;
    mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )?;
    mount(
        Some("tmpfs"),
        root,
        Some("tmpfs"),
        0,
        Some("mode=755,size=1m"),
    )?;
    for dir in SYSTEM_DIRS {
        let host = Path::new("/").join(dir);
        let Ok(meta) = std::fs::symlink_metadata(&host) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&host)?, root.join(dir))?;
        } else if meta.is_dir() {
            bind_read_only(&host, &root.join(dir))?;
        }
    }
    bind_read_only(&spec.function_dir, &root.join(&FUNCTION_DIR[1..]))?;
    let tmp = root.join("tmp");
    std::fs::create_dir(&tmp)?;
    let tmp_options = format!("mode=1777,size={}m", spec.tmp_mb);
    mount(
        Some("tmpfs"),
        &tmp,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(&tmp_options),
    )?;
    std::fs::create_dir(root.join("dev"))?;
    for device in DEVICES {
        let target = root.join("dev").join(device);
        std::fs::write(&target, b"")?;
        mount(
            Some(&format!("/dev/{device}")),
            &target,
            None,
            libc::MS_BIND,
            None,
        )?;
    }
    if let Some(socket) = &spec.kv_socket {
        let run = root.join("run/gust");
        std::fs::create_dir_all(&run)?;
        let target = run.join("kv.sock");
        std::fs::write(&target, b"")?;
        mount(
            Some(&socket.to_string_lossy()),
            &target,
            None,
            libc::MS_BIND,
            None,
        )?;
    }
    let proc = root.join("proc");
    std::fs::create_dir(&proc)?;
    let hardened = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    mount(Some("proc"), &proc, Some("proc"), hardened, None)?;
    let old = root.join("old-root");
    std::fs::create_dir(&old)?;
    check_io(
        unsafe { libc::syscall(libc::SYS_pivot_root, c(root)?.as_ptr(), c(&old)?.as_ptr()) } as i32,
    )?;
    std::env::set_current_dir("/")?;
    check_io(unsafe { libc::umount2(c"/old-root".as_ptr(), libc::MNT_DETACH) })?;
    std::fs::remove_dir("/old-root")?;
    // The root itself becomes read-only: only /tmp is writable.
    let read_only = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY;
    mount(None, Path::new("/"), None, read_only, None)
}

fn bind_read_only(source: &Path, target: &Path) -> io::Result<()> {
    std::fs::create_dir_all(target)?;
    mount(
        Some(&source.to_string_lossy()),
        target,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )?;
    let flags =
        libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV;
    mount(None, target, None, flags, None)
}

/// Drops to the unprivileged user with a clean environment and becomes the command.
fn exec_command(spec: &SandboxSpec) -> ! {
    let dir = if spec.isolate {
        Path::new(FUNCTION_DIR)
    } else {
        spec.function_dir.as_path()
    };
    if let Err(e) = std::env::set_current_dir(dir) {
        fail("entering the function's folder", e);
    }
    unsafe {
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
    }
    if spec.isolate {
        check("setgroups", unsafe { libc::setgroups(0, std::ptr::null()) });
        check("setgid", unsafe { libc::setgid(FUNCTION_UID) });
        check("setuid", unsafe { libc::setuid(FUNCTION_UID) });
    }
    check("prctl", unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    });
    let to_c = |s: &str| CString::new(s).unwrap_or_default();
    let argv = [to_c("sh"), to_c("-c"), to_c(&spec.command)];
    let env: Vec<CString> = spec
        .env
        .iter()
        .map(|(k, v)| to_c(&format!("{k}={v}")))
        .collect();
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut env_ptrs: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    env_ptrs.push(std::ptr::null());
    unsafe { libc::execve(c"/bin/sh".as_ptr(), argv_ptrs.as_ptr(), env_ptrs.as_ptr()) };
    fail("starting /bin/sh", io::Error::last_os_error())
}

fn mount(
    source: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> io::Result<()> {
    let source = source.map(CString::new).transpose()?;
    let fstype = fstype.map(CString::new).transpose()?;
    let data = data.map(CString::new).transpose()?;
    let ptr = |s: &Option<CString>| s.as_deref().map_or(std::ptr::null(), CStr::as_ptr);
    let target_c = c(target)?;
    let rc = unsafe {
        libc::mount(
            ptr(&source),
            target_c.as_ptr(),
            ptr(&fstype),
            flags,
            ptr(&data).cast(),
        )
    };
    check_io(rc)
        .map_err(|e| io::Error::new(e.kind(), format!("mount on {}: {e}", target.display())))
}

fn c(path: &Path) -> io::Result<CString> {
    Ok(CString::new(path.as_os_str().as_encoded_bytes())?)
}

fn fork() -> libc::pid_t {
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        fail("fork", io::Error::last_os_error());
    }
    pid
}

fn wait_for(child: libc::pid_t) -> i32 {
    let mut status = 0;
    while unsafe { libc::waitpid(child, &mut status, 0) } < 0 {
        if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return 1;
        }
    }
    exit_code(status)
}

fn exit_code(status: i32) -> i32 {
    if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        libc::WEXITSTATUS(status)
    }
}

/// A libc return code as a result: negative is the last OS error.
pub(super) fn check_io(rc: i32) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn check(what: &str, rc: i32) {
    if let Err(e) = check_io(rc) {
        fail(what, e);
    }
}

/// Sandbox failures go to stderr, which the server keeps as the instance's last words.
fn fail(what: &str, err: io::Error) -> ! {
    eprintln!("[gust] sandbox: {what}: {err}");
    std::process::exit(126)
}
