//! Trace settings from `DD_*` variables, with every default in one place.
//!
//! Kept apart from the extension-wide `Config` so the trace pipeline can be built and tested
//! on its own; a bad value becomes a warning and the default, never a failed start.

use std::collections::BTreeMap;

use lambdascope_wire::triggers::{ExtractOptions, PropagationStyle, TriggerOptions};

use super::filter::{FilterError, TagFilters};
use super::obfuscate::{ObfuscationOptions, ReplaceRule};

/// `DD_CAPTURE_LAMBDA_PAYLOAD_MAX_DEPTH` default, as in Datadog's libraries.
pub const DEFAULT_CAPTURE_MAX_DEPTH: usize = 10;

/// Everything the trace pipeline reads from the environment.
#[derive(Debug, Clone)]
pub struct TraceSettings {
    /// `DD_TRACE_ENABLED` (default true).
    pub enabled: bool,
    /// `DD_SERVICE`: the `aws.lambda` service, else the function name.
    pub service: Option<String>,
    pub env: Option<String>,
    pub version: Option<String>,
    pub trigger: TriggerOptions,
    pub extract: ExtractOptions,
    /// `DD_CAPTURE_LAMBDA_PAYLOAD` and `_MAX_DEPTH`: `None` when capture is off.
    pub capture_payload_depth: Option<usize>,
    pub obfuscation: ObfuscationOptions,
    pub filters: TagFilters,
    /// `DD_MERGE_XRAY_TRACES`.
    pub merge_xray_traces: bool,
}

impl Default for TraceSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            service: None,
            env: None,
            version: None,
            trigger: TriggerOptions::default(),
            extract: ExtractOptions::default(),
            capture_payload_depth: None,
            obfuscation: ObfuscationOptions::default(),
            filters: TagFilters::default(),
            merge_xray_traces: false,
        }
    }
}

fn flag(value: Option<String>, default: bool) -> bool {
    match value.as_deref().map(|v| v.trim().to_ascii_lowercase()) {
        Some(v) if v == "true" || v == "1" => true,
        Some(v) if v == "false" || v == "0" => false,
        _ => default,
    }
}

impl TraceSettings {
    /// Reads the settings through `lookup` (the environment, or a map in tests). Returns the
    /// settings and one warning per value that was ignored.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> (Self, Vec<String>) {
        let get = |k: &str| lookup(k).or_else(|| lookup(&k.replacen("DD_", "DATADOG_", 1)));
        let mut warnings = Vec::new();
        let mut s = Self {
            enabled: flag(get("DD_TRACE_ENABLED"), true),
            service: get("DD_SERVICE").filter(|v| !v.trim().is_empty()),
            env: get("DD_ENV").filter(|v| !v.trim().is_empty()),
            version: get("DD_VERSION").filter(|v| !v.trim().is_empty()),
            merge_xray_traces: flag(get("DD_MERGE_XRAY_TRACES"), false),
            ..Self::default()
        };
        s.trigger.service_mapping = get("DD_SERVICE_MAPPING")
            .map(|v| TriggerOptions::parse_service_mapping(&v))
            .unwrap_or_else(BTreeMap::new);
        let representation = get("DD_TRACE_AWS_SERVICE_REPRESENTATION_ENABLED");
        s.trigger.aws_service_representation = flag(representation, true);
        let decode = flag(get("DD_DECODE_AUTHORIZER_CONTEXT"), true);
        s.trigger.decode_authorizer_context = decode;
        s.extract.decode_authorizer_context = decode;
        if let Some(styles) =
            get("DD_TRACE_PROPAGATION_STYLE_EXTRACT").or_else(|| get("DD_TRACE_PROPAGATION_STYLE"))
        {
            s.extract.styles = PropagationStyle::parse_list(&styles);
        }
        if flag(get("DD_CAPTURE_LAMBDA_PAYLOAD"), false) {
            let depth = match get("DD_CAPTURE_LAMBDA_PAYLOAD_MAX_DEPTH") {
                None => DEFAULT_CAPTURE_MAX_DEPTH,
                Some(v) => v.trim().parse().unwrap_or_else(|_| {
                    warnings.push(format!(
                        "DD_CAPTURE_LAMBDA_PAYLOAD_MAX_DEPTH={v:?} is not a whole number; using {DEFAULT_CAPTURE_MAX_DEPTH}"
                    ));
                    DEFAULT_CAPTURE_MAX_DEPTH
                }),
            };
            s.capture_payload_depth = Some(depth);
        }
        s.obfuscation.remove_query_string =
            flag(get("DD_APM_OBFUSCATION_HTTP_REMOVE_QUERY_STRING"), false);
        s.obfuscation.remove_paths_with_digits = flag(
            get("DD_APM_OBFUSCATION_HTTP_REMOVE_PATHS_WITH_DIGITS"),
            false,
        );
        if let Some(rules) = get("DD_APM_REPLACE_TAGS") {
            match ReplaceRule::parse_list(&rules) {
                Ok(rules) => s.obfuscation.replace_tags = rules,
                Err(e) => warnings.push(format!("DD_APM_REPLACE_TAGS ignored: {e}")),
            }
        }
        let filter_vars = [
            "DD_APM_FILTER_TAGS_REQUIRE",
            "DD_APM_FILTER_TAGS_REJECT",
            "DD_APM_FILTER_TAGS_REGEX_REQUIRE",
            "DD_APM_FILTER_TAGS_REGEX_REJECT",
        ];
        let [require, reject, regex_require, regex_reject] =
            filter_vars.map(|k| get(k).unwrap_or_default());
        match TagFilters::parse(&require, &reject, &regex_require, &regex_reject) {
            Ok(f) => s.filters = f,
            Err(FilterError::Regex { var, error }) => {
                warnings.push(format!(
                    "{var} ignored: {error}; fix the regular expression"
                ));
                // Keep the exact-match filters that did parse.
                s.filters = TagFilters::parse(&require, &reject, "", "").unwrap_or_default();
            }
        }
        (s, warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> (TraceSettings, Vec<String>) {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        TraceSettings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let (s, w) = settings(&[]);
        assert!(w.is_empty());
        assert!(
            s.enabled
                && s.trigger.aws_service_representation
                && s.trigger.decode_authorizer_context
        );
        assert_eq!(s.extract.styles, PropagationStyle::DEFAULT.to_vec());
        assert_eq!(s.capture_payload_depth, None);
    }

    #[test]
    fn reads_values_and_warns_on_bad_ones() {
        let (s, w) = settings(&[
            ("DD_SERVICE", "checkout"),
            ("DATADOG_ENV", "prod"),
            ("DD_SERVICE_MAPPING", "lambda_sqs:queues"),
            ("DD_TRACE_AWS_SERVICE_REPRESENTATION_ENABLED", "false"),
            ("DD_TRACE_PROPAGATION_STYLE_EXTRACT", "tracecontext"),
            ("DD_CAPTURE_LAMBDA_PAYLOAD", "true"),
            ("DD_CAPTURE_LAMBDA_PAYLOAD_MAX_DEPTH", "deep"),
            ("DD_APM_REPLACE_TAGS", "not json"),
            ("DD_APM_FILTER_TAGS_REGEX_REJECT", "k:("),
            ("DD_APM_FILTER_TAGS_REJECT", "env:dev"),
        ]);
        assert_eq!(s.service.as_deref(), Some("checkout"));
        assert_eq!(s.env.as_deref(), Some("prod"));
        assert_eq!(s.trigger.service_mapping["lambda_sqs"], "queues");
        assert!(!s.trigger.aws_service_representation);
        assert_eq!(s.extract.styles, vec![PropagationStyle::TraceContext]);
        assert_eq!(s.capture_payload_depth, Some(DEFAULT_CAPTURE_MAX_DEPTH));
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(!s.filters.is_empty());
    }
}
