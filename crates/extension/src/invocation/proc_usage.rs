//! Resource usage read from `/proc` and `statfs`, sampled at invoke and at runtimeDone.
//!
//! Every reader is best effort: a file that is missing or unreadable (not Linux, a locked
//! down sandbox) yields `None` and the metric is simply not emitted.

use std::path::Path;
use std::time::Instant;

/// Clock ticks per second of `/proc/stat` (USER_HZ; 100 on every Lambda architecture).
const USER_HZ: f64 = 100.0;

/// One reading of the counters that are reported as deltas.
#[derive(Debug, Clone)]
pub struct UsageSnapshot {
    pub at: Instant,
    /// (received, transmitted) bytes over every interface but loopback.
    pub network: Option<(u64, u64)>,
    /// (user, system) CPU seconds of the whole sandbox.
    pub cpu: Option<(f64, f64)>,
}

impl UsageSnapshot {
    pub fn read(proc_root: &Path) -> UsageSnapshot {
        UsageSnapshot {
            at: Instant::now(),
            network: std::fs::read_to_string(proc_root.join("net/dev"))
                .ok()
                .and_then(|t| parse_net_dev(&t)),
            cpu: std::fs::read_to_string(proc_root.join("stat"))
                .ok()
                .and_then(|t| parse_stat(&t)),
        }
    }
}

/// `/proc/net/dev` → total (rx, tx) bytes without `lo`.
pub fn parse_net_dev(text: &str) -> Option<(u64, u64)> {
    let mut total = (0u64, 0u64);
    let mut any = false;
    for line in text.lines().skip(2) {
        let Some((iface, counters)) = line.split_once(':') else {
            continue;
        };
        if iface.trim() == "lo" {
            continue;
        }
        let fields: Vec<u64> = counters
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        if fields.len() >= 9 {
            total.0 += fields[0];
            total.1 += fields[8];
            any = true;
        }
    }
    any.then_some(total)
}

/// `/proc/stat` first line → (user + nice, system) seconds.
pub fn parse_stat(text: &str) -> Option<(f64, f64)> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    if fields.len() < 3 {
        return None;
    }
    Some(((fields[0] + fields[1]) / USER_HZ, fields[2] / USER_HZ))
}

/// `Max open files` soft limit from a `/proc/<pid>/limits` file.
pub fn parse_max_open_files(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Processes in our cgroup (the sandbox: the runtime and the extensions), so a machine with
/// thousands of processes (a laptop, not Lambda) costs no more than Lambda does.
const MAX_CGROUP_PROCS: usize = 64;

fn sandbox_pids(proc_root: &Path) -> Vec<String> {
    let cgroup = std::fs::read_to_string(proc_root.join("self/cgroup")).unwrap_or_default();
    let path = cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or("");
    let procs = std::fs::read_to_string(
        Path::new("/sys/fs/cgroup")
            .join(path.trim_start_matches('/'))
            .join("cgroup.procs"),
    );
    match procs {
        Ok(text) if !path.is_empty() && path != "/" && text.lines().count() <= MAX_CGROUP_PROCS => {
            text.lines().map(str::to_string).collect()
        }
        _ => vec!["self".to_string()],
    }
}

/// Open file descriptors of the processes in this sandbox.
pub fn count_open_fds(proc_root: &Path) -> Option<f64> {
    let mut total = 0usize;
    for pid in sandbox_pids(proc_root) {
        if let Ok(fds) = std::fs::read_dir(proc_root.join(pid).join("fd")) {
            total += fds.count();
        }
    }
    Some(total as f64)
}

/// (total, free) bytes of the filesystem holding `path`.
pub fn statfs_bytes(path: &Path) -> Option<(f64, f64)> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: c_path is a valid NUL-terminated string and stat a valid out pointer.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    let block = stat.f_frsize as f64;
    Some((stat.f_blocks as f64 * block, stat.f_bavail as f64 * block))
}

/// The usage metrics of one invocation: (name suffix, value).
pub fn usage_metrics(
    start: &UsageSnapshot,
    end: &UsageSnapshot,
    proc_root: &Path,
    tmp: &Path,
) -> Vec<(&'static str, f64)> {
    let mut out = Vec::new();
    if let (Some(a), Some(b)) = (start.network, end.network) {
        let rx = b.0.saturating_sub(a.0) as f64;
        let tx = b.1.saturating_sub(a.1) as f64;
        out.extend([
            ("rx_bytes", rx),
            ("tx_bytes", tx),
            ("total_network", rx + tx),
        ]);
    }
    if let (Some(a), Some(b)) = (start.cpu, end.cpu) {
        let user = ((b.0 - a.0) * 1000.0).max(0.0);
        let system = ((b.1 - a.1) * 1000.0).max(0.0);
        let total = user + system;
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1) as f64;
        let wall_ms = end.at.saturating_duration_since(start.at).as_secs_f64() * 1000.0;
        out.extend([
            ("cpu_user_time", user),
            ("cpu_system_time", system),
            ("cpu_total_time", total),
            ("num_cores", cores),
        ]);
        if wall_ms > 0.0 {
            let utilization = total / wall_ms;
            out.push(("cpu_total_utilization", utilization));
            out.push((
                "cpu_total_utilization_pct",
                (utilization / cores * 100.0).min(100.0),
            ));
        }
    }
    if let Some((total, free)) = statfs_bytes(tmp) {
        out.extend([
            ("tmp_max", total),
            ("tmp_used", total - free),
            ("tmp_free", free),
        ]);
    }
    if let Some(max) = std::fs::read_to_string(proc_root.join("self/limits"))
        .ok()
        .and_then(|t| parse_max_open_files(&t))
    {
        out.push(("fd_max", max));
    }
    if let Some(used) = count_open_fds(proc_root) {
        out.push(("fd_use", used));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let net = "Inter-|   Receive  |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes\n    lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n  eth0: 2000 3 0 0 0 0 0 0 500 2 0 0 0 0 0 0\n";
        assert_eq!(parse_net_dev(net), Some((2000, 500)));
        assert_eq!(
            parse_stat("cpu  100 50 30 1000 0 0 0 0 0 0\ncpu0 1 2 3\n"),
            Some((1.5, 0.3))
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 4096                 files\n";
        assert_eq!(parse_max_open_files(limits), Some(1024.0));
        assert_eq!(parse_net_dev("garbage"), None);
    }

    #[test]
    fn reads_this_machine() {
        let root = Path::new("/proc");
        let a = UsageSnapshot::read(root);
        let b = UsageSnapshot::read(root);
        let metrics = usage_metrics(&a, &b, root, Path::new("/tmp"));
        let names: Vec<_> = metrics.iter().map(|(n, _)| *n).collect();
        assert!(
            names.contains(&"tmp_max") && names.contains(&"fd_use"),
            "{names:?}"
        );
        assert!(metrics.iter().all(|(_, v)| v.is_finite() && *v >= 0.0));
    }
}
