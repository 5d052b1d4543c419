//! Namespaces: a private mount and network namespace per sandbox, so the function sees Lambda's paths
//! (`/var/task`, `/opt`, its own `/tmp`) and its own loopback (extensions in two sandboxes can both bind
//! 8125), and a way out to the host as `host.lambdascope.internal`.
//!
//! A dedicated thread `unshare`s the namespaces and sets them up; it then stays in them and serves
//! socket jobs (bind, connect), because a socket belongs to the network namespace it was created in.
//! Children enter both namespaces from `pre_exec` through fds to `/proc/thread-self/ns/{mnt,net}`.

use std::ffi::CString;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// The address `host.lambdascope.internal` has inside a sandbox's network namespace.
pub(crate) const HOST_ALIAS_ADDR: [u8; 4] = [127, 0, 0, 254];
/// The name the function uses to reach services on the host's loopback.
pub const HOST_ALIAS: &str = "host.lambdascope.internal";

/// Where the sandbox's directories come from.
pub(crate) struct MountPlan {
    pub opt: PathBuf,
    pub task: PathBuf,
    pub tmp: PathBuf,
    pub hosts: PathBuf,
}

type Job = Box<dyn FnOnce() + Send>;

/// Handles to a sandbox's namespaces.
pub(crate) struct Namespaces {
    mnt: OwnedFd,
    net: OwnedFd,
    jobs: mpsc::Sender<Job>,
}

impl Namespaces {
    /// Creates the namespaces and mounts `plan`. Fails without `CAP_SYS_ADMIN`.
    pub fn create(plan: MountPlan) -> io::Result<Namespaces> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("lambdascope-netns".into())
            .spawn(move || {
                // SAFETY: namespace syscalls on this thread only; it never runs other code.
                let result = unsafe { enter_new_namespaces(&plan) };
                let ok = result.is_ok();
                let _ = ready_tx.send(result);
                if ok {
                    for job in jobs_rx {
                        job();
                    }
                }
            })?;
        let (mnt, net) = ready_rx
            .recv()
            .map_err(|_| io::Error::other("namespace thread died"))??;
        Ok(Namespaces {
            mnt,
            net,
            jobs: jobs_tx,
        })
    }

    /// Raw fds of the mount and network namespaces, for `pre_exec`.
    pub fn fds(&self) -> (RawFd, RawFd) {
        (self.mnt.as_raw_fd(), self.net.as_raw_fd())
    }

    fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> io::Result<T> + Send + 'static,
    ) -> io::Result<T> {
        let (tx, rx) = mpsc::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(job());
            }))
            .map_err(|_| io::Error::other("namespace thread is gone"))?;
        rx.recv()
            .map_err(|_| io::Error::other("namespace thread is gone"))?
    }

    pub fn bind(&self, addr: SocketAddr) -> io::Result<TcpListener> {
        self.run(move || TcpListener::bind(addr))
    }

    pub fn connect(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        self.run(move || TcpStream::connect(addr))
    }
}

fn check(ret: libc::c_int, what: &str) -> io::Result<()> {
    if ret < 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(err.kind(), format!("{what}: {err}")));
    }
    Ok(())
}

fn cstr(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)
}

unsafe fn bind_mount(src: &Path, dst: &str, read_only: bool) -> io::Result<()> {
    let s = cstr(src)?;
    let d = CString::new(dst).map_err(io::Error::other)?;
    check(
        libc::mount(
            s.as_ptr(),
            d.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND | libc::MS_REC,
            std::ptr::null(),
        ),
        &format!("bind-mount {} on {dst}", src.display()),
    )?;
    if read_only {
        check(
            libc::mount(
                std::ptr::null(),
                d.as_ptr(),
                std::ptr::null(),
                libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY,
                std::ptr::null(),
            ),
            &format!("make {dst} read-only"),
        )?;
    }
    Ok(())
}

unsafe fn enter_new_namespaces(plan: &MountPlan) -> io::Result<(OwnedFd, OwnedFd)> {
    check(
        libc::unshare(libc::CLONE_FS | libc::CLONE_NEWNS | libc::CLONE_NEWNET),
        "unshare mount and network namespaces",
    )?;
    check(
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ),
        "make / private",
    )?;
    loopback_up()?;
    bind_mount(&plan.opt, "/opt", true)?;
    bind_mount(&plan.task, "/var/task", true)?;
    bind_mount(&plan.hosts, "/etc/hosts", true)?;
    // Last: the sources above may live under the host's /tmp.
    bind_mount(&plan.tmp, "/tmp", false)?;
    let open = |path: &std::ffi::CStr| -> io::Result<OwnedFd> {
        let fd = libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        check(fd, "open a namespace handle")?;
        Ok(OwnedFd::from_raw_fd(fd))
    };
    Ok((
        open(c"/proc/thread-self/ns/mnt")?,
        open(c"/proc/thread-self/ns/net")?,
    ))
}

unsafe fn loopback_up() -> io::Result<()> {
    let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
    check(fd, "open a socket to configure lo")?;
    let sock = OwnedFd::from_raw_fd(fd);
    let mut req: libc::ifreq = std::mem::zeroed();
    for (i, b) in b"lo".iter().enumerate() {
        req.ifr_name[i] = *b as libc::c_char;
    }
    check(
        libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut req),
        "read lo flags",
    )?;
    req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    check(
        libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as _, &req),
        "bring lo up",
    )
}

/// Runs in the child between fork and exec: join the cgroup, enter the namespaces, chdir, new session.
/// Only async-signal-safe calls.
pub(crate) struct ChildSetup {
    pub namespaces: Option<(RawFd, RawFd)>,
    pub cgroup_procs: Option<RawFd>,
    pub cwd: CString,
}

impl ChildSetup {
    /// # Safety
    /// Call only in a freshly forked child (from `pre_exec`).
    pub unsafe fn apply(&self) -> io::Result<()> {
        if let Some(fd) = self.cgroup_procs {
            // Best effort: a sandbox without its cgroup still runs, it just is not limited.
            libc::write(fd, b"0".as_ptr().cast(), 1);
        }
        if let Some((mnt, net)) = self.namespaces {
            check(libc::setns(mnt, libc::CLONE_NEWNS), "enter the mount namespace")?;
            check(libc::setns(net, libc::CLONE_NEWNET), "enter the network namespace")?;
        }
        check(libc::chdir(self.cwd.as_ptr()), "chdir to the task root")?;
        check(libc::setsid(), "setsid")?;
        Ok(())
    }
}

/// Where the sandbox's sockets live: the host's network, or the sandbox's own namespace.
#[derive(Clone)]
pub(crate) enum NetScope {
    Host,
    Namespaced(std::sync::Arc<Namespaces>),
}

impl NetScope {
    /// Connects from inside the scope (telemetry deliveries to `sandbox.localdomain`).
    pub async fn connect(&self, addr: SocketAddr) -> io::Result<tokio::net::TcpStream> {
        match self {
            NetScope::Host => tokio::net::TcpStream::connect(addr).await,
            NetScope::Namespaced(ns) => {
                let ns = ns.clone();
                let std = tokio::task::spawn_blocking(move || ns.connect(addr))
                    .await
                    .map_err(io::Error::other)??;
                std.set_nonblocking(true)?;
                tokio::net::TcpStream::from_std(std)
            }
        }
    }

    /// Binds a listener inside the scope.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<tokio::net::TcpListener> {
        let std = match self {
            NetScope::Host => TcpListener::bind(addr)?,
            NetScope::Namespaced(ns) => ns.bind(addr)?,
        };
        std.set_nonblocking(true)?;
        tokio::net::TcpListener::from_std(std)
    }
}

/// Inside the namespace, listens on `host.lambdascope.internal:PORT` and forwards each connection to
/// `127.0.0.1:PORT` on the host.
pub(crate) fn forward_host_port(
    scope: &NetScope,
    port: u16,
) -> io::Result<tokio::task::JoinHandle<()>> {
    let listener = scope.bind(SocketAddr::from((HOST_ALIAS_ADDR, port)))?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((mut inside, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let Ok(mut outside) =
                    tokio::net::TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).await
                else {
                    return;
                };
                let _ = inside.set_nodelay(true);
                let _ = outside.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut inside, &mut outside).await;
            });
        }
    }))
}

/// `/etc/hosts` inside the sandbox.
pub(crate) fn hosts_file() -> String {
    let [a, b, c, d] = HOST_ALIAS_ADDR;
    format!(
        "127.0.0.1\tlocalhost sandbox.localdomain sandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n{a}.{b}.{c}.{d}\t{HOST_ALIAS}\n"
    )
}

/// Ports that env values reach on `host.lambdascope.internal` (`:PORT`, else 443 for https, 80).
pub(crate) fn host_ports_in<'a>(values: impl Iterator<Item = &'a str>) -> Vec<u16> {
    let mut ports = Vec::new();
    for value in values {
        let mut rest = value;
        while let Some(at) = rest.find(HOST_ALIAS) {
            let before = &rest[..at];
            let after = &rest[at + HOST_ALIAS.len()..];
            let port = after
                .strip_prefix(':')
                .map(|p| p.chars().take_while(|c| c.is_ascii_digit()).collect::<String>())
                .and_then(|p| p.parse::<u16>().ok())
                .unwrap_or(if before.ends_with("https://") { 443 } else { 80 });
            if !ports.contains(&port) {
                ports.push(port);
            }
            rest = after;
        }
    }
    ports
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ports_come_from_env_values() {
        let values = [
            "http://host.lambdascope.internal:8080",
            "https://host.lambdascope.internal/x",
            "host.lambdascope.internal",
            "unrelated",
        ];
        assert_eq!(host_ports_in(values.into_iter()), vec![8080, 443, 80]);
    }
}
