//! `DD_LOGS_CONFIG_PROCESSING_RULES`: exclude, include and mask log lines, in order.
//!
//! The format is Datadog's: a JSON array of
//! `{"type": "exclude_at_match" | "include_at_match" | "mask_sequences", "name": "...",
//! "pattern": "<regex>", "replace_placeholder": "..."}`.

use std::borrow::Cow;

use regex_lite::Regex;

/// What a rule does with a matching line.
#[derive(Debug, Clone)]
enum RuleKind {
    ExcludeAtMatch,
    IncludeAtMatch,
    MaskSequences(String),
}

#[derive(Debug, Clone)]
struct ProcessingRule {
    kind: RuleKind,
    pattern: Regex,
}

/// Compiled rules; empty by default.
#[derive(Debug, Clone, Default)]
pub struct ProcessingRules {
    rules: Vec<ProcessingRule>,
}

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("not a JSON array of {{\"type\",\"name\",\"pattern\"}} objects: {0}")]
    Json(#[from] serde_json::Error),
    #[error("rule {name:?}: unknown type {kind:?} (use exclude_at_match, include_at_match or mask_sequences)")]
    UnknownType { name: String, kind: String },
    #[error("rule {name:?}: invalid pattern: {error}")]
    Pattern {
        name: String,
        error: regex_lite::Error,
    },
    #[error("rule {name:?}: mask_sequences needs a replace_placeholder")]
    MissingPlaceholder { name: String },
}

#[derive(serde::Deserialize)]
struct RawRule {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: String,
    pattern: String,
    #[serde(default)]
    replace_placeholder: Option<String>,
}

impl ProcessingRules {
    pub fn parse(json: &str) -> Result<ProcessingRules, RuleError> {
        let raw: Vec<RawRule> = serde_json::from_str(json)?;
        let mut rules = Vec::with_capacity(raw.len());
        for rule in raw {
            let pattern = Regex::new(&rule.pattern).map_err(|error| RuleError::Pattern {
                name: rule.name.clone(),
                error,
            })?;
            let kind = match rule.kind.as_str() {
                "exclude_at_match" => RuleKind::ExcludeAtMatch,
                "include_at_match" => RuleKind::IncludeAtMatch,
                "mask_sequences" => RuleKind::MaskSequences(rule.replace_placeholder.ok_or(
                    RuleError::MissingPlaceholder {
                        name: rule.name.clone(),
                    },
                )?),
                other => {
                    return Err(RuleError::UnknownType {
                        name: rule.name,
                        kind: other.to_string(),
                    })
                }
            };
            rules.push(ProcessingRule { kind, pattern });
        }
        Ok(ProcessingRules { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Applies the rules in order: `None` drops the line, otherwise the (possibly masked) text.
    pub fn apply<'a>(&self, message: &'a str) -> Option<Cow<'a, str>> {
        let mut text = Cow::Borrowed(message);
        for rule in &self.rules {
            match &rule.kind {
                RuleKind::ExcludeAtMatch if rule.pattern.is_match(&text) => return None,
                RuleKind::IncludeAtMatch if !rule.pattern.is_match(&text) => return None,
                RuleKind::MaskSequences(placeholder) => {
                    if let Cow::Owned(masked) =
                        rule.pattern.replace_all(&text, placeholder.as_str())
                    {
                        text = Cow::Owned(masked);
                    }
                }
                _ => {}
            }
        }
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_apply_in_order() {
        let rules = ProcessingRules::parse(
            r#"[
              {"type":"exclude_at_match","name":"no_health","pattern":"GET /health"},
              {"type":"include_at_match","name":"only_app","pattern":"app"},
              {"type":"mask_sequences","name":"cards","pattern":"\\d{4}-\\d{4}","replace_placeholder":"[card]"}
            ]"#,
        )
        .unwrap();
        assert_eq!(rules.apply("app GET /health"), None);
        assert_eq!(rules.apply("other line"), None);
        assert_eq!(
            rules.apply("app paid 1234-5678").as_deref(),
            Some("app paid [card]")
        );
        assert!(matches!(rules.apply("app ok"), Some(Cow::Borrowed(_))));
    }

    #[test]
    fn bad_rules_explain_themselves() {
        let err =
            ProcessingRules::parse(r#"[{"type":"drop","name":"x","pattern":"a"}]"#).unwrap_err();
        assert!(err.to_string().contains("unknown type"), "{err}");
        let err =
            ProcessingRules::parse(r#"[{"type":"exclude_at_match","name":"x","pattern":"("}]"#)
                .unwrap_err();
        assert!(err.to_string().contains("invalid pattern"), "{err}");
        let err = ProcessingRules::parse(r#"[{"type":"mask_sequences","name":"x","pattern":"a"}]"#)
            .unwrap_err();
        assert!(err.to_string().contains("replace_placeholder"), "{err}");
        assert!(ProcessingRules::parse("{}").is_err());
    }
}
