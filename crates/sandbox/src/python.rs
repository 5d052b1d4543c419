//! The Python runtime: a venv with the pinned `awslambdaric`, created on first use and cached.
//!
//! Cache: `$LAMBDASCOPE_CACHE_DIR` or `~/.cache/lambdascope`, one venv per runtime name
//! (`runtimes/python3.12`). Concurrent first use (tests run in parallel) is serialised with `flock`
//! on a lock file next to the venv; the venv is built in a temporary directory and renamed into place.

use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::SandboxError;

/// The runtime interface client every sandbox runs, pinned.
pub const AWSLAMBDARIC_VERSION: &str = "4.2.2";

/// A ready Python runtime.
#[derive(Debug, Clone)]
pub(crate) struct PythonRuntime {
    /// `<venv>/bin/python`.
    pub python: PathBuf,
    /// `<venv>/bin`, put first on `PATH` (Lambda's `/var/lang/bin`).
    pub bin_dir: PathBuf,
    /// `3.12`, the interpreter's real version.
    pub version: String,
}

/// Whether a runtime is an OS-only (custom) runtime: Lambda starts the `bootstrap` executable in
/// the task root instead of a language runtime, and sets no `AWS_EXECUTION_ENV`.
pub(crate) fn is_custom_runtime(name: &str) -> bool {
    name == "provided.al2023" || name == "provided.al2"
}

/// The stand-in for a custom runtime: no interpreter; `bin_dir` is Lambda's `/var/lang/bin`.
pub(crate) fn custom_runtime() -> PythonRuntime {
    PythonRuntime {
        python: PathBuf::new(),
        bin_dir: PathBuf::from("/var/lang/bin"),
        version: String::new(),
    }
}

/// Checks a runtime name: `python3.8` .. `python3.14`.
pub(crate) fn validate_runtime(name: &str) -> Result<(), SandboxError> {
    let minor = name
        .strip_prefix("python3.")
        .and_then(|m| m.parse::<u32>().ok());
    match minor {
        Some(8..=14) => Ok(()),
        _ => Err(SandboxError::UnknownRuntime(name.to_string())),
    }
}

/// The cache directory.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LAMBDASCOPE_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    PathBuf::from(home).join(".cache").join("lambdascope")
}

/// The venv for `runtime` when it is already in the cache (two small reads, no blocking work).
pub(crate) fn cached_runtime(runtime: &str) -> Option<PythonRuntime> {
    validate_runtime(runtime).ok()?;
    let venv = cache_dir().join("runtimes").join(runtime);
    let rt = read_stamp(&venv, &venv.join(".lambdascope-ready"))?;
    warn_if_substituted(runtime, &rt);
    Some(rt)
}

/// Returns the venv for `runtime`, creating it (blocking, with a progress line) on first use.
pub(crate) fn ensure_runtime(runtime: &str) -> Result<PythonRuntime, SandboxError> {
    validate_runtime(runtime)?;
    let root = cache_dir().join("runtimes");
    let venv = root.join(runtime);
    let stamp = venv.join(".lambdascope-ready");
    if let Some(rt) = read_stamp(&venv, &stamp) {
        warn_if_substituted(runtime, &rt);
        return Ok(rt);
    }
    fs::create_dir_all(&root).map_err(|e| SandboxError::io("create the runtime cache", e))?;
    let lock_path = root.join(format!("{runtime}.lock"));
    let lock = fs::File::create(&lock_path)
        .map_err(|e| SandboxError::io("create the runtime cache lock", e))?;
    // SAFETY: flock on an fd we own; it is released when `lock` is dropped.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(SandboxError::io(
            "lock the runtime cache",
            std::io::Error::last_os_error(),
        ));
    }
    if let Some(rt) = read_stamp(&venv, &stamp) {
        warn_if_substituted(runtime, &rt);
        return Ok(rt);
    }
    let (interpreter, version) = find_interpreter(runtime)?;
    eprintln!(
        "lambdascope: preparing the {runtime} runtime (Python {version}, awslambdaric {AWSLAMBDARIC_VERSION}) in {} (first use only)...",
        venv.display()
    );
    let building = root.join(format!("{runtime}.building"));
    let _ = fs::remove_dir_all(&building);
    run(
        Command::new(&interpreter)
            .arg("-m")
            .arg("venv")
            .arg(&building),
        "create the runtime venv",
    )?;
    run(
        Command::new(building.join("bin/python"))
            .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
            .arg(format!("awslambdaric=={AWSLAMBDARIC_VERSION}")),
        "install awslambdaric (needs access to PyPI on first use)",
    )?;
    let _ = fs::remove_dir_all(&venv);
    fs::rename(&building, &venv).map_err(|e| SandboxError::io("move the runtime venv", e))?;
    // The venv's scripts name the build directory; only `bin/python` is used, which is a symlink.
    fs::write(&stamp, &version).map_err(|e| SandboxError::io("write the runtime stamp", e))?;
    drop(lock);
    let rt = read_stamp(&venv, &stamp)
        .ok_or_else(|| SandboxError::Runtime("the runtime venv is incomplete".into()))?;
    warn_if_substituted(runtime, &rt);
    Ok(rt)
}

/// One line each time a runtime runs on another Python than the one it names.
fn warn_if_substituted(runtime: &str, rt: &PythonRuntime) {
    if runtime.trim_start_matches("python") != rt.version {
        eprintln!(
            "lambdascope: warning: {runtime} is not installed here; running it with python3 (Python {})",
            rt.version
        );
    }
}

fn read_stamp(venv: &Path, stamp: &Path) -> Option<PythonRuntime> {
    let version = fs::read_to_string(stamp).ok()?;
    let python = venv.join("bin/python");
    python.exists().then(|| PythonRuntime {
        python,
        bin_dir: venv.join("bin"),
        version: version.trim().to_string(),
    })
}

fn run(cmd: &mut Command, what: &str) -> Result<(), SandboxError> {
    let out = cmd
        .output()
        .map_err(|e| SandboxError::Runtime(format!("could not {what}: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(SandboxError::Runtime(format!(
        "could not {what}: {}",
        stderr.trim().lines().last().unwrap_or("unknown error")
    )))
}

/// Finds the interpreter for `python3.X`; falls back to the machine's `python3` with a warning.
fn find_interpreter(runtime: &str) -> Result<(PathBuf, String), SandboxError> {
    let wanted = runtime.trim_start_matches("python");
    let mut candidates: Vec<PathBuf> = vec![PathBuf::from(runtime)];
    let pyenv = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")));
    if let Some(pyenv) = pyenv {
        let mut found: Vec<PathBuf> = fs::read_dir(pyenv.join("versions"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                let n = e.file_name().to_string_lossy().to_string();
                n == wanted || n.starts_with(&format!("{wanted}."))
            })
            .map(|e| e.path().join("bin").join(runtime))
            .collect();
        found.sort();
        candidates.extend(found.into_iter().rev());
    }
    for dir in ["/usr/local/bin", "/usr/bin"] {
        candidates.push(Path::new(dir).join(runtime));
    }
    for candidate in candidates {
        if let Some(version) = probe(&candidate) {
            if version == wanted {
                return Ok((candidate, version));
            }
        }
    }
    let fallback = PathBuf::from("python3");
    match probe(&fallback) {
        Some(version) => Ok((fallback, version)),
        None => Err(SandboxError::Runtime(format!(
            "no Python interpreter found for {runtime} (and no python3 on PATH); install Python 3"
        ))),
    }
}

fn probe(interpreter: &Path) -> Option<String> {
    let out = Command::new(interpreter)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_names_are_checked() {
        assert!(validate_runtime("python3.12").is_ok());
        assert!(validate_runtime("nodejs20.x").is_err());
        assert!(validate_runtime("python3.99").is_err());
    }
}
