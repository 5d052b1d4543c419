//! Memory: enforce the function's memory size and measure the peak over the whole environment.
//!
//! Detected at run time, in this order: a cgroup v2 child (`memory.max`, `memory.peak`,
//! `memory.events` `oom_kill`), a cgroup v1 child of the memory controller (`memory.limit_in_bytes`,
//! `memory.max_usage_in_bytes`, `memory.oom_control` `oom_kill` / `memory.failcnt`), else no limit and
//! the sum of `VmHWM` over the sandbox's process tree. `LAMBDASCOPE_CGROUP=off` skips cgroups. One cgroup per environment (re-created on reset),
//! removed when the environment ends.

use std::fs;
use std::path::{Path, PathBuf};

const MIB: u64 = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CgroupVersion {
    V1,
    V2,
}

/// A cgroup the sandbox created for one environment.
#[derive(Debug)]
pub(crate) struct MemoryCgroup {
    dir: PathBuf,
    version: CgroupVersion,
    oom_kills_at_start: u64,
}

impl MemoryCgroup {
    /// Creates a cgroup limited to `memory_mb`, or `None` when no writable memory controller exists.
    pub fn create(memory_mb: u32) -> Option<MemoryCgroup> {
        if std::env::var("LAMBDASCOPE_CGROUP").is_ok_and(|v| v == "off") {
            return None;
        }
        let name = format!("lambdascope-{}", uuid::Uuid::new_v4().simple());
        let limit = u64::from(memory_mb) * MIB;
        for (version, parent) in parents() {
            remove_stale_siblings(&parent);
            let dir = parent.join(&name);
            if fs::create_dir(&dir).is_err() {
                continue;
            }
            let ok = match version {
                CgroupVersion::V2 => {
                    fs::write(dir.join("memory.max"), limit.to_string()).is_ok()
                        && fs::write(dir.join("memory.swap.max"), "0").map_or(true, |_| true)
                }
                CgroupVersion::V1 => {
                    let ok =
                        fs::write(dir.join("memory.limit_in_bytes"), limit.to_string()).is_ok();
                    let _ = fs::write(dir.join("memory.memsw.limit_in_bytes"), limit.to_string());
                    ok
                }
            };
            if ok {
                let mut cg = MemoryCgroup {
                    dir,
                    version,
                    oom_kills_at_start: 0,
                };
                cg.oom_kills_at_start = cg.oom_kills();
                return Some(cg);
            }
            let _ = fs::remove_dir(&dir);
        }
        None
    }

    /// `cgroup.procs`: a child writes `0` into it (from `pre_exec`) to join.
    pub fn procs_file(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }

    /// Peak memory of the environment so far, in bytes.
    pub fn peak_bytes(&self) -> u64 {
        let file = match self.version {
            CgroupVersion::V2 => "memory.peak",
            CgroupVersion::V1 => "memory.max_usage_in_bytes",
        };
        read_u64(&self.dir.join(file))
            .or_else(|| read_u64(&self.dir.join("memory.current")))
            .unwrap_or(0)
    }

    /// Whether the kernel OOM-killed something in this environment.
    pub fn oom_killed(&self) -> bool {
        self.oom_kills() > self.oom_kills_at_start
    }

    fn oom_kills(&self) -> u64 {
        let (file, key) = match self.version {
            CgroupVersion::V2 => ("memory.events", "oom_kill"),
            CgroupVersion::V1 => ("memory.oom_control", "oom_kill"),
        };
        let text = fs::read_to_string(self.dir.join(file)).unwrap_or_default();
        let counted = text.lines().find_map(|l| {
            let mut parts = l.split_whitespace();
            (parts.next() == Some(key))
                .then(|| parts.next()?.parse().ok())
                .flatten()
        });
        match (counted, self.version) {
            (Some(n), _) => n,
            // Old v1 kernels have no oom_kill counter: fall back to the limit-hit count.
            (None, CgroupVersion::V1) => read_u64(&self.dir.join("memory.failcnt")).unwrap_or(0),
            (None, CgroupVersion::V2) => 0,
        }
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        // Processes may take a moment to leave after SIGKILL.
        for _ in 0..50 {
            if fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            for pid in fs::read_to_string(self.procs_file())
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().parse::<i32>().ok())
            {
                // SAFETY: plain kill(2) on processes of our own cgroup.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        tracing::warn!(dir = %self.dir.display(), "could not remove the sandbox cgroup");
    }
}

/// Removes empty `lambdascope-*` cgroups left by a sandbox process that was killed (older than a
/// minute, so a sibling being set up right now is left alone; a cgroup in use refuses rmdir).
fn remove_stale_siblings(parent: &Path) {
    let minute_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    for entry in fs::read_dir(parent).into_iter().flatten().flatten() {
        let stale = entry
            .file_name()
            .to_string_lossy()
            .starts_with("lambdascope-")
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < minute_ago);
        if stale {
            let _ = fs::remove_dir(entry.path());
        }
    }
}

fn read_u64(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Candidate parent cgroups: v2 first, then v1, each at our own cgroup's path.
fn parents() -> Vec<(CgroupVersion, PathBuf)> {
    let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mut v2_path = None;
    let mut v1_path = None;
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if controllers.is_empty() {
            v2_path = Some(path.trim_start_matches('/').to_string());
        } else if controllers.split(',').any(|c| c == "memory") {
            v1_path = Some(path.trim_start_matches('/').to_string());
        }
    }
    let mut out = Vec::new();
    if let Some(path) = v2_path {
        for mount in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
            let controllers =
                fs::read_to_string(Path::new(mount).join("cgroup.controllers")).unwrap_or_default();
            if controllers.split_whitespace().any(|c| c == "memory") {
                out.push((CgroupVersion::V2, Path::new(mount).join(&path)));
            }
        }
    }
    if let Some(path) = v1_path {
        let mount = Path::new("/sys/fs/cgroup/memory");
        if mount.join("memory.limit_in_bytes").exists() {
            out.push((CgroupVersion::V1, mount.join(path)));
        }
    }
    out
}

/// Sum of `VmHWM` (peak RSS) over the process trees rooted at `roots` (the sandbox's processes),
/// following `/proc/<pid>/task/<tid>/children`: a few small reads per process, not a scan of `/proc`.
pub(crate) fn process_tree_peak_bytes(roots: &[i32]) -> u64 {
    let mut total = 0;
    let mut stack: Vec<i32> = roots.to_vec();
    let mut seen = 0;
    while let Some(pid) = stack.pop() {
        seen += 1;
        if seen > 4096 {
            break;
        }
        let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let kb = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .or_else(|| status.lines().find(|l| l.starts_with("VmRSS:")))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .unwrap_or(0);
        total += kb * 1024;
        for task in fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let children = fs::read_to_string(task.path().join("children")).unwrap_or_default();
            stack.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<i32>().ok()),
            );
        }
    }
    total
}

/// Bytes to Lambda's whole-MB figure (rounded up).
pub(crate) fn to_mb(bytes: u64) -> u64 {
    bytes.div_ceil(MIB)
}
