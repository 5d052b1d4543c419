//! Namespaces: a private mount and network namespace per sandbox, so the function sees Lambda's paths
//! (`/var/task`, `/opt`, its own `/tmp`) and its own loopback (extensions in two sandboxes can both bind
//! 8125), and a way out to the host as `host.lambdascope.internal`.
//!
//! A dedicated thread `unshare`s the namespaces and sets them up; it then stays in them and serves
//! socket jobs (bind, connect), because a socket belongs to the network namespace it was created in.
//! Children are started from that thread too: a child inherits the namespaces of the thread that
//! starts it, so no `pre_exec` is needed and std can use posix_spawn.

use std::ffi::CString;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, Once};

use crate::config::{FunctionConfig, Isolation};
use crate::SandboxError;

/// The address `host.lambdascope.internal` has inside a sandbox's network namespace.
pub(crate) const HOST_ALIAS_ADDR: [u8; 4] = [127, 0, 0, 254];
/// The name the function uses to reach services on the host's loopback.
pub const HOST_ALIAS: &str = "host.lambdascope.internal";

/// Where the sandbox's directories come from.
#[derive(Clone)]
pub(crate) struct MountPlan {
    /// The runtime venv, mounted at `/var/lang` (where Lambda keeps its Python).
    pub lang: PathBuf,
    pub opt: PathBuf,
    pub task: PathBuf,
    pub tmp: PathBuf,
    pub hosts: PathBuf,
}

type Job = Box<dyn FnOnce() + Send>;

/// A namespace pair and the thread that lives in it; kept for reuse when a sandbox ends, because
/// creating a network namespace right after others were destroyed waits for their (slow, RTNL-holding)
/// cleanup, and a new thread costs a scheduling round trip.
struct NsCore {
    _mnt: OwnedFd,
    _net: OwnedFd,
    jobs: mpsc::Sender<Job>,
}

/// Spare namespaces, unmounted and ready for the next sandbox.
static SPARE: Mutex<Vec<NsCore>> = Mutex::new(Vec::new());
const MAX_SPARE: usize = 4;

/// Handles to a sandbox's namespaces.
pub(crate) struct Namespaces {
    core: Option<NsCore>,
    /// The Runtime API listener (127.0.0.1:9001 inside), bound while the thread sets up, which saves
    /// a round trip to the thread on the cold-start path.
    api_listener: Mutex<Option<TcpListener>>,
}

impl Namespaces {
    /// Creates (or reuses) the namespaces and mounts `plan`. Fails without `CAP_SYS_ADMIN`.
    pub fn create(plan: MountPlan) -> io::Result<Namespaces> {
        let spare = SPARE.lock().unwrap_or_else(|p| p.into_inner()).pop();
        if let Some(core) = spare {
            let (tx, rx) = mpsc::channel();
            let reuse_plan = plan.clone();
            let sent = core.jobs.send(Box::new(move || {
                // SAFETY: mount syscalls on the namespace thread only.
                let _ = tx.send(unsafe { mount_plan(&reuse_plan) }.and_then(|()| bind_api()));
            }));
            if sent.is_ok() {
                if let Ok(Ok(api)) = rx.recv() {
                    return Ok(Namespaces {
                        core: Some(core),
                        api_listener: Mutex::new(Some(api)),
                    });
                }
            }
        }
        let (ready_tx, ready_rx) = mpsc::channel();
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("lambdascope-netns".into())
            .spawn(move || {
                // SAFETY: namespace syscalls on this thread only; it never runs other code.
                let result = unsafe { enter_new_namespaces(&plan) }.and_then(|(mnt, net)| {
                    let api = bind_api()?;
                    Ok((mnt, net, api))
                });
                let ok = result.is_ok();
                let _ = ready_tx.send(result);
                if ok {
                    for job in jobs_rx {
                        job();
                    }
                }
            })?;
        let (mnt, net, api) = ready_rx
            .recv()
            .map_err(|_| io::Error::other("namespace thread died"))??;
        Ok(Namespaces {
            core: Some(NsCore {
                _mnt: mnt,
                _net: net,
                jobs: jobs_tx,
            }),
            api_listener: Mutex::new(Some(api)),
        })
    }

    /// The Runtime API listener bound inside (once).
    pub fn take_api_listener(&self) -> Option<TcpListener> {
        self.api_listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Runs `job` on the namespace thread (whose namespaces new sockets and children get).
    pub fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> io::Result<T> + Send + 'static,
    ) -> io::Result<T> {
        let (tx, rx) = mpsc::channel();
        let core = self
            .core
            .as_ref()
            .ok_or_else(|| io::Error::other("namespace thread is gone"))?;
        core.jobs
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

impl Drop for Namespaces {
    fn drop(&mut self) {
        let Some(core) = self.core.take() else {
            return;
        };
        let jobs = core.jobs.clone();
        let _ = jobs.send(Box::new(move || {
            // SAFETY: unmount syscalls on the namespace thread only.
            if unsafe { unmount_plan() }.is_ok() {
                let mut spare = SPARE.lock().unwrap_or_else(|p| p.into_inner());
                if spare.len() < MAX_SPARE {
                    spare.push(core);
                }
            }
            // Otherwise `core` drops here, and with its last sender the thread ends.
        }));
    }
}

fn bind_api() -> io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 9001)))
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
    mount_plan(plan)?;
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

/// The mount points a sandbox gets, in mount order.
const MOUNT_POINTS: [&str; 5] = ["/var/lang", "/opt", "/var/task", "/etc/hosts", "/tmp"];

unsafe fn mount_plan(plan: &MountPlan) -> io::Result<()> {
    bind_mount(&plan.lang, "/var/lang", true)?;
    bind_mount(&plan.opt, "/opt", true)?;
    bind_mount(&plan.task, "/var/task", true)?;
    bind_mount(&plan.hosts, "/etc/hosts", true)?;
    // Last: the sources above may live under the host's /tmp.
    bind_mount(&plan.tmp, "/tmp", false)
}

/// Undoes `mount_plan` (in reverse order) so the namespaces can serve another sandbox.
unsafe fn unmount_plan() -> io::Result<()> {
    for point in MOUNT_POINTS.iter().rev() {
        let c = CString::new(*point).map_err(io::Error::other)?;
        check(
            libc::umount2(c.as_ptr(), libc::MNT_DETACH),
            &format!("unmount {point}"),
        )?;
    }
    Ok(())
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

static HOST_WARNING: Once = Once::new();

/// Namespaces when asked for or possible, else host mode with one warning line per process.
pub(crate) fn choose_isolation(
    config: &FunctionConfig,
    opt: &Path,
    code: &Path,
    lang: &Path,
    tmp: &Path,
    work: &Path,
) -> Result<(Option<Arc<Namespaces>>, Isolation), SandboxError> {
    let warn = |why: &str| {
        let why = why.to_string();
        HOST_WARNING.call_once(|| {
            eprintln!("lambdascope: warning: running without namespaces ({why}): host paths and ports, no /var/task or /opt, host.lambdascope.internal is 127.0.0.1");
        });
    };
    if config.isolation == Isolation::Host {
        warn("host isolation requested");
        return Ok((None, Isolation::Host));
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        if config.isolation == Isolation::Namespaces {
            return Err(SandboxError::Isolation(
                "namespaces need root (CAP_SYS_ADMIN); run as root or use --isolation host".into(),
            ));
        }
        warn("not root");
        return Ok((None, Isolation::Host));
    }
    let hosts = work.join("hosts");
    let attempt = (|| {
        std::fs::write(&hosts, hosts_file())?;
        std::fs::create_dir_all("/var/task")?;
        std::fs::create_dir_all("/var/lang")?;
        std::fs::create_dir_all("/opt")?;
        Namespaces::create(MountPlan {
            lang: lang.to_path_buf(),
            opt: opt.to_path_buf(),
            task: code.to_path_buf(),
            tmp: tmp.to_path_buf(),
            hosts: hosts.clone(),
        })
    })();
    match attempt {
        Ok(ns) => Ok((Some(Arc::new(ns)), Isolation::Namespaces)),
        Err(e) if config.isolation == Isolation::Namespaces => Err(SandboxError::Isolation(
            format!("could not create namespaces: {e}"),
        )),
        Err(e) => {
            warn(&format!("could not create namespaces: {e}"));
            Ok((None, Isolation::Host))
        }
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
                .map(|p| {
                    p.chars()
                        .take_while(|c| c.is_ascii_digit())
                        .collect::<String>()
                })
                .and_then(|p| p.parse::<u16>().ok())
                .unwrap_or(if before.ends_with("https://") {
                    443
                } else {
                    80
                });
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
