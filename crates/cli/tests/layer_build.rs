//! `lambdascope layer build`: the zips' file trees, the --dir tree, the drop-in extension name,
//! and refusals (binary too new for Amazon Linux 2, missing Python package).

mod instrument_support;

use std::io::Read;
use std::path::Path;
use std::process::Command;

use instrument_support::*;

fn lambdascope(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lambdascope"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// (path, unix mode) of every entry in a zip.
fn entries(zip: &Path) -> Vec<(String, u32)> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let f = archive.by_index(i).unwrap();
        out.push((f.name().to_string(), f.unix_mode().unwrap_or(0) & 0o777));
    }
    out
}

fn read_entry(zip: &Path, name: &str) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let mut f = archive.by_name(name).unwrap();
    let mut data = Vec::new();
    f.read_to_end(&mut data).unwrap();
    data
}

#[test]
fn builds_both_layers_and_the_dir_tree() {
    let dir = tempfile::tempdir().unwrap();
    let binary = static_binary(dir.path());
    let package = fixture_package(dir.path());
    let python = python();
    let out = lambdascope(
        dir.path(),
        &[
            "layer",
            "build",
            "--out",
            "zips",
            "--dir",
            "tree",
            "--arch",
            "x86_64",
            "--extension-binary",
            binary.to_str().unwrap(),
            "--python-src",
            package.to_str().unwrap(),
            "--python",
            python.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let ext = dir.path().join("zips/lambdascope-extension-x86_64.zip");
    assert_eq!(
        entries(&ext),
        vec![
            ("extensions/".to_string(), 0o755),
            ("extensions/lambdascope".to_string(), 0o755)
        ]
    );
    assert_eq!(
        read_entry(&ext, "extensions/lambdascope"),
        std::fs::read(&binary).unwrap()
    );

    let py = dir.path().join("zips/lambdascope-python.zip");
    let names: Vec<String> = entries(&py).into_iter().map(|(n, _)| n).collect();
    assert!(
        names.contains(&"python/lambdascope/__init__.py".to_string()),
        "{names:?}"
    );
    assert!(names.contains(&"python/lambdascope/handler.py".to_string()));
    assert!(
        names.iter().any(
            |n| n.starts_with("python/lambdascope/__pycache__/handler.cpython-")
                && n.ends_with(".pyc")
        ),
        "no bytecode: {names:?}"
    );
    assert!(
        !names.iter().any(|n| n.contains("tests")),
        "tests shipped: {names:?}"
    );

    // The --dir tree is the same files, ready for `COPY tree/ /opt/`.
    let tree = dir.path().join("tree");
    assert!(tree.join("extensions/lambdascope").is_file());
    assert!(tree.join("python/lambdascope/handler.py").is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(tree.join("extensions/lambdascope"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "extension is not executable");
    }
    // The packaged binary runs.
    let run = Command::new(tree.join("extensions/lambdascope"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "ext");

    // Building again gives the same extension zip byte for byte.
    let again = lambdascope(
        dir.path(),
        &[
            "layer",
            "build",
            "--out",
            "zips2",
            "--arch",
            "x86_64",
            "--skip-python",
            "--extension-binary",
            binary.to_str().unwrap(),
        ],
    );
    assert!(again.status.success());
    assert_eq!(
        std::fs::read(&ext).unwrap(),
        std::fs::read(dir.path().join("zips2/lambdascope-extension-x86_64.zip")).unwrap()
    );
}

#[test]
fn drop_in_extension_name_for_datadog_libraries() {
    let dir = tempfile::tempdir().unwrap();
    let binary = static_binary(dir.path());
    let out = lambdascope(
        dir.path(),
        &[
            "layer",
            "build",
            "--out",
            "zips",
            "--arch",
            "x86_64",
            "--skip-python",
            "--extension-name",
            "datadog-agent",
            "--extension-binary",
            binary.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<String> = entries(&dir.path().join("zips/lambdascope-extension-x86_64.zip"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, vec!["extensions/", "extensions/datadog-agent"]);
}

#[test]
fn refuses_a_binary_that_needs_a_newer_glibc() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("d.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\nint main(void){puts(\"d\");return 0;}\n",
    )
    .unwrap();
    let dynamic = dir.path().join("dynamic-ext");
    assert!(Command::new("cc")
        .arg("-o")
        .arg(&dynamic)
        .arg(&src)
        .status()
        .unwrap()
        .success());
    let out = lambdascope(
        dir.path(),
        &[
            "layer",
            "build",
            "--out",
            "zips",
            "--arch",
            "x86_64",
            "--skip-python",
            "--extension-binary",
            dynamic.to_str().unwrap(),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    // This machine's glibc is newer than 2.26, so any dynamic binary linked here needs more.
    assert!(!out.status.success());
    assert!(err.contains("but Amazon Linux 2 has glibc 2.26"), "{err}");
    assert!(err.contains("crt-static"), "{err}");
    assert!(!dir
        .path()
        .join("zips/lambdascope-extension-x86_64.zip")
        .exists());

    // A script is not an extension binary.
    let script = dir.path().join("script");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let out = lambdascope(
        dir.path(),
        &[
            "layer",
            "build",
            "--out",
            "zips",
            "--arch",
            "x86_64",
            "--skip-python",
            "--extension-binary",
            script.to_str().unwrap(),
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a 64-bit ELF executable"));

    // An x86_64 binary is not an arm64 extension.
    let binary = static_binary(dir.path());
    let out = lambdascope(
        dir.path(),
        &[
            "layer",
            "build",
            "--out",
            "zips",
            "--arch",
            "arm64",
            "--skip-python",
            "--extension-binary-arm64",
            binary.to_str().unwrap(),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is built for x86_64, but the layer is for arm64"),
        "{err}"
    );
}

#[test]
fn missing_python_package_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = lambdascope(
        dir.path(),
        &[
            "layer",
            "build",
            "--out",
            "zips",
            "--skip-extension",
            "--python-src",
            "python/src/lambdascope",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no Python package at python/src/lambdascope"),
        "{err}"
    );
}

#[test]
fn publish_without_zips_says_to_build_first() {
    let dir = tempfile::tempdir().unwrap();
    let out = lambdascope(
        dir.path(),
        &["layer", "publish", "-r", "us-east-1", "--from", "nothing"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `lambdascope layer build` first"));
}
