//! Which spans and traces are not shipped: traces whose root fails the
//! `DD_APM_FILTER_TAGS_*` filters, and spans of the function talking to the extension or the
//! Lambda runtime itself (noise the user did not write and cannot act on).

use lambdascope_wire::agent_payload::Span;
use regex_lite::Regex;

#[derive(Debug, Clone)]
enum ValueMatch {
    /// `key`: the tag must be present.
    Present,
    /// `key:value`: exact value.
    Exact(String),
    /// `key:regex` in the `_REGEX_` variants.
    Regex(Regex),
}

#[derive(Debug, Clone)]
struct TagFilter {
    key: String,
    value: ValueMatch,
}

impl TagFilter {
    fn matches(&self, span: &Span) -> bool {
        let Some(v) = span.meta.get(&self.key) else {
            return false;
        };
        match &self.value {
            ValueMatch::Present => true,
            ValueMatch::Exact(want) => v == want,
            ValueMatch::Regex(re) => re.is_match(v),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("{var} has an invalid regular expression: {error}")]
    Regex { var: &'static str, error: String },
}

/// Root-span tag filters: every `require` must match and no `reject` may.
#[derive(Debug, Clone, Default)]
pub struct TagFilters {
    require: Vec<TagFilter>,
    reject: Vec<TagFilter>,
}

/// Entries are space-separated `key:value` (or `key`), or a JSON list of such strings.
fn entries(value: &str) -> Vec<String> {
    let value = value.trim();
    if value.starts_with('[') {
        if let Ok(list) = serde_json::from_str::<Vec<String>>(value) {
            return list;
        }
    }
    value.split_whitespace().map(str::to_string).collect()
}

fn parse_filters(
    value: &str,
    regex: bool,
    var: &'static str,
) -> Result<Vec<TagFilter>, FilterError> {
    entries(value)
        .into_iter()
        .filter(|e| !e.trim().is_empty())
        .map(|entry| {
            let (key, value) = match entry.split_once(':') {
                Some((k, v)) => (k.trim().to_string(), Some(v.trim().to_string())),
                None => (entry.trim().to_string(), None),
            };
            let value = match value {
                None => ValueMatch::Present,
                Some(v) if regex => {
                    ValueMatch::Regex(Regex::new(&v).map_err(|e| FilterError::Regex {
                        var,
                        error: format!("{v:?}: {e}"),
                    })?)
                }
                Some(v) => ValueMatch::Exact(v),
            };
            Ok(TagFilter { key, value })
        })
        .collect()
}

impl TagFilters {
    /// Parses the four `DD_APM_FILTER_TAGS_*` values (empty strings for unset).
    pub fn parse(
        require: &str,
        reject: &str,
        regex_require: &str,
        regex_reject: &str,
    ) -> Result<Self, FilterError> {
        let mut filters = Self {
            require: parse_filters(require, false, "DD_APM_FILTER_TAGS_REQUIRE")?,
            reject: parse_filters(reject, false, "DD_APM_FILTER_TAGS_REJECT")?,
        };
        filters.require.extend(parse_filters(
            regex_require,
            true,
            "DD_APM_FILTER_TAGS_REGEX_REQUIRE",
        )?);
        filters.reject.extend(parse_filters(
            regex_reject,
            true,
            "DD_APM_FILTER_TAGS_REGEX_REJECT",
        )?);
        Ok(filters)
    }

    pub fn is_empty(&self) -> bool {
        self.require.is_empty() && self.reject.is_empty()
    }

    /// Whether a trace with this root span is kept.
    pub fn keeps(&self, root: &Span) -> bool {
        self.require.iter().all(|f| f.matches(root)) && !self.reject.iter().any(|f| f.matches(root))
    }
}

/// The ports the extension and the Lambda runtime listen on inside the sandbox.
const OWN_PORTS: [u16; 4] = [8124, 8125, 8126, 9001];
const LOCAL_HOSTS: [&str; 3] = ["127.0.0.1", "localhost", "0.0.0.0"];
/// The X-Ray daemon address the runtime talks to.
const XRAY_DAEMON: &str = "169.254.79.129";
/// A placeholder span some tracers emit in serverless mode.
const PLACEHOLDER_SPAN: &str = "dd-tracer-serverless-span";

/// True for spans of calls to the extension's own ports, the Runtime API, or the X-Ray
/// daemon, and for tracer placeholder spans.
pub fn is_infrastructure_span(span: &Span) -> bool {
    if span.name == PLACEHOLDER_SPAN || span.resource == PLACEHOLDER_SPAN {
        return true;
    }
    if let Some(url) = span.meta.get("http.url") {
        let authority = url
            .split_once("://")
            .map_or(url.as_str(), |(_, rest)| rest)
            .split(['/', '?', '#'])
            .next()
            .unwrap_or("");
        if let Some((host, port)) = authority.rsplit_once(':') {
            if LOCAL_HOSTS.contains(&host)
                && port.parse().is_ok_and(|p: u16| OWN_PORTS.contains(&p))
            {
                return true;
            }
        }
        if authority.split(':').next() == Some(XRAY_DAEMON) {
            return true;
        }
    }
    let host = span
        .meta
        .get("out.host")
        .or_else(|| span.meta.get("network.destination.name"));
    let port = span
        .meta
        .get("network.destination.port")
        .or_else(|| span.meta.get("out.port"))
        .and_then(|p| p.parse::<u16>().ok())
        .or_else(|| {
            span.metrics
                .get("network.destination.port")
                .map(|p| *p as u16)
        });
    match (host.map(String::as_str), port) {
        (Some(h), Some(p)) if LOCAL_HOSTS.contains(&h) && OWN_PORTS.contains(&p) => true,
        (Some(XRAY_DAEMON), _) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(meta: &[(&str, &str)]) -> Span {
        Span {
            meta: meta
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn require_and_reject() {
        let f = TagFilters::parse("env:prod team", "http.url:/health", "", "").unwrap();
        assert!(f.keeps(&span(&[("env", "prod"), ("team", "a")])));
        assert!(!f.keeps(&span(&[("env", "dev"), ("team", "a")])));
        assert!(!f.keeps(&span(&[("env", "prod")])));
        assert!(!f.keeps(&span(&[
            ("env", "prod"),
            ("team", "a"),
            ("http.url", "/health")
        ])));
        assert!(TagFilters::default().keeps(&span(&[])));
    }

    #[test]
    fn regex_variants_and_json_lists() {
        let f = TagFilters::parse(r#"["env:prod"]"#, "", "", r"http.url:.*/health(z)?$").unwrap();
        assert!(f.keeps(&span(&[("env", "prod"), ("http.url", "https://x/orders")])));
        assert!(!f.keeps(&span(&[("env", "prod"), ("http.url", "https://x/healthz")])));
        let err = TagFilters::parse("", "", "k:(", "").unwrap_err();
        assert!(err.to_string().contains("DD_APM_FILTER_TAGS_REGEX_REQUIRE"));
    }

    #[test]
    fn infrastructure_spans() {
        for meta in [
            vec![("http.url", "http://127.0.0.1:8124/lambda/end-invocation")],
            vec![("http.url", "http://localhost:8126/v0.4/traces")],
            vec![(
                "http.url",
                "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
            )],
            vec![
                ("out.host", "127.0.0.1"),
                ("network.destination.port", "8125"),
            ],
            vec![("out.host", "169.254.79.129")],
        ] {
            assert!(is_infrastructure_span(&span(&meta)), "{meta:?}");
        }
        for meta in [
            vec![("http.url", "http://127.0.0.1:8080/app")],
            vec![("http.url", "https://api.example.com:8124/x")],
            vec![
                ("out.host", "db.internal"),
                ("network.destination.port", "8125"),
            ],
        ] {
            assert!(!is_infrastructure_span(&span(&meta)), "{meta:?}");
        }
        let placeholder = Span {
            name: "dd-tracer-serverless-span".into(),
            ..Default::default()
        };
        assert!(is_infrastructure_span(&placeholder));
    }
}
