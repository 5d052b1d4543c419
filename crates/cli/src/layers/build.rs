//! Packaging the layers: the extension (`extensions/<name>`) and the Python library
//! (`python/lambdascope`, with compiled bytecode, without tests).
//!
//! Lambda extracts every layer into `/opt`, so the zip's paths are the paths in the sandbox:
//! `/opt/extensions/lambdascope` is started as an external extension, and `/opt/python` is on the
//! Python runtime's `sys.path`. `--dir` writes the same tree to a directory, for container images
//! (`COPY layer-tree/ /opt/`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use super::elf_check::check_extension_binary;
use crate::instrument::runtime::Architecture;

/// One file to put in a layer: its path inside the layer, contents, and whether it is executable.
#[derive(Clone, Debug)]
pub struct LayerFile {
    pub path: String,
    pub data: Vec<u8>,
    pub executable: bool,
}

/// Writes files as a zip with fixed timestamps and sorted entries, so the same inputs give the
/// same bytes (and the same CodeSha256 when published).
pub fn write_zip(files: &[LayerFile], out: &Path) -> Result<()> {
    let mut files: Vec<&LayerFile> = files.iter().collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut zip = ZipWriter::new(file);
    let mut dirs = std::collections::BTreeSet::new();
    for f in &files {
        let mut parts: Vec<&str> = f.path.split('/').collect();
        parts.pop();
        let mut prefix = String::new();
        for p in parts {
            prefix.push_str(p);
            prefix.push('/');
            dirs.insert(prefix.clone());
        }
    }
    let base = SimpleFileOptions::default()
        .last_modified_time(DateTime::default())
        .compression_method(CompressionMethod::Deflated);
    for dir in &dirs {
        zip.add_directory(dir.as_str(), base.unix_permissions(0o755))?;
    }
    for f in files {
        let mode = if f.executable { 0o755 } else { 0o644 };
        zip.start_file(f.path.as_str(), base.unix_permissions(mode))?;
        zip.write_all(&f.data)?;
    }
    zip.finish()?;
    Ok(())
}

/// Writes files under `dir` (the `--dir` tree), keeping the executable bit.
pub fn write_tree(files: &[LayerFile], dir: &Path) -> Result<()> {
    for f in files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &f.data).with_context(|| format!("writing {}", path.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = if f.executable { 0o755 } else { 0o644 };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}

/// The extension layer's single file, after checking the binary fits the architecture and
/// Amazon Linux 2's glibc.
pub fn extension_files(binary: &Path, name: &str, arch: Architecture) -> Result<Vec<LayerFile>> {
    let data = std::fs::read(binary).with_context(|| {
        format!(
            "reading the extension binary {}; build it with `cargo build --profile extension -p lambdascope-extension` or pass --extension-binary",
            binary.display()
        )
    })?;
    let info = check_extension_binary(&binary.display().to_string(), &data, arch)?;
    tracing::debug!(?info, "extension binary checked");
    Ok(vec![LayerFile {
        path: format!("extensions/{name}"),
        data,
        executable: true,
    }])
}

/// Whether a path inside the package is test code that does not belong in a layer.
fn is_test_path(relative: &Path) -> bool {
    relative.components().any(|c| {
        let s = c.as_os_str().to_string_lossy();
        s == "tests" || s == "test" || s == "__pycache__" || s == "conftest.py"
    }) || relative.file_name().is_some_and(|n| {
        let n = n.to_string_lossy();
        (n.starts_with("test_") && n.ends_with(".py")) || n.ends_with("_test.py")
    })
}

fn collect(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let relative = path.strip_prefix(root)?.to_path_buf();
        if is_test_path(&relative) {
            continue;
        }
        if entry.file_type()?.is_dir() {
            collect(&path, root, out)?;
        } else {
            out.push(relative);
        }
    }
    Ok(())
}

/// The Python library layer: the package's files under `python/<package>/` plus bytecode
/// compiled by `python` (`__pycache__/*.pyc`), tests left out. Sources are kept so other
/// Python minor versions than the compiling one still import it.
pub fn python_files(package: &Path, python: &str) -> Result<Vec<LayerFile>> {
    if !package.join("__init__.py").is_file() {
        bail!(
            "no Python package at {} (expected {}/__init__.py); the lambdascope library lives in python/src/lambdascope, or pass --python-src",
            package.display(),
            package.display()
        );
    }
    let name = package
        .file_name()
        .context("the Python package path has no name")?
        .to_string_lossy()
        .to_string();
    let staging = tempfile::tempdir()?;
    let staged_pkg = staging.path().join("python").join(&name);
    let mut relative = Vec::new();
    collect(package, package, &mut relative)?;
    for rel in &relative {
        let dest = staged_pkg.join(rel);
        std::fs::create_dir_all(dest.parent().context("no parent")?)?;
        std::fs::copy(package.join(rel), &dest)?;
    }
    let status = Command::new(python)
        .args(["-m", "compileall", "-q", "-j", "0"])
        .arg(&staged_pkg)
        .status()
        .with_context(|| format!("running {python} to compile bytecode; pass --python PATH"))?;
    if !status.success() {
        bail!(
            "{python} -m compileall failed for {}; fix the syntax errors it printed",
            package.display()
        );
    }
    let mut staged = Vec::new();
    collect_all(staging.path(), staging.path(), &mut staged)?;
    staged
        .into_iter()
        .map(|rel| {
            Ok(LayerFile {
                data: std::fs::read(staging.path().join(&rel))?,
                path: rel.to_string_lossy().replace('\\', "/"),
                executable: false,
            })
        })
        .collect()
}

fn collect_all(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect_all(&path, root, out)?;
        } else {
            out.push(path.strip_prefix(root)?.to_path_buf());
        }
    }
    Ok(())
}

/// The Rust target triple for an architecture.
pub fn target_triple(arch: Architecture) -> &'static str {
    match arch {
        Architecture::X86_64 => "x86_64-unknown-linux-gnu",
        Architecture::Arm64 => "aarch64-unknown-linux-gnu",
    }
}

/// Whether the toolchain can build for `arch` here (target installed, and a linker for cross).
pub fn toolchain_has(arch: Architecture) -> bool {
    if arch == Architecture::X86_64 && cfg!(target_arch = "x86_64") {
        return true;
    }
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(target_triple(arch)))
        .unwrap_or(false);
    let linker = Command::new("aarch64-linux-gnu-gcc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    installed && (arch == Architecture::X86_64 || linker)
}

/// Builds the extension with the `extension` profile for `arch`, statically linked unless
/// `dynamic`, and returns the binary's path.
pub fn cargo_build_extension(
    workspace: &Path,
    arch: Architecture,
    dynamic: bool,
) -> Result<PathBuf> {
    let triple = target_triple(arch);
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(workspace).args([
        "build",
        "--profile",
        "extension",
        "-p",
        "lambdascope-extension",
        "--target",
        triple,
    ]);
    if !dynamic {
        // With an explicit --target, RUSTFLAGS reach only the target crates, not build scripts.
        cmd.env("RUSTFLAGS", "-C target-feature=+crt-static");
    }
    if arch == Architecture::Arm64 {
        cmd.env(
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER",
            "aarch64-linux-gnu-gcc",
        );
    }
    let status = cmd
        .status()
        .context("running cargo to build the extension")?;
    if !status.success() {
        bail!("building lambdascope-extension for {triple} failed (see cargo's output above)");
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    Ok(target_dir
        .join(triple)
        .join("extension")
        .join("lambdascope-extension"))
}

/// The workspace root above `start` (the directory whose Cargo.toml lists crates/extension).
pub fn find_workspace(start: &Path) -> Option<PathBuf> {
    start.ancestors().find_map(|dir| {
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
        (manifest.contains("[workspace]") && dir.join("crates/extension").is_dir())
            .then(|| dir.to_path_buf())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_paths_are_left_out() {
        for p in [
            "tests/test_x.py",
            "test_a.py",
            "a_test.py",
            "sub/__pycache__/x.pyc",
            "conftest.py",
        ] {
            assert!(is_test_path(Path::new(p)), "{p}");
        }
        for p in ["handler.py", "tracing/span.py", "testing_tools.py"] {
            assert!(!is_test_path(Path::new(p)), "{p}");
        }
    }

    #[test]
    fn zips_are_reproducible() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![
            LayerFile {
                path: "extensions/lambdascope".into(),
                data: b"bin".to_vec(),
                executable: true,
            },
            LayerFile {
                path: "python/x/__init__.py".into(),
                data: b"".to_vec(),
                executable: false,
            },
        ];
        let (a, b) = (dir.path().join("a.zip"), dir.path().join("b.zip"));
        write_zip(&files, &a).unwrap();
        let mut reversed = files.clone();
        reversed.reverse();
        write_zip(&reversed, &b).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    }
}
