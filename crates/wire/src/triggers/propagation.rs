//! Reading a trace context out of a carrier (HTTP headers, a `_datadog` map): the Datadog
//! `x-datadog-*` headers, W3C `traceparent`/`tracestate`, B3, and the X-Ray trace header.
//!
//! Carriers are maps with lower-cased keys. Every parser is total: a malformed value means
//! "no context from this style", never an error.

use std::collections::BTreeMap;

use super::context::{ContextSource, ExtractedContext};

/// A propagation style of `DD_TRACE_PROPAGATION_STYLE_EXTRACT` (or `DD_TRACE_PROPAGATION_STYLE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropagationStyle {
    Datadog,
    /// W3C Trace Context: `traceparent` + `tracestate`.
    TraceContext,
    /// `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled` / `x-b3-flags`.
    B3Multi,
    /// The single `b3` header.
    B3Single,
}

impl PropagationStyle {
    /// The default of the Datadog tracers: `datadog,tracecontext`.
    pub const DEFAULT: [PropagationStyle; 2] = [Self::Datadog, Self::TraceContext];

    /// Parses a comma- (or space-) separated style list. Unknown names (and `baggage`,
    /// which carries no trace ids) are skipped; `none` yields no styles.
    pub fn parse_list(value: &str) -> Vec<Self> {
        let mut styles = Vec::new();
        for name in value
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let style = match name.to_ascii_lowercase().as_str() {
                "datadog" => Self::Datadog,
                "tracecontext" => Self::TraceContext,
                "b3multi" | "b3" => Self::B3Multi,
                "b3 single header" | "b3single" => Self::B3Single,
                _ => continue,
            };
            if !styles.contains(&style) {
                styles.push(style);
            }
        }
        styles
    }
}

/// Extracts with each style in order. The first context found wins; when W3C Trace
/// Context also yields the same trace with another parent, the W3C parent is used (the
/// request passed through a W3C-only hop after the Datadog one) and the Datadog parent
/// is kept in `_dd.parent_id`.
pub fn extract(
    carrier: &BTreeMap<String, String>,
    styles: &[PropagationStyle],
) -> Option<ExtractedContext> {
    let mut found: Vec<(PropagationStyle, ExtractedContext)> = styles
        .iter()
        .filter_map(|style| {
            let ctx = match style {
                PropagationStyle::Datadog => datadog(carrier),
                PropagationStyle::TraceContext => trace_context(carrier),
                PropagationStyle::B3Multi => b3_multi(carrier),
                PropagationStyle::B3Single => b3_single(carrier),
            }?;
            Some((*style, ctx))
        })
        .collect();
    if found.is_empty() {
        return None;
    }
    let (first_style, mut primary) = found.remove(0);
    if first_style != PropagationStyle::TraceContext {
        if let Some((_, w3c)) = found
            .iter()
            .find(|(s, _)| *s == PropagationStyle::TraceContext)
        {
            let same_trace =
                w3c.trace_id == primary.trace_id && w3c.trace_id_high == primary.trace_id_high;
            if same_trace && w3c.parent_id != primary.parent_id {
                let dd_parent = w3c
                    .tags
                    .get("_dd.parent_id")
                    .cloned()
                    .unwrap_or_else(|| format!("{:016x}", primary.parent_id));
                primary.parent_id = w3c.parent_id;
                primary.tags.insert("_dd.parent_id".to_string(), dd_parent);
            }
        }
    }
    Some(primary)
}

fn get<'a>(carrier: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    carrier.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn parse_priority(v: &str) -> Option<i32> {
    v.parse::<i32>().ok().or_else(|| {
        v.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(|f| f as i32)
    })
}

/// `x-datadog-trace-id` / `-parent-id` (decimal), `-sampling-priority`, `-origin`, and the
/// `_dd.p.*` entries of `x-datadog-tags` (`_dd.p.tid` = the upper 64 bits, 16 hex digits).
fn datadog(carrier: &BTreeMap<String, String>) -> Option<ExtractedContext> {
    let trace_id: u64 = get(carrier, "x-datadog-trace-id")?
        .parse()
        .ok()
        .filter(|&t| t != 0)?;
    let mut ctx = ExtractedContext::from_style(trace_id, PropagationStyle::Datadog);
    ctx.parent_id = get(carrier, "x-datadog-parent-id")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    ctx.sampling_priority = get(carrier, "x-datadog-sampling-priority").and_then(parse_priority);
    ctx.origin = get(carrier, "x-datadog-origin").map(str::to_string);
    if let Some(tags) = get(carrier, "x-datadog-tags") {
        for (key, value) in tags.split(',').filter_map(|kv| kv.split_once('=')) {
            let (key, value) = (key.trim(), value.trim());
            if !key.starts_with("_dd.p.") || value.is_empty() {
                continue;
            }
            if key == "_dd.p.tid" {
                match parse_hex64(value) {
                    Some(high) if value.len() == 16 => ctx.trace_id_high = high,
                    _ => continue,
                }
            }
            ctx.tags.insert(key.to_string(), value.to_string());
        }
    }
    Some(ctx)
}

fn parse_hex64(s: &str) -> Option<u64> {
    (!s.is_empty() && s.len() <= 16 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| u64::from_str_radix(s, 16).ok())
        .flatten()
}

/// A 128-bit hex trace id (16 or 32 digits) as (high, low).
fn parse_hex128(s: &str) -> Option<(u64, u64)> {
    match s.len() {
        32 => Some((parse_hex64(&s[..16])?, parse_hex64(&s[16..])?)),
        1..=16 => Some((0, parse_hex64(s)?)),
        _ => None,
    }
}

/// W3C `traceparent` (`00-{32 hex trace}-{16 hex parent}-{2 hex flags}`) and the `dd`
/// member of `tracestate` (`s:` priority, `o:` origin, `p:` last Datadog parent, `t.*` tags).
fn trace_context(carrier: &BTreeMap<String, String>) -> Option<ExtractedContext> {
    let tp = get(carrier, "traceparent")?.to_ascii_lowercase();
    let parts: Vec<&str> = tp.split('-').collect();
    if parts.len() < 4 {
        return None;
    }
    let (version, trace, parent, flags) = (parts[0], parts[1], parts[2], parts[3]);
    if version.len() != 2 || version == "ff" || (version == "00" && parts.len() != 4) {
        return None;
    }
    if trace.len() != 32 || parent.len() != 16 || flags.len() != 2 {
        return None;
    }
    let (high, low) = parse_hex128(trace)?;
    let parent_id = parse_hex64(parent)?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    if (high == 0 && low == 0) || parent_id == 0 {
        return None;
    }
    let sampled = flags & 1 == 1;
    let mut ctx = ExtractedContext::from_style(low, PropagationStyle::TraceContext);
    ctx.trace_id_high = high;
    ctx.parent_id = parent_id;
    if high != 0 {
        ctx.tags
            .insert("_dd.p.tid".to_string(), format!("{high:016x}"));
    }
    let mut state_priority = None;
    let dd_member = get(carrier, "tracestate").and_then(|ts| {
        ts.split(',')
            .filter_map(|m| m.trim().split_once('='))
            .find(|(k, _)| *k == "dd")
            .map(|(_, v)| v.to_string())
    });
    ctx.tags
        .insert("_dd.parent_id".to_string(), "0000000000000000".to_string());
    if let Some(dd) = dd_member {
        for (key, value) in dd.split(';').filter_map(|kv| kv.split_once(':')) {
            match key {
                "s" => state_priority = parse_priority(value),
                "o" => ctx.origin = Some(value.replace('~', "=")),
                "p" if value.len() == 16 => {
                    ctx.tags
                        .insert("_dd.parent_id".to_string(), value.to_string());
                }
                _ => {
                    if let Some(tag) = key.strip_prefix("t.") {
                        if tag != "tid" {
                            ctx.tags
                                .insert(format!("_dd.p.{tag}"), value.replace('~', "="));
                        }
                    }
                }
            }
        }
    }
    // The sampled flag is authoritative; `s:` refines it only when they agree.
    ctx.sampling_priority = Some(match (sampled, state_priority) {
        (true, Some(s)) if s > 0 => s,
        (true, _) => 1,
        (false, Some(s)) if s <= 0 => s,
        (false, _) => 0,
    });
    Some(ctx)
}

fn b3_priority(sampled: Option<&str>, flags: Option<&str>) -> Option<i32> {
    if flags == Some("1") {
        return Some(2);
    }
    match sampled? {
        "1" | "true" => Some(1),
        "0" | "false" => Some(0),
        "d" => Some(2),
        _ => None,
    }
}

fn b3_context(trace: &str, span: &str, priority: Option<i32>) -> Option<ExtractedContext> {
    let (high, low) = parse_hex128(trace)?;
    let parent_id = parse_hex64(span)?;
    if low == 0 && high == 0 {
        return None;
    }
    let mut ctx = ExtractedContext::from_style(low, PropagationStyle::B3Multi);
    ctx.trace_id_high = high;
    ctx.parent_id = parent_id;
    ctx.sampling_priority = priority;
    if high != 0 {
        ctx.tags
            .insert("_dd.p.tid".to_string(), format!("{high:016x}"));
    }
    Some(ctx)
}

fn b3_multi(carrier: &BTreeMap<String, String>) -> Option<ExtractedContext> {
    let priority = b3_priority(get(carrier, "x-b3-sampled"), get(carrier, "x-b3-flags"));
    b3_context(
        get(carrier, "x-b3-traceid")?,
        get(carrier, "x-b3-spanid")?,
        priority,
    )
}

fn b3_single(carrier: &BTreeMap<String, String>) -> Option<ExtractedContext> {
    let mut parts = get(carrier, "b3")?.split('-');
    let (trace, span) = (parts.next()?, parts.next()?);
    let priority = b3_priority(parts.next(), None);
    b3_context(trace, span, priority)
}

/// The fields of an X-Ray trace header (`Root=1-{8 hex}-{24 hex};Parent={16 hex};Sampled=1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XrayHeader {
    pub root: String,
    pub parent: String,
    pub sampled: Option<String>,
}

/// Parses an X-Ray trace header (`_X_AMZN_TRACE_ID`, the INVOKE event's tracing value, or
/// SQS `AWSTraceHeader`). Needs `Root` and `Parent`.
pub fn parse_xray_header(value: &str) -> Option<XrayHeader> {
    let mut root = None;
    let mut parent = None;
    let mut sampled = None;
    for (key, v) in value.split(';').filter_map(|kv| kv.trim().split_once('=')) {
        match key {
            "Root" => root = Some(v.to_string()),
            "Parent" => parent = Some(v.to_string()),
            "Sampled" => sampled = Some(v.to_string()),
            _ => {}
        }
    }
    Some(XrayHeader {
        root: root?,
        parent: parent?,
        sampled,
    })
}

/// The X-Ray fallback context: trace id = the low 63 bits of the root's last 16 hex digits,
/// parent = `Parent`, `Sampled=1` → user-keep (2), anything else → user-reject (-1).
pub fn xray_context(value: &str) -> Option<ExtractedContext> {
    let h = parse_xray_header(value)?;
    let tail = h.root.get(h.root.len().checked_sub(16)?..)?;
    let trace_id = parse_hex64(tail)? & 0x7FFF_FFFF_FFFF_FFFF;
    let parent_id = parse_hex64(&h.parent)?;
    if trace_id == 0 || parent_id == 0 {
        return None;
    }
    let mut ctx = ExtractedContext::new(trace_id, ContextSource::Xray);
    ctx.parent_id = parent_id;
    ctx.sampling_priority = Some(if h.sampled.as_deref() == Some("1") {
        2
    } else {
        -1
    });
    Some(ctx)
}

/// An `AWSTraceHeader` that dd-trace-java filled with a Datadog context: the root's third
/// part is `00000000` + the 64-bit trace id in hex.
pub fn padded_aws_trace_header(value: &str) -> Option<ExtractedContext> {
    let h = parse_xray_header(value)?;
    let id_part = h.root.split('-').nth(2)?;
    let trace_hex = id_part.strip_prefix("00000000")?;
    let trace_id = parse_hex64(trace_hex).filter(|&t| t != 0)?;
    let mut ctx = ExtractedContext::new(trace_id, ContextSource::AwsTraceHeader);
    ctx.parent_id = parse_hex64(&h.parent)?;
    ctx.sampling_priority = h.sampled.as_deref().and_then(parse_priority);
    Some(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn carrier(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn datadog_headers_with_tid() {
        let c = carrier(&[
            ("x-datadog-trace-id", "123"),
            ("x-datadog-parent-id", "456"),
            ("x-datadog-sampling-priority", "2"),
            ("x-datadog-origin", "synthetics"),
            (
                "x-datadog-tags",
                "_dd.p.tid=640cfd8d00000000,_dd.p.dm=-4,other=x,_dd.p.bad",
            ),
        ]);
        let ctx = extract(&c, &PropagationStyle::DEFAULT).unwrap();
        assert_eq!(
            (ctx.trace_id, ctx.parent_id, ctx.sampling_priority),
            (123, 456, Some(2))
        );
        assert_eq!(ctx.trace_id_high, 0x640cfd8d00000000);
        assert_eq!(ctx.tags.get("_dd.p.dm").map(String::as_str), Some("-4"));
        assert!(!ctx.tags.contains_key("other"));
        assert_eq!(ctx.origin.as_deref(), Some("synthetics"));
    }

    #[test]
    fn traceparent_and_tracestate() {
        let c = carrier(&[
            (
                "traceparent",
                "00-80f198ee56343ba864fe8b2a57d3eff7-00f067aa0ba902b7-01",
            ),
            (
                "tracestate",
                "dd=s:2;o:rum;p:0123456789abcdef;t.dm:-4;t.usr.id:baz64~~,othervendor=t61rcWkgMzE",
            ),
        ]);
        let ctx = extract(&c, &[PropagationStyle::TraceContext]).unwrap();
        assert_eq!(ctx.trace_id, 0x64fe8b2a57d3eff7);
        assert_eq!(ctx.trace_id_high, 0x80f198ee56343ba8);
        assert_eq!(ctx.parent_id, 0x00f067aa0ba902b7);
        assert_eq!(ctx.sampling_priority, Some(2));
        assert_eq!(ctx.origin.as_deref(), Some("rum"));
        assert_eq!(ctx.tags["_dd.p.usr.id"], "baz64==");
        assert_eq!(ctx.tags["_dd.parent_id"], "0123456789abcdef");
        assert_eq!(ctx.tags["_dd.p.tid"], "80f198ee56343ba8");
    }

    #[test]
    fn sampled_flag_overrides_disagreeing_state() {
        let c = carrier(&[
            (
                "traceparent",
                "00-000000000000000000000000000000aa-00000000000000bb-00",
            ),
            ("tracestate", "dd=s:2"),
        ]);
        assert_eq!(
            extract(&c, &[PropagationStyle::TraceContext])
                .unwrap()
                .sampling_priority,
            Some(0)
        );
    }

    #[test]
    fn malformed_traceparents_are_ignored() {
        for tp in [
            "ff-80f198ee56343ba864fe8b2a57d3eff7-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-80f198ee56343ba864fe8b2a57d3eff7-0000000000000000-01",
            "00-80f198ee56343ba864fe8b2a57d3eff7-00f067aa0ba902b7-01-extra",
            "00-xyz-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert!(
                extract(
                    &carrier(&[("traceparent", tp)]),
                    &[PropagationStyle::TraceContext]
                )
                .is_none(),
                "{tp}"
            );
        }
    }

    #[test]
    fn w3c_parent_wins_for_the_same_trace() {
        let c = carrier(&[
            ("x-datadog-trace-id", "7277407061855694839"),
            ("x-datadog-parent-id", "1"),
            ("x-datadog-sampling-priority", "1"),
            (
                "traceparent",
                "00-000000000000000064fe8b2a57d3eff7-00f067aa0ba902b7-01",
            ),
            ("tracestate", "dd=p:0000000000000001"),
        ]);
        let ctx = extract(&c, &PropagationStyle::DEFAULT).unwrap();
        assert_eq!(ctx.style, Some(PropagationStyle::Datadog));
        assert_eq!(ctx.parent_id, 0x00f067aa0ba902b7);
        assert_eq!(ctx.tags["_dd.parent_id"], "0000000000000001");
    }

    #[test]
    fn style_order_and_list_parsing() {
        assert_eq!(
            PropagationStyle::parse_list("tracecontext, Datadog,baggage,bogus"),
            vec![PropagationStyle::TraceContext, PropagationStyle::Datadog]
        );
        assert!(PropagationStyle::parse_list("none").is_empty());
        let c = carrier(&[("x-datadog-trace-id", "5"), ("x-datadog-parent-id", "6")]);
        assert!(extract(&c, &[PropagationStyle::TraceContext]).is_none());
    }

    #[test]
    fn b3_styles() {
        let c = carrier(&[
            ("x-b3-traceid", "463ac35c9f6413ad"),
            ("x-b3-spanid", "a2fb4a1d1a96d312"),
            ("x-b3-sampled", "1"),
        ]);
        let ctx = extract(&c, &[PropagationStyle::B3Multi]).unwrap();
        assert_eq!(
            (ctx.trace_id, ctx.parent_id, ctx.sampling_priority),
            (0x463ac35c9f6413ad, 0xa2fb4a1d1a96d312, Some(1))
        );
        let c = carrier(&[("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d")]);
        let ctx = extract(&c, &[PropagationStyle::B3Single]).unwrap();
        assert_eq!(
            (ctx.trace_id_high, ctx.sampling_priority),
            (0x80f198ee56343ba8, Some(2))
        );
    }

    #[test]
    fn xray_fallback_and_padded_header() {
        let ctx = xray_context(
            "Root=1-5e272390-8c398be037738dc042009320;Parent=94ae789b969f1cc5;Sampled=1",
        )
        .unwrap();
        assert_eq!(ctx.trace_id, 0x37738dc042009320 & 0x7FFF_FFFF_FFFF_FFFF);
        assert_eq!(ctx.parent_id, 0x94ae789b969f1cc5);
        assert_eq!(ctx.sampling_priority, Some(2));
        let ctx = xray_context(
            "Root=1-5e272390-8c398be037738dc042009320;Parent=94ae789b969f1cc5;Sampled=0",
        )
        .unwrap();
        assert_eq!(ctx.sampling_priority, Some(-1));
        assert!(xray_context("Parent=94ae789b969f1cc5").is_none());

        let ctx = padded_aws_trace_header(
            "Root=1-654321ab-000000001234567890abcdef;Parent=0123456789abcdef;Sampled=1",
        )
        .unwrap();
        assert_eq!(
            (ctx.trace_id, ctx.parent_id, ctx.sampling_priority),
            (0x1234567890abcdef, 0x0123456789abcdef, Some(1))
        );
        assert!(padded_aws_trace_header(
            "Root=1-654321ab-8c398be037738dc042009320;Parent=0123456789abcdef;Sampled=1"
        )
        .is_none());
    }
}
