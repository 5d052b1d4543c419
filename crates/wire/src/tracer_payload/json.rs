//! `/v0.4/traces` as JSON (`Content-Type: application/json`), decoded straight into the
//! intake `Span` through serde (no intermediate `Value` tree). Numbers may be integers or
//! floats, `null` fields count as absent, non-string meta values are kept as their JSON text,
//! unknown fields are ignored.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::{TracePayloadError, Traces};
use crate::agent_payload::{Span, SpanLink};

/// A JSON number of any kind (or null, read as 0).
#[derive(Clone, Copy, Default)]
enum Num {
    #[default]
    Zero,
    U(u64),
    I(i64),
    F(f64),
}

impl Num {
    fn u64(self) -> u64 {
        match self {
            Num::Zero => 0,
            Num::U(v) => v,
            Num::I(v) => v as u64,
            Num::F(v) => v as u64,
        }
    }
    fn i64(self) -> i64 {
        match self {
            Num::Zero => 0,
            Num::U(v) => v.min(i64::MAX as u64) as i64,
            Num::I(v) => v,
            Num::F(v) => v as i64,
        }
    }
    fn f64(self) -> f64 {
        match self {
            Num::Zero => 0.0,
            Num::U(v) => v as f64,
            Num::I(v) => v as f64,
            Num::F(v) => v,
        }
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Num, E> {
                Ok(Num::U(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Num, E> {
                Ok(Num::I(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Num, E> {
                Ok(Num::F(v))
            }
            fn visit_unit<E>(self) -> Result<Num, E> {
                Ok(Num::Zero)
            }
        }
        d.deserialize_any(V)
    }
}

/// A meta value: strings as they are, other scalars and structures as JSON text, null as none.
struct MetaValue(Option<String>);

impl<'de> Deserialize<'de> for MetaValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MetaValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a tag value")
            }
            fn visit_str<E>(self, v: &str) -> Result<MetaValue, E> {
                Ok(MetaValue(Some(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<MetaValue, E> {
                Ok(MetaValue(Some(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<MetaValue, E> {
                Ok(MetaValue(Some(v.to_string())))
            }
            fn visit_i64<E>(self, v: i64) -> Result<MetaValue, E> {
                Ok(MetaValue(Some(v.to_string())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<MetaValue, E> {
                Ok(MetaValue(Some(Value::from(v).to_string())))
            }
            fn visit_bool<E>(self, v: bool) -> Result<MetaValue, E> {
                Ok(MetaValue(Some(v.to_string())))
            }
            fn visit_unit<E>(self) -> Result<MetaValue, E> {
                Ok(MetaValue(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<MetaValue, A::Error> {
                let v = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(MetaValue(Some(v.to_string())))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<MetaValue, A::Error> {
                let v = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(MetaValue(Some(v.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(expecting = "a span as a JSON object")]
struct JsonSpan {
    service: Option<String>,
    name: Option<String>,
    resource: Option<String>,
    #[serde(rename = "type")]
    span_type: Option<String>,
    #[serde(default)]
    trace_id: Num,
    #[serde(default)]
    span_id: Num,
    #[serde(default)]
    parent_id: Num,
    #[serde(default)]
    start: Num,
    #[serde(default)]
    duration: Num,
    #[serde(default)]
    error: Num,
    meta: Option<BTreeMap<String, MetaValue>>,
    metrics: Option<BTreeMap<String, Option<Num>>>,
    span_links: Option<Vec<JsonLink>>,
}

#[derive(Deserialize)]
struct JsonLink {
    #[serde(default)]
    trace_id: Num,
    #[serde(default)]
    trace_id_high: Num,
    #[serde(default)]
    span_id: Num,
    attributes: Option<BTreeMap<String, MetaValue>>,
    tracestate: Option<String>,
    #[serde(default)]
    flags: Num,
}

fn strings(map: Option<BTreeMap<String, MetaValue>>) -> BTreeMap<String, String> {
    map.into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k, v.0?)))
        .collect()
}

impl From<JsonSpan> for Span {
    fn from(s: JsonSpan) -> Span {
        Span {
            service: s.service.unwrap_or_default(),
            name: s.name.unwrap_or_default(),
            resource: s.resource.unwrap_or_default(),
            trace_id: s.trace_id.u64(),
            span_id: s.span_id.u64(),
            parent_id: s.parent_id.u64(),
            start: s.start.i64(),
            duration: s.duration.i64(),
            error: s.error.i64().clamp(i32::MIN.into(), i32::MAX.into()) as i32,
            meta: strings(s.meta),
            metrics: s
                .metrics
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k, v?.f64())))
                .collect(),
            r#type: s.span_type.unwrap_or_default(),
            meta_struct: BTreeMap::new(),
            span_links: s
                .span_links
                .into_iter()
                .flatten()
                .map(|l| SpanLink {
                    trace_id: l.trace_id.u64(),
                    trace_id_high: l.trace_id_high.u64(),
                    span_id: l.span_id.u64(),
                    attributes: strings(l.attributes),
                    tracestate: l.tracestate.unwrap_or_default(),
                    flags: l.flags.u64() as u32,
                })
                .collect(),
        }
    }
}

pub(super) fn decode_v04_json(body: &[u8]) -> Result<Traces, TracePayloadError> {
    let traces: Vec<Vec<JsonSpan>> = serde_json::from_slice(body)?;
    Ok(traces
        .into_iter()
        .map(|t| t.into_iter().map(Span::from).collect())
        .collect())
}
