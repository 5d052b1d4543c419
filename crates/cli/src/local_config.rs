//! Function definitions for `invoke` and `local serve`: command-line flags or a TOML file, checked
//! up front so that bad input gets one clear line.
//!
//! ```toml
//! port = 3001                      # optional, `local serve` only
//!
//! [[function]]
//! name = "hello"
//! code = "examples/hello"          # relative to this file
//! handler = "handler.lambda_handler"
//! runtime = "python3.12"           # default python3.11
//! memory = 256                     # MB, default 128
//! timeout = 10                     # seconds, default 3
//! layers = ["build/layer.zip"]     # directories or zips, merged at /opt in order
//! host_ports = [8080]              # host loopback ports reachable as host.lambdascope.internal
//! [function.env]
//! DD_SITE = "datadoghq.com"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use lambdascope_sandbox::{FunctionConfig, Isolation};
use serde::Deserialize;

/// A `local serve` configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub port: Option<u16>,
    #[serde(default, rename = "function")]
    pub functions: Vec<FunctionDef>,
}

/// One function, as flags or a `[[function]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionDef {
    pub name: String,
    pub code: PathBuf,
    pub handler: String,
    pub runtime: Option<String>,
    pub memory: Option<u32>,
    /// Seconds.
    pub timeout: Option<f64>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub layers: Vec<PathBuf>,
    #[serde(default)]
    pub host_ports: Vec<u16>,
    pub isolation: Option<String>,
}

/// Reads a TOML file; relative paths in it are relative to the file.
pub fn read_config_file(path: &Path) -> anyhow::Result<ConfigFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let mut file: ConfigFile = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("config file {}: {}", path.display(), e.message()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    for def in &mut file.functions {
        def.code = base.join(&def.code);
        for layer in &mut def.layers {
            *layer = base.join(&*layer);
        }
    }
    Ok(file)
}

/// `K=V` for `--env`.
pub fn parse_env_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

/// Turns a definition into a sandbox configuration, checking everything a user can get wrong.
pub fn build_config(def: &FunctionDef, isolation: Option<&str>) -> anyhow::Result<FunctionConfig> {
    if !def.code.is_dir() {
        bail!(
            "code directory {} does not exist (pass --code DIR with your handler's module)",
            def.code.display()
        );
    }
    let mut config = FunctionConfig::new(def.name.clone(), def.code.clone(), def.handler.clone());
    if let Some(runtime) = &def.runtime {
        config.runtime = runtime.clone();
    }
    if let Some(memory) = def.memory {
        config.memory_mb = memory;
    }
    if let Some(timeout) = def.timeout {
        if !(timeout > 0.0 && timeout <= 900.0) {
            bail!("timeout {timeout} s is outside Lambda's 1..900 s");
        }
        config.timeout = Duration::from_secs_f64(timeout);
    }
    config.env = def.env.clone();
    config.layers = def.layers.clone();
    config.host_ports = def.host_ports.clone();
    if let Some(text) = isolation.or(def.isolation.as_deref()) {
        config.isolation = Isolation::parse(text)
            .with_context(|| format!("unknown isolation {text:?}: use auto, namespaces or host"))?;
    }
    for layer in &config.layers {
        check_layer(layer)?;
    }
    check_handler_module(&config)?;
    Ok(config)
}

fn check_layer(layer: &Path) -> anyhow::Result<()> {
    let meta = std::fs::metadata(layer)
        .with_context(|| format!("layer {} does not exist", layer.display()))?;
    if meta.is_dir() {
        return Ok(());
    }
    let mut magic = [0u8; 4];
    let is_zip = std::fs::File::open(layer)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && magic == *b"PK\x03\x04";
    if !is_zip {
        bail!(
            "layer {} is neither a directory nor a zip file",
            layer.display()
        );
    }
    Ok(())
}

/// Fails when the handler's module is in neither the code nor a layer directory's `python/`
/// (zip layers are not searched: the runtime reports a missing module there).
fn check_handler_module(config: &FunctionConfig) -> anyhow::Result<()> {
    let Some((module, function)) = config.handler.rsplit_once('.') else {
        bail!(
            "handler {:?} must look like MODULE.FUNCTION (e.g. handler.lambda_handler)",
            config.handler
        );
    };
    if module.is_empty() || function.is_empty() {
        bail!(
            "handler {:?} must look like MODULE.FUNCTION (e.g. handler.lambda_handler)",
            config.handler
        );
    }
    let rel = module.replace('.', "/");
    let mut roots = vec![config.code_dir.clone()];
    let mut has_zip = false;
    for layer in &config.layers {
        if layer.is_dir() {
            roots.push(layer.join("python"));
            if let Ok(entries) = std::fs::read_dir(layer.join("python/lib")) {
                roots.extend(entries.flatten().map(|e| e.path().join("site-packages")));
            }
        } else {
            has_zip = true;
        }
    }
    let found = roots.iter().any(|root| {
        root.join(format!("{rel}.py")).is_file()
            || root.join(&rel).join("__init__.py").is_file()
            || root.join(&rel).is_dir()
    });
    if !found && !has_zip {
        bail!(
            "handler module {module:?} not found: no {rel}.py or {rel}/__init__.py in {}",
            config.code_dir.display()
        );
    }
    Ok(())
}
