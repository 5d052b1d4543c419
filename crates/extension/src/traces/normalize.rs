//! Span normalization with the Datadog agent's rules, so that what the intake receives is
//! what a Datadog agent would have sent: bounded lengths, a lowercase service in the tag
//! charset, a metric-style operation name, a resource that defaults to the name, a sane
//! start and duration. Spans without ids cannot be placed in a trace and are rejected.

use lambdascope_wire::agent_payload::Span;

pub const MAX_SERVICE_LEN: usize = 100;
pub const MAX_NAME_LEN: usize = 100;
pub const MAX_TYPE_LEN: usize = 100;
pub const MAX_RESOURCE_LEN: usize = 5000;
pub const MAX_META_KEY_LEN: usize = 200;
pub const MAX_META_VALUE_LEN: usize = 25_000;
pub const MAX_TAG_LEN: usize = 200;
pub const DEFAULT_SERVICE: &str = "unnamed-service";
pub const DEFAULT_NAME: &str = "unnamed_operation";
/// Starts before 2000-01-01 are clock garbage; the agent re-derives them from "now".
const YEAR_2000_NS: i64 = 946_684_800_000_000_000;

/// Why a span was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    ZeroTraceId,
    ZeroSpanId,
}

/// Cuts a string to at most `max` bytes on a char boundary.
pub fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// The agent's tag normalization (used for service and env): lowercase; letters, digits and
/// `_ - : . /` kept; anything else becomes one `_`; leading characters up to the first
/// letter dropped; trailing `_` trimmed; at most 200 bytes.
pub fn normalize_tag(value: &str) -> String {
    if is_normal_tag(value) {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len().min(MAX_TAG_LEN));
    for c in value.chars() {
        if out.len() >= MAX_TAG_LEN {
            break;
        }
        if out.is_empty() && !c.is_alphabetic() {
            continue;
        }
        let c = c.to_lowercase().next().unwrap_or(c);
        if c.is_alphanumeric() || matches!(c, '_' | '-' | ':' | '.' | '/') {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    truncate(&mut out, MAX_TAG_LEN);
    out
}

/// Already in normal form (the common case): no rewrite needed.
fn is_normal_tag(value: &str) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_TAG_LEN
        && bytes[0].is_ascii_lowercase()
        && bytes[bytes.len() - 1] != b'_'
        && bytes.iter().all(|&b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'_' | b'-' | b':' | b'.' | b'/')
        })
        && !value.contains("__")
}

fn is_normal_name(value: &str) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_NAME_LEN
        && bytes[0].is_ascii_alphabetic()
        && bytes[bytes.len() - 1] != b'_'
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        && !value.contains("_.")
}

/// The agent's operation-name normalization: starts with a letter; ASCII letters, digits,
/// `_` and `.` kept; other runs become one `_`; `_.` collapses to `.`; at most 100 bytes.
/// `None` when nothing valid is left.
pub fn normalize_name(value: &str) -> Option<String> {
    if is_normal_name(value) {
        return Some(value.to_string());
    }
    let mut src = value.to_string();
    truncate(&mut src, MAX_NAME_LEN);
    let mut out = String::with_capacity(src.len());
    for c in src.chars() {
        if out.is_empty() && !c.is_ascii_alphabetic() {
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if c == '.' {
            if out.ends_with('_') {
                out.pop();
            }
            out.push('.');
        } else if !out.ends_with('_') && !out.ends_with('.') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    (!out.is_empty()).then_some(out)
}

/// Normalizes one span in place. `fallback_service` replaces an empty or invalid service.
pub fn normalize_span(
    span: &mut Span,
    fallback_service: &str,
    now_ns: i64,
) -> Result<(), Rejection> {
    if span.trace_id == 0 {
        return Err(Rejection::ZeroTraceId);
    }
    if span.span_id == 0 {
        return Err(Rejection::ZeroSpanId);
    }
    let service = normalize_tag(
        &span
            .service
            .chars()
            .take(MAX_SERVICE_LEN)
            .collect::<String>(),
    );
    span.service = if service.is_empty() {
        let fallback = normalize_tag(fallback_service);
        if fallback.is_empty() {
            DEFAULT_SERVICE.to_string()
        } else {
            fallback
        }
    } else {
        service
    };
    if !is_normal_name(&span.name) {
        span.name = normalize_name(&span.name).unwrap_or_else(|| DEFAULT_NAME.to_string());
    }
    if span.resource.is_empty() {
        span.resource = span.name.clone();
    }
    truncate(&mut span.resource, MAX_RESOURCE_LEN);
    truncate(&mut span.r#type, MAX_TYPE_LEN);
    if span.duration < 0 {
        span.duration = 0;
    }
    if span.start.checked_add(span.duration).is_none() {
        span.duration = 0;
    }
    if span.start < YEAR_2000_NS {
        span.start = now_ns.saturating_sub(span.duration);
    }
    if let Some(env) = span.meta.get_mut("env") {
        *env = normalize_tag(env);
    }
    let bad_status = span
        .meta
        .get("http.status_code")
        .is_some_and(|code| !code.parse::<u16>().is_ok_and(|c| (100..600).contains(&c)));
    if bad_status {
        span.meta.remove("http.status_code");
    }
    if span.meta.keys().any(|k| k.len() > MAX_META_KEY_LEN)
        || span.meta.values().any(|v| v.len() > MAX_META_VALUE_LEN)
    {
        span.meta = std::mem::take(&mut span.meta)
            .into_iter()
            .map(|(mut k, mut v)| {
                truncate(&mut k, MAX_META_KEY_LEN);
                truncate(&mut v, MAX_META_VALUE_LEN);
                (k, v)
            })
            .collect();
    }
    if span.metrics.keys().any(|k| k.len() > MAX_META_KEY_LEN) {
        span.metrics = std::mem::take(&mut span.metrics)
            .into_iter()
            .map(|(mut k, v)| {
                truncate(&mut k, MAX_META_KEY_LEN);
                (k, v)
            })
            .collect();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span() -> Span {
        Span {
            trace_id: 1,
            span_id: 2,
            start: 1_700_000_000_000_000_000,
            duration: 10,
            ..Default::default()
        }
    }

    #[test]
    fn tags() {
        assert_eq!(normalize_tag("My Service!!"), "my_service");
        assert_eq!(normalize_tag("  _123abc-DEF:x/y.z"), "abc-def:x/y.z");
        assert_eq!(normalize_tag("ÉTÉ café"), "été_café");
        assert_eq!(normalize_tag("!!!"), "");
        assert_eq!(normalize_tag(&"a".repeat(300)).len(), MAX_TAG_LEN);
    }

    #[test]
    fn names() {
        assert_eq!(normalize_name("aws.lambda").as_deref(), Some("aws.lambda"));
        assert_eq!(normalize_name("get coffee!").as_deref(), Some("get_coffee"));
        assert_eq!(
            normalize_name("9lives.x__y._z").as_deref(),
            Some("lives.x__y._z")
        );
        assert_eq!(normalize_name("123"), None);
        assert_eq!(
            normalize_name(&"n".repeat(150)).unwrap().len(),
            MAX_NAME_LEN
        );
    }

    #[test]
    fn span_defaults_and_bounds() {
        let mut s = span();
        s.service = "!!".into();
        s.resource = String::new();
        s.r#type = "t".repeat(150);
        s.meta.insert("http.status_code".into(), "999".into());
        s.meta.insert("env".into(), "Prod Env".into());
        s.meta.insert("k".repeat(300), "v".into());
        normalize_span(&mut s, "My Function", 5).unwrap();
        assert_eq!(s.service, "my_function");
        assert_eq!(
            (s.name.as_str(), s.resource.as_str()),
            (DEFAULT_NAME, DEFAULT_NAME)
        );
        assert_eq!(s.r#type.len(), MAX_TYPE_LEN);
        assert!(!s.meta.contains_key("http.status_code"));
        assert_eq!(s.meta["env"], "prod_env");
        assert!(s.meta.keys().all(|k| k.len() <= MAX_META_KEY_LEN));

        let mut s = span();
        normalize_span(&mut s, "", 5).unwrap();
        assert_eq!(s.service, DEFAULT_SERVICE);
    }

    #[test]
    fn times_and_ids() {
        let mut s = span();
        s.start = 12;
        s.duration = -5;
        normalize_span(&mut s, "svc", 2_000_000_000_000_000_000).unwrap();
        assert_eq!((s.start, s.duration), (2_000_000_000_000_000_000, 0));
        let mut s = span();
        s.duration = i64::MAX;
        normalize_span(&mut s, "svc", 0).unwrap();
        assert_eq!(s.duration, 0);
        let mut s = span();
        s.trace_id = 0;
        assert_eq!(
            normalize_span(&mut s, "svc", 0),
            Err(Rejection::ZeroTraceId)
        );
        let mut s = span();
        s.span_id = 0;
        assert_eq!(normalize_span(&mut s, "svc", 0), Err(Rejection::ZeroSpanId));
    }
}
