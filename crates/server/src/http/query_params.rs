//! Query-string parsing shared by the query API. Times are Unix epoch milliseconds
//! or RFC 3339 text; a bad value is a 400 that names the parameter.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use super::ApiError;
use crate::store::TimeRange;

pub type Params = HashMap<String, String>;

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Parses epoch milliseconds (`1700000000000`) or RFC 3339 (`2023-11-14T22:13:20Z`).
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(ms) = text.parse::<i64>() {
        return Some(ms);
    }
    let t = humantime::parse_rfc3339_weak(text).ok()?;
    let d = t.duration_since(UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}

pub fn time(params: &Params, name: &str) -> Result<Option<i64>, ApiError> {
    match params.get(name).map(String::as_str).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => parse_time(v).map(Some).ok_or_else(|| {
            ApiError::bad_request(format!(
                "{name}={v:?} is not a time; use epoch milliseconds or RFC 3339 (2024-01-31T12:00:00Z)"
            ))
        }),
    }
}

/// `from`/`to` with defaults: `to` = now, `from` = `to` − `default_window_ms`.
pub fn range(params: &Params, default_window_ms: i64) -> Result<TimeRange, ApiError> {
    let to = time(params, "to")?.unwrap_or_else(|| now_ms() + 1);
    let from = time(params, "from")?.unwrap_or(to.saturating_sub(default_window_ms));
    if from >= to {
        return Err(ApiError::bad_request(format!(
            "from ({from}) must be earlier than to ({to})"
        )));
    }
    Ok(TimeRange {
        from_ms: from,
        to_ms: to,
    })
}

pub fn limit(params: &Params, default: usize, max: usize) -> Result<usize, ApiError> {
    match params.get("limit") {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(format!(
                "limit={v:?} must be a whole number from 1 to {max}"
            ))),
        },
    }
}

pub fn flag(params: &Params, name: &str) -> Result<bool, ApiError> {
    match params.get(name).map(String::as_str) {
        None | Some("") | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(v) => Err(ApiError::bad_request(format!(
            "{name}={v:?} must be true or false"
        ))),
    }
}

pub fn text(params: &Params, name: &str) -> Option<String> {
    params
        .get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A trace id as decimal u64, or hex (16 or 32 digits; a 128-bit id keeps its low 64 bits).
pub fn trace_id(text: &str) -> Option<u64> {
    let text = text.trim();
    if let Ok(id) = text.parse::<u64>() {
        return Some(id);
    }
    let hex = text.strip_prefix("0x").unwrap_or(text);
    if hex.is_empty() || hex.len() > 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let low = &hex[hex.len().saturating_sub(16)..];
    u64::from_str_radix(low, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_ids() {
        assert_eq!(parse_time("1700000000000"), Some(1_700_000_000_000));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Some(1_700_000_000_000));
        assert_eq!(
            parse_time("2023-11-14T22:13:20.5Z"),
            Some(1_700_000_000_500)
        );
        assert_eq!(parse_time("soon"), None);
        assert_eq!(trace_id("42"), Some(42));
        assert_eq!(trace_id("000000000000002a"), Some(42));
        assert_eq!(trace_id("0000000000000001000000000000002a"), Some(42));
        assert_eq!(trace_id("xyz"), None);
    }

    #[test]
    fn bad_ranges_are_rejected() {
        let mut p = Params::new();
        p.insert("from".into(), "10".into());
        p.insert("to".into(), "5".into());
        assert!(range(&p, 1000).is_err());
        p.insert("to".into(), "yesterday".into());
        assert!(range(&p, 1000).unwrap_err().message.contains("to="));
    }
}
