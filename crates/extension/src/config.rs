//! Environment → validated configuration. Every default lives here, next to the variable
//! that overrides it (docs/extension.md lists the same table).
//!
//! Parsing never fails: a value that does not parse is reported as a warning and the
//! default is kept, because a typo in one variable must not cost the user all their data.

use std::time::Duration;

use crate::flush::FlushStrategy;
use crate::logs::rules::ProcessingRules;

/// Where one signal is sent, and with which key (`None` = the resolved main key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Full URL of the intake path, e.g. `https://api.datadoghq.com/api/v2/series`.
    pub url: String,
    pub api_key: Option<String>,
}

/// How the Datadog API key is obtained. Resolved lazily on the first flush.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiKeySource {
    /// `DD_KMS_API_KEY`: a base64 KMS ciphertext.
    Kms(String),
    /// `DD_API_KEY_SECRET_ARN`: a Secrets Manager secret.
    SecretsManager(String),
    /// `DD_API_KEY_SSM_ARN`: an SSM parameter (SecureString).
    Ssm(String),
    /// `DD_API_KEY`.
    Plain(String),
    /// Nothing configured: payloads are kept and the problem logged once.
    Missing,
}

/// HTTPS proxy settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    /// `http://host:port` of the proxy.
    pub url: String,
    /// Hosts (or `.suffix`es) that bypass the proxy.
    pub no_proxy: Vec<String>,
}

/// Facts about the function, from the platform's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionInfo {
    pub name: String,
    pub version: String,
    pub memory_mb: u64,
    pub region: String,
}

/// The extension's whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub site: String,
    pub api_key: ApiKeySource,
    pub series_endpoints: Vec<Endpoint>,
    pub sketches_endpoints: Vec<Endpoint>,
    pub logs_endpoints: Vec<Endpoint>,
    /// For the trace agent (part 2); parsed now so every override is in one place.
    pub traces_endpoints: Vec<Endpoint>,
    pub proxy: Option<ProxyConfig>,
    pub log_level: tracing::Level,
    pub logs_enabled: bool,
    pub enhanced_metrics: bool,
    pub proc_enhanced_metrics: bool,
    pub flush_strategy: FlushStrategy,
    /// Upper bound for one intake request (`DD_FLUSH_TIMEOUT`, seconds).
    pub flush_timeout: Duration,
    pub processing_rules: ProcessingRules,
    pub statsd_namespace: Option<String>,
    pub dogstatsd_port: u16,
    /// Port for the Telemetry API listener; 0 picks a free one (sent in the subscription).
    pub telemetry_port: u16,
    pub env: Option<String>,
    pub service: Option<String>,
    pub version: Option<String>,
    /// `DD_TAGS` (space or comma separated `key:value`).
    pub tags: Vec<String>,
    /// Tag keys removed from custom metrics (`DD_LAMBDA_CUSTOMER_METRICS_EXCLUDE_TAGS`).
    pub exclude_tags: Vec<String>,
    /// zstd level for every payload.
    pub compression_level: i32,
    pub function: FunctionInfo,
}

pub const DEFAULT_SITE: &str = "datadoghq.com";
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_DOGSTATSD_PORT: u16 = 8125;
pub const DEFAULT_COMPRESSION_LEVEL: i32 = 3;
pub const DEFAULT_MEMORY_MB: u64 = 128;
pub const DEFAULT_REGION: &str = "us-east-1";

pub const SERIES_PATH: &str = "/api/v2/series";
pub const SKETCHES_PATH: &str = "/api/beta/sketches";
pub const LOGS_PATH: &str = "/api/v2/logs";
pub const TRACES_PATH: &str = "/api/v0.2/traces";

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> (Config, Vec<String>) {
        Config::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads variables through `lookup` (tests pass a map instead of mutating the environment).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> (Config, Vec<String>) {
        let mut warnings = Vec::new();
        let get = |key: &str| {
            lookup(key)
                .or_else(|| lookup(&key.replacen("DD_", "DATADOG_", 1)))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let flag = |key: &str, default: bool, warnings: &mut Vec<String>| match get(key) {
            None => default,
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" => false,
                _ => {
                    warnings.push(format!("{key}={v:?} is not true/false; using {default}"));
                    default
                }
            },
        };

        let site = get("DD_SITE").unwrap_or_else(|| DEFAULT_SITE.to_string());
        let api_key = if let Some(v) = get("DD_KMS_API_KEY") {
            ApiKeySource::Kms(v)
        } else if let Some(v) = get("DD_API_KEY_SECRET_ARN") {
            ApiKeySource::SecretsManager(v)
        } else if let Some(v) = get("DD_API_KEY_SSM_ARN") {
            ApiKeySource::Ssm(v)
        } else if let Some(v) = get("DD_API_KEY") {
            ApiKeySource::Plain(v)
        } else {
            ApiKeySource::Missing
        };

        let metrics_base = get("DD_DD_URL")
            .or_else(|| get("DD_URL"))
            .unwrap_or_else(|| format!("https://api.{site}"));
        let mut series_endpoints = vec![Endpoint {
            url: join_prefix(&metrics_base, SERIES_PATH),
            api_key: None,
        }];
        let mut sketches_endpoints = vec![Endpoint {
            url: join_prefix(&metrics_base, SKETCHES_PATH),
            api_key: None,
        }];
        for (base, key) in keyed_urls(
            get("DD_ADDITIONAL_ENDPOINTS"),
            "DD_ADDITIONAL_ENDPOINTS",
            &mut warnings,
        ) {
            series_endpoints.push(Endpoint {
                url: join_prefix(&base, SERIES_PATH),
                api_key: Some(key.clone()),
            });
            sketches_endpoints.push(Endpoint {
                url: join_prefix(&base, SKETCHES_PATH),
                api_key: Some(key),
            });
        }

        let logs_base = get("DD_LOGS_CONFIG_LOGS_DD_URL")
            .unwrap_or_else(|| format!("https://http-intake.logs.{site}"));
        let mut logs_endpoints = vec![Endpoint {
            url: full_or_base(&logs_base, LOGS_PATH),
            api_key: None,
        }];
        for (base, key) in
            logs_additional(get("DD_LOGS_CONFIG_ADDITIONAL_ENDPOINTS"), &mut warnings)
        {
            logs_endpoints.push(Endpoint {
                url: full_or_base(&base, LOGS_PATH),
                api_key: Some(key),
            });
        }

        let apm_base =
            get("DD_APM_DD_URL").unwrap_or_else(|| format!("https://trace.agent.{site}"));
        let mut traces_endpoints = vec![Endpoint {
            url: full_or_base(&apm_base, TRACES_PATH),
            api_key: None,
        }];
        for (base, key) in keyed_urls(
            get("DD_APM_ADDITIONAL_ENDPOINTS"),
            "DD_APM_ADDITIONAL_ENDPOINTS",
            &mut warnings,
        ) {
            traces_endpoints.push(Endpoint {
                url: full_or_base(&base, TRACES_PATH),
                api_key: Some(key),
            });
        }

        let proxy = get("DD_PROXY_HTTPS")
            .or_else(|| get("HTTPS_PROXY"))
            .or_else(|| get("https_proxy"))
            .map(|url| ProxyConfig {
                url,
                no_proxy: get("DD_PROXY_NO_PROXY")
                    .or_else(|| get("NO_PROXY"))
                    .or_else(|| get("no_proxy"))
                    .map(|v| split_list(&v))
                    .unwrap_or_default(),
            });

        let log_level = match get("DD_LOG_LEVEL").map(|v| v.to_ascii_lowercase()) {
            None => tracing::Level::INFO,
            Some(v) => match v.as_str() {
                "trace" => tracing::Level::TRACE,
                "debug" => tracing::Level::DEBUG,
                "info" => tracing::Level::INFO,
                "warn" | "warning" => tracing::Level::WARN,
                "error" | "critical" | "off" => tracing::Level::ERROR,
                _ => {
                    warnings.push(format!(
                        "DD_LOG_LEVEL={v:?} is not trace/debug/info/warn/error; using info"
                    ));
                    tracing::Level::INFO
                }
            },
        };

        // Datadog ORs the two toggles; either one set to false alone does not disable logs
        // unless the other is unset.
        let logs_enabled = match (get("DD_SERVERLESS_LOGS_ENABLED"), get("DD_LOGS_ENABLED")) {
            (None, None) => true,
            _ => {
                let serverless = get("DD_SERVERLESS_LOGS_ENABLED").is_some()
                    && flag("DD_SERVERLESS_LOGS_ENABLED", true, &mut warnings);
                let plain = get("DD_LOGS_ENABLED").is_some()
                    && flag("DD_LOGS_ENABLED", true, &mut warnings);
                serverless || plain
            }
        };

        let flush_strategy = match get("DD_SERVERLESS_FLUSH_STRATEGY") {
            None => FlushStrategy::Adaptive,
            Some(v) => FlushStrategy::parse(&v).unwrap_or_else(|err| {
                warnings.push(format!(
                    "DD_SERVERLESS_FLUSH_STRATEGY: {err}; using the adaptive default"
                ));
                FlushStrategy::Adaptive
            }),
        };

        let flush_timeout = match get("DD_FLUSH_TIMEOUT") {
            None => DEFAULT_FLUSH_TIMEOUT,
            Some(v) => match v.parse::<f64>() {
                Ok(s) if s > 0.0 && s < 3600.0 => Duration::from_secs_f64(s),
                _ => {
                    warnings.push(format!(
                        "DD_FLUSH_TIMEOUT={v:?} is not a number of seconds; using 30"
                    ));
                    DEFAULT_FLUSH_TIMEOUT
                }
            },
        };

        let processing_rules = match get("DD_LOGS_CONFIG_PROCESSING_RULES") {
            None => ProcessingRules::default(),
            Some(v) => ProcessingRules::parse(&v).unwrap_or_else(|err| {
                warnings.push(format!("DD_LOGS_CONFIG_PROCESSING_RULES ignored: {err}"));
                ProcessingRules::default()
            }),
        };

        let port = |key: &str, default: u16, warnings: &mut Vec<String>| match get(key) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                warnings.push(format!("{key}={v:?} is not a port number; using {default}"));
                default
            }),
        };
        let dogstatsd_port = port("DD_DOGSTATSD_PORT", DEFAULT_DOGSTATSD_PORT, &mut warnings);
        let telemetry_port = port("LAMBDASCOPE_TELEMETRY_PORT", 0, &mut warnings);

        let compression_level = get("DD_COMPRESSION_LEVEL")
            .and_then(|v| v.parse().ok())
            .filter(|l| (1..=19).contains(l))
            .unwrap_or(DEFAULT_COMPRESSION_LEVEL);

        let memory_mb = get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_MEMORY_MB);
        let function = FunctionInfo {
            name: get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "unknown".into()),
            version: get("AWS_LAMBDA_FUNCTION_VERSION").unwrap_or_else(|| "$LATEST".into()),
            memory_mb,
            region: get("AWS_REGION")
                .or_else(|| get("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| DEFAULT_REGION.into()),
        };

        let config = Config {
            site,
            api_key,
            series_endpoints,
            sketches_endpoints,
            logs_endpoints,
            traces_endpoints,
            proxy,
            log_level,
            logs_enabled,
            enhanced_metrics: flag("DD_ENHANCED_METRICS", true, &mut warnings),
            proc_enhanced_metrics: flag("DD_LAMBDA_PROC_ENHANCED_METRICS", true, &mut warnings),
            flush_strategy,
            flush_timeout,
            processing_rules,
            statsd_namespace: get("DD_STATSD_METRIC_NAMESPACE").map(|ns| {
                if ns.ends_with('.') {
                    ns
                } else {
                    format!("{ns}.")
                }
            }),
            dogstatsd_port,
            telemetry_port,
            env: get("DD_ENV"),
            service: get("DD_SERVICE"),
            version: get("DD_VERSION"),
            tags: get("DD_TAGS").map(|v| split_list(&v)).unwrap_or_default(),
            exclude_tags: get("DD_LAMBDA_CUSTOMER_METRICS_EXCLUDE_TAGS")
                .map(|v| split_list(&v))
                .unwrap_or_default(),
            compression_level,
            function,
        };
        (config, warnings)
    }
}

/// Splits a space- or comma-separated list.
fn split_list(value: &str) -> Vec<String> {
    value
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Adds a scheme when the user gave `host[:port]` only (https unless the port says http).
fn with_scheme(url: &str) -> String {
    if url.contains("://") {
        url.trim_end_matches('/').to_string()
    } else if url.ends_with(":80") {
        format!("http://{url}")
    } else {
        format!("https://{}", url.trim_end_matches('/'))
    }
}

/// Splits `scheme://authority/path` into (`scheme://authority`, `/path` or "").
fn split_path(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(i) => url.split_at(after_scheme + i),
        None => (url, ""),
    }
}

/// Metrics overrides carry two paths (series and sketches), so any path the user gave is a prefix.
pub fn join_prefix(base: &str, path: &str) -> String {
    let url = with_scheme(base);
    format!("{url}{path}")
}

/// A base URL gets the standard path; a URL that already has a path is used as it is.
pub fn full_or_base(value: &str, path: &str) -> String {
    let url = with_scheme(value);
    let (_, existing) = split_path(&url);
    if existing.is_empty() || existing == "/" {
        format!("{}{path}", url.trim_end_matches('/'))
    } else {
        url
    }
}

/// `{"https://url": ["key1", "key2"]}` → one (url, key) per key.
fn keyed_urls(
    value: Option<String>,
    name: &str,
    warnings: &mut Vec<String>,
) -> Vec<(String, String)> {
    let Some(value) = value else {
        return Vec::new();
    };
    match serde_json::from_str::<std::collections::BTreeMap<String, Vec<String>>>(&value) {
        Ok(map) => map
            .into_iter()
            .flat_map(|(url, keys)| keys.into_iter().map(move |k| (url.clone(), k)))
            .collect(),
        Err(err) => {
            warnings.push(format!(
                "{name} ignored: expected {{\"https://host\": [\"api key\"]}}: {err}"
            ));
            Vec::new()
        }
    }
}

/// `[{"api_key": "...", "Host": "...", "Port": 443, "is_reliable": true}]` → (url, key).
fn logs_additional(value: Option<String>, warnings: &mut Vec<String>) -> Vec<(String, String)> {
    #[derive(serde::Deserialize)]
    struct LogsEndpoint {
        api_key: String,
        #[serde(alias = "host", alias = "Host")]
        host: String,
        #[serde(default, alias = "port", alias = "Port")]
        port: Option<u16>,
    }
    let Some(value) = value else {
        return Vec::new();
    };
    match serde_json::from_str::<Vec<LogsEndpoint>>(&value) {
        Ok(list) => list
            .into_iter()
            .map(|e| {
                let host = match e.port {
                    Some(443) | None => e.host,
                    Some(port) => format!("{}:{port}", e.host),
                };
                (host, e.api_key)
            })
            .collect(),
        Err(err) => {
            warnings.push(format!(
                "DD_LOGS_CONFIG_ADDITIONAL_ENDPOINTS ignored: expected [{{\"api_key\":..,\"Host\":..,\"Port\":443}}]: {err}"
            ));
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> (Config, Vec<String>) {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_point_at_datadog_us1() {
        let (c, warnings) = config(&[]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            c.series_endpoints[0].url,
            "https://api.datadoghq.com/api/v2/series"
        );
        assert_eq!(
            c.sketches_endpoints[0].url,
            "https://api.datadoghq.com/api/beta/sketches"
        );
        assert_eq!(
            c.logs_endpoints[0].url,
            "https://http-intake.logs.datadoghq.com/api/v2/logs"
        );
        assert_eq!(
            c.traces_endpoints[0].url,
            "https://trace.agent.datadoghq.com/api/v0.2/traces"
        );
        assert_eq!(c.api_key, ApiKeySource::Missing);
        assert!(c.logs_enabled && c.enhanced_metrics);
        assert_eq!(c.flush_strategy, FlushStrategy::Adaptive);
        assert_eq!(c.flush_timeout, Duration::from_secs(30));
        assert_eq!(c.function.region, "us-east-1");
    }

    #[test]
    fn site_and_url_overrides_take_base_or_full_urls() {
        let (c, _) = config(&[
            ("DD_SITE", "datadoghq.eu"),
            ("DD_DD_URL", "http://127.0.0.1:9000"),
            (
                "DD_LOGS_CONFIG_LOGS_DD_URL",
                "http://127.0.0.1:9000/custom/logs",
            ),
        ]);
        assert_eq!(
            c.series_endpoints[0].url,
            "http://127.0.0.1:9000/api/v2/series"
        );
        assert_eq!(
            c.sketches_endpoints[0].url,
            "http://127.0.0.1:9000/api/beta/sketches"
        );
        assert_eq!(c.logs_endpoints[0].url, "http://127.0.0.1:9000/custom/logs");
        assert_eq!(
            c.traces_endpoints[0].url,
            "https://trace.agent.datadoghq.eu/api/v0.2/traces"
        );
        let (c, _) = config(&[(
            "DD_LOGS_CONFIG_LOGS_DD_URL",
            "agent-http-intake.logs.datadoghq.com:443",
        )]);
        assert_eq!(
            c.logs_endpoints[0].url,
            "https://agent-http-intake.logs.datadoghq.com:443/api/v2/logs"
        );
    }

    #[test]
    fn additional_endpoints_multiship_with_their_own_keys() {
        let (c, warnings) = config(&[
            (
                "DD_ADDITIONAL_ENDPOINTS",
                r#"{"https://app.datadoghq.eu": ["k1", "k2"]}"#,
            ),
            (
                "DD_LOGS_CONFIG_ADDITIONAL_ENDPOINTS",
                r#"[{"api_key":"k3","Host":"logs.example.com","Port":8443,"is_reliable":true}]"#,
            ),
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(c.series_endpoints.len(), 3);
        assert_eq!(c.series_endpoints[2].api_key.as_deref(), Some("k2"));
        assert_eq!(
            c.logs_endpoints[1].url,
            "https://logs.example.com:8443/api/v2/logs"
        );
        assert_eq!(c.logs_endpoints[1].api_key.as_deref(), Some("k3"));
    }

    #[test]
    fn key_sources_follow_datadog_priority() {
        let (c, _) = config(&[
            ("DD_API_KEY", "plain"),
            ("DD_API_KEY_SECRET_ARN", "arn:secret"),
        ]);
        assert_eq!(c.api_key, ApiKeySource::SecretsManager("arn:secret".into()));
        let (c, _) = config(&[("DD_KMS_API_KEY", "blob"), ("DD_API_KEY_SSM_ARN", "p")]);
        assert_eq!(c.api_key, ApiKeySource::Kms("blob".into()));
    }

    #[test]
    fn bad_values_warn_and_keep_defaults() {
        let (c, warnings) = config(&[
            ("DD_FLUSH_TIMEOUT", "soon"),
            ("DD_ENHANCED_METRICS", "maybe"),
            ("DD_SERVERLESS_FLUSH_STRATEGY", "sometimes"),
            ("DD_ADDITIONAL_ENDPOINTS", "not json"),
        ]);
        assert_eq!(warnings.len(), 4, "{warnings:?}");
        assert!(c.enhanced_metrics);
        assert_eq!(c.flush_strategy, FlushStrategy::Adaptive);
    }

    #[test]
    fn logs_toggles_and_tags() {
        let (c, _) = config(&[("DD_SERVERLESS_LOGS_ENABLED", "false")]);
        assert!(!c.logs_enabled);
        let (c, _) = config(&[
            ("DD_LOGS_ENABLED", "false"),
            ("DD_SERVERLESS_LOGS_ENABLED", "true"),
        ]);
        assert!(c.logs_enabled);
        let (c, _) = config(&[
            ("DD_TAGS", "team:a, tier:1 owner:me"),
            ("DD_STATSD_METRIC_NAMESPACE", "myapp"),
            ("DATADOG_ENV", "prod"),
        ]);
        assert_eq!(c.tags, vec!["team:a", "tier:1", "owner:me"]);
        assert_eq!(c.statsd_namespace.as_deref(), Some("myapp."));
        assert_eq!(c.env.as_deref(), Some("prod"));
    }
}
