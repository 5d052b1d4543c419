//! Layers: directories or zips laid out like a layer zip (`python/`, `extensions/`, `bin/`, ...),
//! merged in order into one directory that becomes `/opt` (later layers override earlier ones).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::SandboxError;

/// Merges `layers` into `target` (created if missing).
pub(crate) fn merge_layers(layers: &[PathBuf], target: &Path) -> Result<(), SandboxError> {
    fs::create_dir_all(target).map_err(|e| SandboxError::io("create the /opt directory", e))?;
    for layer in layers {
        let meta = fs::metadata(layer).map_err(|_| SandboxError::BadLayer {
            path: layer.clone(),
            reason: "it does not exist".into(),
        })?;
        if meta.is_dir() {
            copy_tree(layer, target).map_err(|e| SandboxError::BadLayer {
                path: layer.clone(),
                reason: format!("copying it failed: {e}"),
            })?;
        } else if is_zip(layer) {
            extract_zip(layer, target).map_err(|e| SandboxError::BadLayer {
                path: layer.clone(),
                reason: format!("it is not a readable zip: {e}"),
            })?;
        } else {
            return Err(SandboxError::BadLayer {
                path: layer.clone(),
                reason: "it is neither a directory nor a zip file".into(),
            });
        }
    }
    Ok(())
}

fn is_zip(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    fs::File::open(path)
        .and_then(|mut f| io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && magic == *b"PK\x03\x04"
}

fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&src, &dst)?;
        } else if kind.is_symlink() {
            let _ = fs::remove_file(&dst);
            std::os::unix::fs::symlink(fs::read_link(&src)?, &dst)?;
        } else {
            let _ = fs::remove_file(&dst);
            fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

fn extract_zip(path: &Path, to: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let file = fs::File::open(path).map_err(|e| e.to_string())?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| e.to_string())?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| e.to_string())?;
        let Some(rel) = entry.enclosed_name() else {
            return Err(format!("entry {:?} escapes the layer", entry.name()));
        };
        let dst = to.join(rel);
        if entry.is_dir() {
            fs::create_dir_all(&dst).map_err(|e| e.to_string())?;
            continue;
        }
        if let Some(parent) = dst.parent() {
            fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        let _ = fs::remove_file(&dst);
        let mut out = fs::File::create(&dst).map_err(|e| e.to_string())?;
        io::copy(&mut entry, &mut out).map_err(|e| e.to_string())?;
        if let Some(mode) = entry.unix_mode() {
            fs::set_permissions(&dst, fs::Permissions::from_mode(mode & 0o7777))
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// The executables in `<opt>/extensions`, sorted by name (Lambda's launch order).
pub(crate) fn extension_executables(opt: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut names: Vec<String> = fs::read_dir(opt.join("extensions"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            fs::metadata(e.path())
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_layers_override_and_bad_layers_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        fs::create_dir_all(a.join("python")).unwrap();
        fs::create_dir_all(b.join("python")).unwrap();
        fs::write(a.join("python/m.py"), "A").unwrap();
        fs::write(a.join("python/only_a.py"), "A").unwrap();
        fs::write(b.join("python/m.py"), "B").unwrap();
        let opt = dir.path().join("opt");
        merge_layers(&[a, b], &opt).unwrap();
        assert_eq!(fs::read_to_string(opt.join("python/m.py")).unwrap(), "B");
        assert_eq!(
            fs::read_to_string(opt.join("python/only_a.py")).unwrap(),
            "A"
        );
        let text = dir.path().join("notes.txt");
        fs::write(&text, "hello").unwrap();
        let err = merge_layers(&[text], &opt).unwrap_err().to_string();
        assert!(err.contains("neither a directory nor a zip"), "{err}");
    }
}
