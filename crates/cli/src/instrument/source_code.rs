//! Source-code integration: `git.commit.sha` and `git.repository_url` tags from the local
//! checkout, so errors in traces link to the code that was deployed.
//!
//! Never fatal: CI checkouts are often dirty or detached, and datadog-ci failing on that was a
//! top complaint. Problems come back as warnings and the tags are added when they can be read.

use std::path::Path;
use std::process::Command;

/// Tags read from git, and warnings to show the user.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SourceCodeTags {
    pub tags: Vec<String>,
    pub warnings: Vec<String>,
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Removes credentials from a remote URL (`https://user:token@host/x` → `https://host/x`).
pub fn strip_credentials(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((userinfo, host)) = rest.split_once('@') {
            if !userinfo.contains('/') {
                return format!("{scheme}://{host}");
            }
        }
    }
    url.to_string()
}

/// Reads the commit and remote of the repository containing `dir`.
pub fn read(dir: &Path) -> SourceCodeTags {
    let mut result = SourceCodeTags::default();
    let Some(sha) = git(dir, &["rev-parse", "HEAD"]).filter(|s| !s.is_empty()) else {
        result.warnings.push(format!(
            "source code integration: {} is not in a git repository with a commit; no git tags added",
            dir.display()
        ));
        return result;
    };
    if git(dir, &["status", "--porcelain"]).is_some_and(|s| !s.is_empty()) {
        result.warnings.push(
            "source code integration: the git repository has uncommitted changes; the commit tag may not match the deployed code"
                .to_string(),
        );
    }
    result.tags.push(format!("git.commit.sha:{sha}"));
    match git(dir, &["config", "--get", "remote.origin.url"]).filter(|s| !s.is_empty()) {
        Some(url) => result
            .tags
            .push(format!("git.repository_url:{}", strip_credentials(&url))),
        None => result.warnings.push(
            "source code integration: no `origin` remote; only git.commit.sha is added".to_string(),
        ),
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_credentials() {
        assert_eq!(
            strip_credentials("https://user:tok@github.com/a/b.git"),
            "https://github.com/a/b.git"
        );
        assert_eq!(
            strip_credentials("git@github.com:a/b.git"),
            "git@github.com:a/b.git"
        );
    }

    #[test]
    fn missing_repository_is_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let tags = read(dir.path());
        assert!(tags.tags.is_empty());
        assert_eq!(tags.warnings.len(), 1);
    }

    #[test]
    fn reads_commit_remote_and_dirty_state() {
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| {
            assert!(Command::new("git")
                .args(args)
                .current_dir(dir.path())
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@t")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@t")
                .output()
                .unwrap()
                .status
                .success());
        };
        run(&["init", "-q"]);
        std::fs::write(dir.path().join("a"), "1").unwrap();
        run(&["add", "a"]);
        run(&["commit", "-q", "-m", "x"]);
        run(&["remote", "add", "origin", "https://u:p@example.com/r.git"]);
        let clean = read(dir.path());
        assert!(clean.warnings.is_empty(), "{:?}", clean.warnings);
        assert!(clean.tags[0].starts_with("git.commit.sha:"));
        assert_eq!(
            clean.tags[1],
            "git.repository_url:https://example.com/r.git"
        );
        std::fs::write(dir.path().join("a"), "2").unwrap();
        let dirty = read(dir.path());
        assert_eq!(dirty.tags.len(), 2);
        assert!(dirty.warnings[0].contains("uncommitted"));
    }
}
