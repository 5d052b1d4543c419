//! Span obfuscation options: `DD_APM_REPLACE_TAGS` rules, and the `http.url` options
//! that remove query strings and path segments with digits (ids, tokens).

use lambdascope_wire::agent_payload::Span;
use regex_lite::Regex;
use serde::Deserialize;

/// One `DD_APM_REPLACE_TAGS` rule: in tag `name` (`resource.name` for the resource, `*`
/// for every tag and the resource), replace matches of `pattern` with `repl` (`$1` refers
/// to a capture group).
#[derive(Debug, Clone)]
pub struct ReplaceRule {
    pub name: String,
    pub pattern: Regex,
    pub repl: String,
}

#[derive(Deserialize)]
struct RawRule {
    name: String,
    pattern: String,
    #[serde(default)]
    repl: String,
}

impl ReplaceRule {
    /// Parses the JSON list `[{"name": "...", "pattern": "...", "repl": "..."}]`.
    pub fn parse_list(json: &str) -> Result<Vec<ReplaceRule>, String> {
        let raw: Vec<RawRule> = serde_json::from_str(json).map_err(|e| {
            format!("expected a JSON list of {{\"name\", \"pattern\", \"repl\"}} objects: {e}")
        })?;
        raw.into_iter()
            .map(|r| {
                if r.name.is_empty() {
                    return Err("a rule has an empty \"name\"".to_string());
                }
                let pattern = Regex::new(&r.pattern).map_err(|e| {
                    format!(
                        "rule for {:?} has an invalid pattern {:?}: {e}",
                        r.name, r.pattern
                    )
                })?;
                Ok(ReplaceRule {
                    name: r.name,
                    pattern,
                    repl: r.repl,
                })
            })
            .collect()
    }

    fn apply(&self, value: &mut String) {
        if self.pattern.is_match(value) {
            *value = self
                .pattern
                .replace_all(value, self.repl.as_str())
                .into_owned();
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ObfuscationOptions {
    pub replace_tags: Vec<ReplaceRule>,
    /// `DD_APM_OBFUSCATION_HTTP_REMOVE_QUERY_STRING`.
    pub remove_query_string: bool,
    /// `DD_APM_OBFUSCATION_HTTP_REMOVE_PATHS_WITH_DIGITS`.
    pub remove_paths_with_digits: bool,
}

impl ObfuscationOptions {
    pub fn is_noop(&self) -> bool {
        self.replace_tags.is_empty() && !self.remove_query_string && !self.remove_paths_with_digits
    }
}

/// Applies the options to one span.
pub fn obfuscate_span(span: &mut Span, options: &ObfuscationOptions) {
    if options.remove_query_string || options.remove_paths_with_digits {
        if let Some(url) = span.meta.get_mut("http.url") {
            *url = obfuscate_url(
                url,
                options.remove_query_string,
                options.remove_paths_with_digits,
            );
        }
    }
    for rule in &options.replace_tags {
        match rule.name.as_str() {
            "*" => {
                rule.apply(&mut span.resource);
                for value in span.meta.values_mut() {
                    rule.apply(value);
                }
            }
            "resource.name" => rule.apply(&mut span.resource),
            name => {
                if let Some(value) = span.meta.get_mut(name) {
                    rule.apply(value);
                }
            }
        }
    }
}

/// Drops the query (keeping a bare `?`, as the agent does) and/or replaces every path
/// segment containing a digit with `?`. The fragment is kept.
pub fn obfuscate_url(url: &str, remove_query: bool, remove_digits: bool) -> String {
    let (rest, fragment) = match url.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (url, None),
    };
    let (base, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let mut out = String::with_capacity(url.len());
    if remove_digits {
        let path_start = base
            .find("://")
            .map(|i| base[i + 3..].find('/').map_or(base.len(), |p| i + 3 + p))
            .unwrap_or(0);
        out.push_str(&base[..path_start]);
        let segments: Vec<&str> = base[path_start..]
            .split('/')
            .map(|seg| {
                if seg.bytes().any(|b| b.is_ascii_digit()) {
                    "?"
                } else {
                    seg
                }
            })
            .collect();
        out.push_str(&segments.join("/"));
    } else {
        out.push_str(base);
    }
    if let Some(q) = query {
        out.push('?');
        if !remove_query {
            out.push_str(q);
        }
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_options() {
        let url = "https://api.example.com/users/123/orders/ab9?token=secret#frag";
        assert_eq!(
            obfuscate_url(url, true, false),
            "https://api.example.com/users/123/orders/ab9?#frag"
        );
        assert_eq!(
            obfuscate_url(url, false, true),
            "https://api.example.com/users/?/orders/??token=secret#frag"
        );
        assert_eq!(
            obfuscate_url(url, true, true),
            "https://api.example.com/users/?/orders/??#frag"
        );
        assert_eq!(obfuscate_url("/v1/items/42", false, true), "/?/items/?");
        assert_eq!(obfuscate_url("http://h:8080", true, true), "http://h:8080");
    }

    #[test]
    fn replace_rules() {
        let rules = ReplaceRule::parse_list(
            r#"[{"name":"http.url","pattern":"token=[^&]*","repl":"token=?"},
                {"name":"resource.name","pattern":"(SELECT) .*","repl":"$1 ?"},
                {"name":"*","pattern":"4111[0-9]{12}","repl":"<card>"}]"#,
        )
        .unwrap();
        let options = ObfuscationOptions {
            replace_tags: rules,
            remove_query_string: false,
            remove_paths_with_digits: false,
        };
        let mut span = Span {
            resource: "SELECT * FROM t".into(),
            ..Default::default()
        };
        span.meta
            .insert("http.url".into(), "https://x/?token=abc&a=1".into());
        span.meta
            .insert("note".into(), "paid with 4111111111111111".into());
        obfuscate_span(&mut span, &options);
        assert_eq!(span.meta["http.url"], "https://x/?token=?&a=1");
        assert_eq!(span.resource, "SELECT ?");
        assert_eq!(span.meta["note"], "paid with <card>");
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        assert!(ReplaceRule::parse_list("{}")
            .unwrap_err()
            .contains("JSON list"));
        assert!(ReplaceRule::parse_list(r#"[{"name":"a","pattern":"("}]"#)
            .unwrap_err()
            .contains("invalid pattern"));
        assert!(ReplaceRule::parse_list(r#"[{"name":"","pattern":"a"}]"#)
            .unwrap_err()
            .contains("empty"));
    }
}
