//! Which API keys the server accepts, and the first-run default key.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::Path;

/// The generated key's file in the data directory (mode 0600).
pub const GENERATED_KEY_FILE: &str = "api-key";
/// Optional user-managed key list in the data directory, one key per line (`#` comments).
pub const KEYS_FILE: &str = "api-keys";

#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    #[error("cannot read or write the API key file {path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The set of accepted keys. `Debug` never shows them.
#[derive(Clone)]
pub struct ApiKeys {
    keys: HashSet<String>,
    primary: String,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} keys)", self.keys.len())
    }
}

impl ApiKeys {
    pub fn accepts(&self, key: &str) -> bool {
        !key.is_empty() && self.keys.contains(key.trim())
    }

    /// The first configured key (or the generated one).
    pub fn primary(&self) -> &str {
        &self.primary
    }
}

/// What [`resolve`] found; `generated` is true only on the run that created the key.
pub struct ResolvedKeys {
    pub keys: ApiKeys,
    pub generated: bool,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ApiKeyError + '_ {
    move |source| ApiKeyError::File {
        path: path.display().to_string(),
        source,
    }
}

/// Configured keys, plus `<data_dir>/api-keys`; if neither has any, the key in
/// `<data_dir>/api-key`, generating it (32 hex chars, like a Datadog key) if absent.
pub fn resolve(configured: &[String], data_dir: &Path) -> Result<ResolvedKeys, ApiKeyError> {
    let mut ordered: Vec<String> = configured
        .iter()
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty())
        .collect();
    let list = data_dir.join(KEYS_FILE);
    if list.exists() {
        let text = std::fs::read_to_string(&list).map_err(io_err(&list))?;
        ordered.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    let mut generated = false;
    if ordered.is_empty() {
        std::fs::create_dir_all(data_dir).map_err(io_err(data_dir))?;
        let file = data_dir.join(GENERATED_KEY_FILE);
        let key = match std::fs::read_to_string(&file) {
            Ok(text) if !text.trim().is_empty() => text.trim().to_owned(),
            _ => {
                let key = random_key().map_err(io_err(&file))?;
                write_private(&file, &key).map_err(io_err(&file))?;
                generated = true;
                key
            }
        };
        ordered.push(key);
    }
    let primary = ordered[0].clone();
    Ok(ResolvedKeys {
        keys: ApiKeys {
            keys: ordered.into_iter().collect(),
            primary,
        },
        generated,
    })
}

fn random_key() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn write_private(path: &Path, key: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(key.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_then_reuses_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let first = resolve(&[], dir.path()).unwrap();
        assert!(first.generated);
        assert_eq!(first.keys.primary().len(), 32);
        let second = resolve(&[], dir.path()).unwrap();
        assert!(!second.generated);
        assert_eq!(second.keys.primary(), first.keys.primary());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(GENERATED_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn configured_and_file_keys_win() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEYS_FILE), "# team keys\nfilekey\n").unwrap();
        let r = resolve(&["cfgkey".into()], dir.path()).unwrap();
        assert!(!r.generated);
        assert_eq!(r.keys.primary(), "cfgkey");
        assert!(r.keys.accepts("filekey") && r.keys.accepts("cfgkey") && !r.keys.accepts("other"));
        assert!(!dir.path().join(GENERATED_KEY_FILE).exists());
    }
}
