//! Human-readable diff of a [`FunctionPlan`], with secrets masked.
//!
//! `--dry-run` and the interactive confirmation print this instead of raw request JSON: a user
//! reviewing a change wants to see what moves, not the whole environment.

use std::fmt::Write as _;

use super::plan::FunctionPlan;

/// Variables whose values are not secret and are shown as they are.
const SHOWN_VARIABLES: [&str; 13] = [
    "DD_API_KEY_SECRET_ARN",
    "DD_API_KEY_SSM_ARN",
    "DD_KMS_API_KEY",
    "DD_ENV",
    "DD_TAGS",
    "DD_LAMBDA_HANDLER",
    "DD_LOG_LEVEL",
    "DD_SERVICE",
    "DD_SITE",
    "DD_VERSION",
    "DD_TRACE_ENABLED",
    "DD_MERGE_XRAY_TRACES",
    "AWS_LAMBDA_EXEC_WRAPPER",
];

/// Masks a value unless its variable is known to be harmless: booleans and numbers are shown,
/// short values become 16 `*`, longer ones keep their first 2 and last 4 characters.
pub fn mask_value(key: &str, value: &str) -> String {
    if SHOWN_VARIABLES.contains(&key) {
        return value.to_string();
    }
    if value.is_empty() {
        return "<empty>".to_string();
    }
    if value == "true" || value == "false" || value.parse::<f64>().is_ok() {
        return value.to_string();
    }
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < 12 {
        return "*".repeat(16);
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(10))
}

/// Renders the changes of one plan; an unchanged function renders as `(no changes)`.
pub fn render(plan: &FunctionPlan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", plan.arn);
    if plan.is_noop() {
        let _ = writeln!(out, "  (no changes)");
        return out;
    }
    let (before, after) = (&plan.before, &plan.after);
    if before.handler != after.handler {
        let _ = writeln!(out, "  Handler: {} -> {}", before.handler, after.handler);
    }
    for (key, value) in &after.env {
        match before.env.get(key) {
            None => {
                let _ = writeln!(out, "  + {key}={}", mask_value(key, value));
            }
            Some(old) if old != value => {
                let _ = writeln!(
                    out,
                    "  ~ {key}: {} -> {}",
                    mask_value(key, old),
                    mask_value(key, value)
                );
            }
            Some(_) => {}
        }
    }
    for (key, value) in &before.env {
        if !after.env.contains_key(key) {
            let _ = writeln!(out, "  - {key}={}", mask_value(key, value));
        }
    }
    if before.layers != after.layers {
        let _ = writeln!(out, "  Layers:");
        for layer in &before.layers {
            if !after.layers.contains(layer) {
                let _ = writeln!(out, "  - {layer}");
            }
        }
        for layer in &after.layers {
            if !before.layers.contains(layer) {
                let _ = writeln!(out, "  + {layer}");
            }
        }
    }
    for (key, value) in &plan.tags_to_set {
        let _ = writeln!(out, "  + tag {key}={value}");
    }
    for key in &plan.tags_to_remove {
        let _ = writeln!(out, "  - tag {key}");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::plan::Settings;

    #[test]
    fn masks_secrets_like_datadog_ci() {
        assert_eq!(
            mask_value("DD_API_KEY", "0123456789abcdef0123456789abcdef"),
            "01**********cdef"
        );
        assert_eq!(mask_value("MY_VAR", "short"), "****************");
        assert_eq!(mask_value("MY_VAR", "true"), "true");
        assert_eq!(mask_value("MY_VAR", "42"), "42");
        assert_eq!(mask_value("MY_VAR", ""), "<empty>");
        assert_eq!(mask_value("DD_SITE", "datadoghq.eu"), "datadoghq.eu");
    }

    #[test]
    fn renders_each_kind_of_change() {
        let plan = FunctionPlan {
            arn: "arn:fn".into(),
            before: Settings {
                handler: "app.handler".into(),
                env: BTreeMap::from([
                    ("OLD".to_string(), "1".to_string()),
                    ("DD_LOG_LEVEL".to_string(), "debug".to_string()),
                ]),
                layers: vec!["arn:a".into()],
            },
            after: Settings {
                handler: "lambdascope.handler.handler".into(),
                env: BTreeMap::from([
                    ("DD_LOG_LEVEL".to_string(), "info".to_string()),
                    (
                        "DD_API_KEY".to_string(),
                        "0123456789abcdef0123456789abcdef".to_string(),
                    ),
                ]),
                layers: vec!["arn:b".into()],
            },
            tags_to_set: BTreeMap::from([("lambdascope_cli".to_string(), "v0.1.0".to_string())]),
            tags_to_remove: vec![],
        };
        let text = render(&plan);
        assert!(text.contains("Handler: app.handler -> lambdascope.handler.handler"));
        assert!(text.contains("+ DD_API_KEY=01**********cdef"));
        assert!(!text.contains("0123456789abcdef0123456789abcdef"));
        assert!(text.contains("~ DD_LOG_LEVEL: debug -> info"));
        assert!(text.contains("- OLD=1"));
        assert!(text.contains("- arn:a"));
        assert!(text.contains("+ arn:b"));
        assert!(text.contains("+ tag lambdascope_cli=v0.1.0"));
    }
}
