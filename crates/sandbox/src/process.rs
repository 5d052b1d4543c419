//! Starting the sandbox's processes (runtime, extensions) inside its namespaces and cgroup, each in its
//! own process group so a signal to the group reaches its children, with stdout/stderr read line-wise.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use crate::isolation::Namespaces;
use crate::logs::pump_lines;

/// How to start one process.
pub(crate) struct Launch<'a> {
    pub program: &'a Path,
    pub args: &'a [String],
    pub env: &'a BTreeMap<String, String>,
    pub cwd: &'a str,
    pub namespaces: Option<&'a Namespaces>,
    pub cgroup_procs: Option<&'a Path>,
}

/// Starts `launch`; every output line goes to `on_line`, the exit (described as Lambda does:
/// `exit status 1`, `signal: killed`) to `on_exit` once output is drained. Returns the pid.
pub(crate) fn spawn(
    launch: Launch<'_>,
    on_line: Arc<dyn Fn(String) + Send + Sync>,
    on_exit: impl FnOnce(String) + Send + 'static,
) -> io::Result<i32> {
    let mut cmd = tokio::process::Command::new(launch.program);
    cmd.args(launch.args)
        .env_clear()
        .envs(launch.env)
        .current_dir(launch.cwd)
        // Its own process group, so that a signal reaches its children too. No `pre_exec`: without
        // one, std starts the process with posix_spawn (vfork), much cheaper than fork from a
        // large multi-threaded parent.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let describe = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("could not start {}: {e}", launch.program.display()),
        )
    };
    let mut child = match launch.namespaces {
        // A child inherits the namespaces of the thread that starts it: start it from the
        // sandbox's namespace thread.
        Some(ns) => {
            let handle = tokio::runtime::Handle::current();
            ns.run(move || {
                let _runtime = handle.enter();
                cmd.spawn()
            })
            .map_err(describe)?
        }
        None => cmd.spawn().map_err(describe)?,
    };
    let pid = child.id().map(|p| p as i32).unwrap_or(-1);
    if let Some(procs) = launch.cgroup_procs {
        // Moving a process into a cgroup waits for an RCU grace period (15-25 ms on cgroup v1),
        // so it happens beside the start instead of before exec: the process runs meanwhile, and
        // only what it allocated in those first milliseconds is charged outside the limit.
        let procs = procs.to_path_buf();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = std::fs::write(&procs, pid.to_string()) {
                tracing::warn!(error = %e, "could not move a sandbox process into its cgroup");
            }
        });
    }
    let mut pumps = Vec::new();
    if let Some(out) = child.stdout.take() {
        let f = on_line.clone();
        pumps.push(tokio::spawn(pump_lines(out, move |l| f(l))));
    }
    if let Some(err) = child.stderr.take() {
        let f = on_line.clone();
        pumps.push(tokio::spawn(pump_lines(err, move |l| f(l))));
    }
    tokio::spawn(async move {
        let status = child.wait().await;
        for pump in pumps {
            // A grandchild may keep the pipe open; do not wait for it.
            let _ = tokio::time::timeout(Duration::from_millis(200), pump).await;
        }
        let desc = match status {
            Ok(s) => match (s.code(), s.signal()) {
                (Some(code), _) => format!("exit status {code}"),
                (None, Some(sig)) => format!("signal: {}", signal_name(sig)),
                _ => "exited".to_string(),
            },
            Err(e) => format!("unknown exit ({e})"),
        };
        on_exit(desc);
    });
    Ok(pid)
}

fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGKILL => "killed".into(),
        libc::SIGTERM => "terminated".into(),
        libc::SIGSEGV => "segmentation fault".into(),
        libc::SIGABRT => "aborted".into(),
        other => other.to_string(),
    }
}

/// Sends `sig` to the process group led by `pid`.
pub(crate) fn signal_group(pid: i32, sig: i32) {
    if pid > 0 {
        // SAFETY: kill(2) on a process group we created.
        unsafe {
            libc::kill(-pid, sig);
        }
    }
}
