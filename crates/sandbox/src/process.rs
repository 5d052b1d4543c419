//! Starting the sandbox's processes (runtime, extensions) inside its namespaces and cgroup, each in its
//! own session so a signal to the process group reaches its children, with stdout/stderr read line-wise.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use crate::isolation::ChildSetup;
use crate::logs::pump_lines;

/// How to start one process.
pub(crate) struct Launch<'a> {
    pub program: &'a Path,
    pub args: &'a [String],
    pub env: &'a BTreeMap<String, String>,
    pub cwd: &'a str,
    pub namespaces: Option<(RawFd, RawFd)>,
    pub cgroup_procs: Option<&'a Path>,
}

/// Starts `launch`; every output line goes to `on_line`, the exit (described as Lambda does:
/// `exit status 1`, `signal: killed`) to `on_exit` once output is drained. Returns the pid.
pub(crate) fn spawn(
    launch: Launch<'_>,
    on_line: Arc<dyn Fn(String) + Send + Sync>,
    on_exit: impl FnOnce(String) + Send + 'static,
) -> io::Result<i32> {
    let procs_file = match launch.cgroup_procs {
        Some(path) => OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .ok(),
        None => None,
    };
    let setup = ChildSetup {
        namespaces: launch.namespaces,
        cgroup_procs: procs_file.as_ref().map(|f| f.as_raw_fd()),
        cwd: CString::new(launch.cwd.as_bytes()).map_err(io::Error::other)?,
    };
    let mut cmd = tokio::process::Command::new(launch.program);
    cmd.args(launch.args)
        .env_clear()
        .envs(launch.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: ChildSetup::apply only makes async-signal-safe syscalls.
    unsafe {
        cmd.pre_exec(move || setup.apply());
    }
    let mut child = cmd.spawn().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("could not start {}: {e}", launch.program.as_os_str().to_string_lossy()),
        )
    })?;
    drop(procs_file);
    let pid = child.id().map(|p| p as i32).unwrap_or(-1);
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
