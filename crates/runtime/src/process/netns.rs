//! A network namespace per sandbox. Its only interface is its own loopback, so a function
//! reaches neither Gust, the host's loopback nor another function.
//!
//! Gust never forwards bytes through a helper: it creates sockets inside the namespace
//! itself (a socket belongs to the namespace its creator was in at `socket()`), connects to
//! the function over them and accepts the function's proxy connections on them.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::OnceLock;

use super::sandbox::check_io as check;

/// The handle of one sandbox's network namespace; it lives as long as this or a process in it.
#[derive(Debug)]
pub struct NetNamespace {
    handle: File,
}

impl NetNamespace {
    /// Makes a namespace with its loopback up and runs `within` in it on this thread, so that
    /// a process it forks starts inside. The thread is back in Gust's namespace on return.
    pub fn create_and<T>(within: impl FnOnce() -> T) -> io::Result<(NetNamespace, T)> {
        let host = host_namespace()?;
        check(unsafe { libc::unshare(libc::CLONE_NEWNET) })?;
        let back = Returning(host);
        let handle = File::open("/proc/thread-self/ns/net")?;
        loopback_up()?;
        let value = within();
        drop(back);
        Ok((NetNamespace { handle }, value))
    }

    /// Runs `within` (a `socket()` call) inside this namespace, on this thread.
    pub fn enter<T>(&self, within: impl FnOnce() -> T) -> io::Result<T> {
        let host = host_namespace()?;
        check(unsafe { libc::setns(self.handle.as_raw_fd(), libc::CLONE_NEWNET) })?;
        let _back = Returning(host);
        Ok(within())
    }

    /// A TCP socket of this namespace, not yet connected.
    pub fn tcp_socket(&self) -> io::Result<tokio::net::TcpSocket> {
        let fd = self.enter(|| unsafe {
            libc::socket(
                libc::AF_INET,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            )
        })?;
        check(fd)?;
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(tokio::net::TcpSocket::from_std_stream(owned.into()))
    }
}

/// Gust's own namespace, where every thread returns: opened once, from the main thread's.
fn host_namespace() -> io::Result<&'static File> {
    static HOST: OnceLock<File> = OnceLock::new();
    if let Some(host) = HOST.get() {
        return Ok(host);
    }
    let file = File::open("/proc/self/ns/net")?;
    Ok(HOST.get_or_init(|| file))
}

/// Takes the thread back to Gust's namespace when dropped. A thread that cannot go back
/// would run Gust's own work inside a function's namespace: better to stop at once.
struct Returning(&'static File);

impl Drop for Returning {
    fn drop(&mut self) {
        if unsafe { libc::setns(self.0.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            eprintln!(
                "gust: cannot return to the host's network namespace: {}",
                io::Error::last_os_error()
            );
            std::process::abort();
        }
    }
}

/// A new namespace's loopback starts down.
fn loopback_up() -> io::Result<()> {
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    check(fd)?;
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    check(unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) })?;
    unsafe { request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    check(unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) })
}
