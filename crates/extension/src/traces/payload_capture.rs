//! `DD_CAPTURE_LAMBDA_PAYLOAD`: the request and response flattened into span tags
//! (`function.request.headers.host`, `function.response.statusCode`, ...), with secrets
//! redacted.
//!
//! Strings holding JSON (an API Gateway `body`, an SQS message) are expanded like objects,
//! because that is where the interesting fields are. Below the maximum depth a value is
//! kept as its JSON text; every value is cut at 5000 characters.

use std::collections::BTreeMap;

use serde_json::Value;

/// Values are cut here, as Datadog's libraries do.
const MAX_VALUE_CHARS: usize = 5000;
/// Keys whose values never leave the function (compared case-insensitively on the last
/// path segment).
const REDACTED_KEYS: [&str; 5] = [
    "authorization",
    "x-authorization",
    "password",
    "token",
    "secret",
];

fn redact_or(key: &str, value: String) -> String {
    let last = key.rsplit('.').next().unwrap_or(key);
    if REDACTED_KEYS.iter().any(|k| last.eq_ignore_ascii_case(k)) {
        "redacted".to_string()
    } else {
        value
    }
}

fn cut(s: &str) -> String {
    match s.char_indices().nth(MAX_VALUE_CHARS) {
        Some((i, _)) => s[..i].to_string(),
        None => s.to_string(),
    }
}

/// Adds `prefix.<path>` tags for `value` into `out`. `max_depth` counts object/array levels.
pub fn flatten_into(
    prefix: &str,
    value: &Value,
    max_depth: usize,
    out: &mut BTreeMap<String, String>,
) {
    flatten(prefix, value, 0, max_depth, out);
}

fn flatten(
    key: &str,
    value: &Value,
    depth: usize,
    max_depth: usize,
    out: &mut BTreeMap<String, String>,
) {
    match value {
        Value::Null => {}
        _ if depth >= max_depth => {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.insert(key.to_string(), redact_or(key, cut(&text)));
        }
        Value::Object(map) => {
            for (k, v) in map {
                flatten(&format!("{key}.{k}"), v, depth + 1, max_depth, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{key}.{i}"), v, depth + 1, max_depth, out);
            }
        }
        Value::String(s) => {
            let nested = s
                .trim_start()
                .starts_with(['{', '['])
                .then(|| serde_json::from_str::<Value>(s).ok())
                .flatten();
            match nested {
                Some(inner @ (Value::Object(_) | Value::Array(_))) => {
                    flatten(key, &inner, depth, max_depth, out)
                }
                _ => {
                    out.insert(key.to_string(), redact_or(key, cut(s)));
                }
            }
        }
        Value::Bool(b) => {
            out.insert(key.to_string(), redact_or(key, b.to_string()));
        }
        Value::Number(n) => {
            out.insert(key.to_string(), redact_or(key, n.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tags(value: Value, depth: usize) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        flatten_into("function.request", &value, depth, &mut out);
        out
    }

    #[test]
    fn flattens_objects_arrays_and_json_strings() {
        let t = tags(
            json!({"headers": {"Host": "x", "Authorization": "Bearer abc"}, "body": "{\"user\":{\"password\":\"p\",\"name\":\"n\"}}", "list": [1, true, null], "n": 2.5}),
            10,
        );
        assert_eq!(t["function.request.headers.Host"], "x");
        assert_eq!(t["function.request.headers.Authorization"], "redacted");
        assert_eq!(t["function.request.body.user.password"], "redacted");
        assert_eq!(t["function.request.body.user.name"], "n");
        assert_eq!(t["function.request.list.0"], "1");
        assert_eq!(t["function.request.list.1"], "true");
        assert!(!t.contains_key("function.request.list.2"));
        assert_eq!(t["function.request.n"], "2.5");
    }

    #[test]
    fn depth_limit_keeps_the_rest_as_json() {
        let t = tags(json!({"a": {"b": {"c": 1}}}), 2);
        assert_eq!(t["function.request.a.b"], r#"{"c":1}"#);
        let t = tags(json!({"token": {"x": 1}}), 1);
        assert_eq!(t["function.request.token"], "redacted");
    }

    #[test]
    fn long_values_are_cut() {
        let t = tags(json!({"big": "é".repeat(6000)}), 10);
        assert_eq!(t["function.request.big"].chars().count(), MAX_VALUE_CHARS);
    }
}
