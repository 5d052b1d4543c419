//! Command-line flags, the JSON config file and the environment, turned into validated settings.
//!
//! Flags win over the config file, which wins over defaults. Everything is checked here, before
//! any AWS call, so a typo never leaves half the functions changed.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::plan::{ApiKeySource, InstrumentOptions, LayerFlavor};

/// Datadog sites accepted for `DATADOG_SITE`.
pub const DATADOG_SITES: [&str; 9] = [
    "datadoghq.com",
    "datadoghq.eu",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
    "uk1.datadoghq.com",
    "ddog-gov.com",
    "us2.ddog-gov.com",
];

/// A problem with the flags, config file or environment; nothing has been changed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OptionsError {
    #[error("no functions specified to {0}; use -f/--function, --functions-regex or \"functions\" in the config file")]
    NoFunctions(&'static str),
    #[error("\"--function\" and \"--functions-regex\" should not be used at the same time")]
    FunctionsAndRegex,
    #[error("\"--functions-regex\" isn't meant to be used with ARNs (it contains ':'); match on function names, or use -f with an ARN")]
    RegexWithColon,
    #[error("invalid --functions-regex: {0}")]
    InvalidRegex(String),
    #[error("invalid boolean {value:?} for --{flag}; use true or false")]
    InvalidBoolean { flag: &'static str, value: String },
    #[error("invalid {flag} {value:?}; use latest, none or a version number")]
    InvalidLayerVersion { flag: &'static str, value: String },
    #[error("invalid --layers {0:?}; use lambdascope or datadog")]
    InvalidLayers(String),
    #[error("invalid site {0:?} in DATADOG_SITE; must be one of {sites}", sites = DATADOG_SITES.join(", "))]
    InvalidSite(String),
    #[error("extra tags {0:?} do not comply with the <key>:<value>,<key>:<value> format")]
    InvalidExtraTags(String),
    #[error("{0} and {1} should not be used at the same time")]
    Conflict(&'static str, &'static str),
    #[error("config file {0} not found")]
    ConfigNotFound(String),
    #[error("config file {path} is not correct JSON: {reason}")]
    ConfigNotJson { path: String, reason: String },
    #[error("no default region specified for {0:?}; use -r/--region, AWS_DEFAULT_REGION/AWS_REGION, or a full function ARN")]
    NoRegion(String),
    #[error("--concurrency must be at least 1")]
    ZeroConcurrency,
}

/// `latest`, a number, or `none`, as for `-v`/`-e`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionSpec {
    Latest,
    Number(u32),
    None,
}

impl VersionSpec {
    pub fn parse(flag: &'static str, value: &str) -> Result<VersionSpec, OptionsError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "latest" => Ok(VersionSpec::Latest),
            "none" => Ok(VersionSpec::None),
            v => v
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .map(VersionSpec::Number)
                .ok_or_else(|| OptionsError::InvalidLayerVersion {
                    flag,
                    value: value.to_string(),
                }),
        }
    }
}

/// Which layers to attach, before the target region resolves them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerChoice {
    pub flavor: LayerFlavor,
    pub library: VersionSpec,
    pub extension: VersionSpec,
    pub library_arn: Option<String>,
    pub extension_arn: Option<String>,
}

/// The `"lambda"` object of the config file (datadog-ci's shape, plus our layer keys).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigFile {
    pub functions: Option<Vec<String>>,
    pub functions_regex: Option<String>,
    pub region: Option<String>,
    pub layer_version: Option<serde_json::Value>,
    pub extension_version: Option<serde_json::Value>,
    pub layers: Option<String>,
    pub layer_arn: Option<String>,
    pub extension_layer_arn: Option<String>,
    #[serde(rename = "layerAWSAccount")]
    pub layer_aws_account: Option<String>,
    pub tracing: Option<serde_json::Value>,
    pub merge_xray_traces: Option<serde_json::Value>,
    pub flush_metrics_to_logs: Option<serde_json::Value>,
    pub capture_lambda_payload: Option<serde_json::Value>,
    pub logging: Option<serde_json::Value>,
    pub log_level: Option<String>,
    pub service: Option<String>,
    pub version: Option<String>,
    pub environment: Option<String>,
    pub extra_tags: Option<String>,
    pub profile: Option<String>,
    pub apm_flush_deadline: Option<serde_json::Value>,
    pub interactive: Option<bool>,
}

#[derive(Deserialize)]
struct ConfigRoot {
    #[serde(default)]
    lambda: ConfigFile,
}

/// Reads `{"lambda": {...}}` from a JSON file.
pub fn read_config(path: &Path) -> Result<ConfigFile, OptionsError> {
    let text = std::fs::read_to_string(path)
        .map_err(|_| OptionsError::ConfigNotFound(path.display().to_string()))?;
    let root: ConfigRoot =
        serde_json::from_str(&text).map_err(|e| OptionsError::ConfigNotJson {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    Ok(root.lambda)
}

/// A config value that may be a JSON string, boolean or number, as text.
pub fn value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Parses `true`/`false` (any case), as datadog-ci does for its string booleans.
pub fn parse_bool(flag: &'static str, value: &str) -> Result<bool, OptionsError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(OptionsError::InvalidBoolean {
            flag,
            value: value.to_string(),
        }),
    }
}

/// Validates a site against the documented list (skipped with `DD_CI_BYPASS_SITE_VALIDATION`).
pub fn validate_site(site: &str, env: &HashMap<String, String>) -> Result<String, OptionsError> {
    let lower = site.trim().to_ascii_lowercase();
    if env.contains_key("DD_CI_BYPASS_SITE_VALIDATION") || DATADOG_SITES.contains(&lower.as_str()) {
        Ok(lower)
    } else {
        Err(OptionsError::InvalidSite(site.to_string()))
    }
}

/// Checks `--extra-tags` (`key:value,...`) and returns the tags lower-cased.
pub fn parse_extra_tags(value: &str) -> Result<Vec<String>, OptionsError> {
    let lower = value.to_ascii_lowercase();
    let mut tags = Vec::new();
    for tag in lower.split(',') {
        let valid = tag.split_once(':').is_some_and(|(key, val)| {
            let mut chars = key.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '/' | '.'))
                && !val.is_empty()
        });
        if !valid {
            return Err(OptionsError::InvalidExtraTags(value.to_string()));
        }
        tags.push(tag.to_string());
    }
    Ok(tags)
}

/// The API key source from the environment, precedence KMS > Secrets Manager > SSM > plain.
pub fn api_key_from_env(env: &HashMap<String, String>) -> Option<ApiKeySource> {
    let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
    get("DATADOG_KMS_API_KEY")
        .map(ApiKeySource::Kms)
        .or_else(|| get("DATADOG_API_KEY_SECRET_ARN").map(ApiKeySource::SecretArn))
        .or_else(|| get("DATADOG_API_KEY_SSM_ARN").map(ApiKeySource::SsmArn))
        .or_else(|| {
            get("DATADOG_API_KEY")
                .or_else(|| get("DD_API_KEY"))
                .map(ApiKeySource::Plain)
        })
}

/// Raw instrument flags after merging the config file (strings not yet validated).
#[derive(Clone, Debug, Default)]
pub struct RawInstrumentFlags {
    pub layer_version: Option<String>,
    pub extension_version: Option<String>,
    pub layers: Option<String>,
    pub layer_arn: Option<String>,
    pub extension_layer_arn: Option<String>,
    pub tracing: Option<String>,
    pub merge_xray_traces: Option<String>,
    pub flush_metrics_to_logs: Option<String>,
    pub capture_lambda_payload: Option<String>,
    pub logging: Option<String>,
    pub log_level: Option<String>,
    pub service: Option<String>,
    pub env: Option<String>,
    pub version: Option<String>,
    pub extra_tags: Option<String>,
    pub apm_flush_deadline: Option<String>,
    pub layer_account: Option<String>,
}

/// Validates instrument flags into the layer choice and the plan options (layers unresolved).
pub fn instrument_options(
    raw: &RawInstrumentFlags,
    env: &HashMap<String, String>,
) -> Result<(LayerChoice, InstrumentOptions), OptionsError> {
    let flavor = match raw
        .layers
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("lambdascope") => LayerFlavor::Lambdascope,
        Some("datadog") => LayerFlavor::Datadog,
        Some(other) => return Err(OptionsError::InvalidLayers(other.to_string())),
    };
    if raw.layer_version.is_some() && raw.layer_arn.is_some() {
        return Err(OptionsError::Conflict("-v/--layer-version", "--layer-arn"));
    }
    if raw.extension_version.is_some() && raw.extension_layer_arn.is_some() {
        return Err(OptionsError::Conflict(
            "-e/--extension-version",
            "--extension-layer-arn",
        ));
    }
    let version = |flag, v: &Option<String>| match v {
        Some(v) => VersionSpec::parse(flag, v),
        None => Ok(VersionSpec::Latest),
    };
    let choice = LayerChoice {
        flavor,
        library: version("--layer-version", &raw.layer_version)?,
        extension: version("--extension-version", &raw.extension_version)?,
        library_arn: raw.layer_arn.clone(),
        extension_arn: raw.extension_layer_arn.clone(),
    };
    let boolean = |flag, v: &Option<String>, default| match v {
        Some(v) => parse_bool(flag, v),
        None => Ok(default),
    };
    let site = match env.get("DATADOG_SITE").filter(|s| !s.is_empty()) {
        Some(site) => Some(validate_site(site, env)?),
        None => None,
    };
    let tags = match &raw.extra_tags {
        Some(t) => parse_extra_tags(t)?,
        None => Vec::new(),
    };
    let options = InstrumentOptions {
        flavor,
        site,
        api_key: api_key_from_env(env),
        tracing: boolean("tracing", &raw.tracing, true)?,
        merge_xray_traces: boolean("merge-xray-traces", &raw.merge_xray_traces, false)?,
        flush_metrics_to_logs: boolean("flush-metrics-to-logs", &raw.flush_metrics_to_logs, true)?,
        capture_lambda_payload: boolean(
            "capture-lambda-payload",
            &raw.capture_lambda_payload,
            false,
        )?,
        logging: boolean("logging", &raw.logging, true)?,
        log_level: raw.log_level.clone(),
        service: raw.service.clone(),
        env: raw.env.clone(),
        version: raw.version.clone(),
        tags,
        apm_flush_deadline: raw.apm_flush_deadline.clone(),
        datadog_account: raw.layer_account.clone(),
        ..InstrumentOptions::default()
    };
    Ok((choice, options))
}

/// How functions are selected: explicit names/ARNs or a name regex, plus a default region.
#[derive(Clone, Debug, Default)]
pub struct RawSelection {
    pub functions: Vec<String>,
    pub regex: Option<String>,
    pub region: Option<String>,
}

/// Functions to process, grouped by region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Names, partial or full ARNs, each with its region.
    Named(Vec<(String, String)>),
    /// Every function in `region` whose name matches (unanchored).
    Regex { region: String, pattern: String },
}

/// The region in a full function ARN (`arn:aws:lambda:<region>:...`), if any.
pub fn region_of_arn(identifier: &str) -> Option<String> {
    let parts: Vec<&str> = identifier.split(':').collect();
    (parts.len() >= 7 && parts[0] == "arn" && !parts[3].is_empty() && parts[3] != "*")
        .then(|| parts[3].to_string())
}

/// Validates the selection flags; `verb` is `instrument` or `remove instrumentation`.
pub fn selection(
    raw: &RawSelection,
    env: &HashMap<String, String>,
    verb: &'static str,
) -> Result<Selection, OptionsError> {
    let default_region = raw
        .region
        .clone()
        .or_else(|| env.get("AWS_DEFAULT_REGION").cloned())
        .or_else(|| env.get("AWS_REGION").cloned())
        .filter(|r| !r.is_empty());
    if let Some(pattern) = &raw.regex {
        if !raw.functions.is_empty() {
            return Err(OptionsError::FunctionsAndRegex);
        }
        if pattern.contains(':') {
            return Err(OptionsError::RegexWithColon);
        }
        regex::Regex::new(pattern).map_err(|e| OptionsError::InvalidRegex(e.to_string()))?;
        let region = default_region.ok_or_else(|| OptionsError::NoRegion(pattern.clone()))?;
        return Ok(Selection::Regex {
            region,
            pattern: pattern.clone(),
        });
    }
    if raw.functions.is_empty() {
        return Err(OptionsError::NoFunctions(verb));
    }
    let mut named = Vec::new();
    for f in &raw.functions {
        let region = region_of_arn(f)
            .or_else(|| default_region.clone())
            .ok_or_else(|| OptionsError::NoRegion(f.clone()))?;
        named.push((region, f.clone()));
    }
    Ok(Selection::Named(named))
}

#[cfg(test)]
#[path = "options_tests.rs"]
mod tests;
