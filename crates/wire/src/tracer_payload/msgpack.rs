//! A zero-copy msgpack reader over a byte slice, and the `/v0.4/traces` and `/v0.5/traces`
//! msgpack decoders built on it.
//!
//! Written against `rmp::Marker` rather than through serde so that a span decodes straight
//! into the intake `Span` with one pass and no intermediate values, and so that every
//! length is checked against the bytes that remain: a 4-byte header claiming four billion
//! elements cannot make us allocate.

use std::collections::BTreeMap;

use rmp::Marker;

use super::{TracePayloadError, Traces};
use crate::agent_payload::{Span, SpanLink};

/// Nesting deeper than this (inside values we skip) is rejected rather than recursed into.
const MAX_DEPTH: usize = 64;

pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

type Result<T> = std::result::Result<T, TracePayloadError>;

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(TracePayloadError::Truncated { offset: self.pos });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> Result<u64> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn marker(&mut self) -> Result<Marker> {
        Ok(Marker::from_u8(self.take(1)?[0]))
    }

    fn peek_nil(&mut self) -> bool {
        if self.buf.get(self.pos) == Some(&0xc0) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn unexpected<T>(&self, expected: &'static str, found: Marker) -> Result<T> {
        Err(TracePayloadError::UnexpectedType {
            expected,
            found: format!("{found:?}"),
            offset: self.pos.saturating_sub(1),
        })
    }

    /// A length that cannot exceed the bytes left (each element takes at least one byte).
    fn checked_len(&self, len: u64) -> Result<usize> {
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > self.remaining() {
            return Err(TracePayloadError::Truncated { offset: self.pos });
        }
        Ok(len)
    }

    pub(super) fn array_len(&mut self) -> Result<usize> {
        let len = match self.marker()? {
            Marker::FixArray(n) => u64::from(n),
            Marker::Array16 => self.be(2)?,
            Marker::Array32 => self.be(4)?,
            Marker::Null => 0,
            m => return self.unexpected("array", m),
        };
        self.checked_len(len)
    }

    fn map_len(&mut self) -> Result<usize> {
        let len = match self.marker()? {
            Marker::FixMap(n) => u64::from(n),
            Marker::Map16 => self.be(2)?,
            Marker::Map32 => self.be(4)?,
            Marker::Null => 0,
            m => return self.unexpected("map", m),
        };
        self.checked_len(len)
    }

    fn raw_str(&mut self, m: Marker) -> Result<Option<&'a [u8]>> {
        let len = match m {
            Marker::FixStr(n) => usize::from(n),
            Marker::Str8 | Marker::Bin8 => self.be(1)? as usize,
            Marker::Str16 | Marker::Bin16 => self.be(2)? as usize,
            Marker::Str32 | Marker::Bin32 => self.be(4)? as usize,
            _ => return Ok(None),
        };
        Ok(Some(self.take(len)?))
    }

    /// A string (bin is accepted too; nil reads as empty).
    pub(super) fn str(&mut self) -> Result<&'a str> {
        let m = self.marker()?;
        if m == Marker::Null {
            return Ok("");
        }
        match self.raw_str(m)? {
            Some(bytes) => std::str::from_utf8(bytes)
                .map_err(|_| TracePayloadError::InvalidUtf8 { offset: self.pos }),
            None => self.unexpected("string", m),
        }
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let m = self.marker()?;
        if m == Marker::Null {
            return Ok(&[]);
        }
        match self.raw_str(m)? {
            Some(bytes) => Ok(bytes),
            None => self.unexpected("bytes", m),
        }
    }

    /// Any number as i128 (floats truncate), so ids and times of any msgpack width fit.
    fn integer(&mut self) -> Result<i128> {
        let m = self.marker()?;
        Ok(match m {
            Marker::FixPos(n) => i128::from(n),
            Marker::FixNeg(n) => i128::from(n),
            Marker::U8 => self.be(1)?.into(),
            Marker::U16 => self.be(2)?.into(),
            Marker::U32 => self.be(4)?.into(),
            Marker::U64 => self.be(8)?.into(),
            Marker::I8 => i128::from(self.be(1)? as u8 as i8),
            Marker::I16 => i128::from(self.be(2)? as u16 as i16),
            Marker::I32 => i128::from(self.be(4)? as u32 as i32),
            Marker::I64 => i128::from(self.be(8)? as i64),
            Marker::F32 => f32::from_bits(self.be(4)? as u32) as i128,
            Marker::F64 => f64::from_bits(self.be(8)?) as i128,
            Marker::Null => 0,
            m => return self.unexpected("integer", m),
        })
    }

    pub(super) fn u64(&mut self) -> Result<u64> {
        // Tracers that only have signed 64-bit integers send large ids as negatives.
        let v = self.integer()?;
        Ok(if v < 0 { v as i64 as u64 } else { v as u64 })
    }

    pub(super) fn i64(&mut self) -> Result<i64> {
        Ok(self
            .integer()?
            .clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
    }

    pub(super) fn i32(&mut self) -> Result<i32> {
        Ok(self
            .integer()?
            .clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32)
    }

    /// A float (integers widen); `None` for nil.
    pub(super) fn f64(&mut self) -> Result<Option<f64>> {
        let m = self.marker()?;
        Ok(Some(match m {
            Marker::F32 => f64::from(f32::from_bits(self.be(4)? as u32)),
            Marker::F64 => f64::from_bits(self.be(8)?),
            Marker::Null => return Ok(None),
            _ => {
                self.pos -= 1;
                self.integer()? as f64
            }
        }))
    }

    /// Skips one value of any type.
    pub(super) fn skip(&mut self, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(TracePayloadError::TooDeep { offset: self.pos });
        }
        let m = self.marker()?;
        let fixed = match m {
            Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null | Marker::True | Marker::False => {
                0
            }
            Marker::U8 | Marker::I8 => 1,
            Marker::U16 | Marker::I16 => 2,
            Marker::U32 | Marker::I32 | Marker::F32 => 4,
            Marker::U64 | Marker::I64 | Marker::F64 => 8,
            Marker::FixExt1 => 2,
            Marker::FixExt2 => 3,
            Marker::FixExt4 => 5,
            Marker::FixExt8 => 9,
            Marker::FixExt16 => 17,
            Marker::Ext8 => 1 + self.be(1)? as usize,
            Marker::Ext16 => 1 + self.be(2)? as usize,
            Marker::Ext32 => 1 + self.be(4)? as usize,
            Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => {
                self.pos -= 1;
                for _ in 0..self.array_len()? {
                    self.skip(depth + 1)?;
                }
                return Ok(());
            }
            Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => {
                self.pos -= 1;
                for _ in 0..self.map_len()? {
                    self.skip(depth + 1)?;
                    self.skip(depth + 1)?;
                }
                return Ok(());
            }
            Marker::Reserved => return self.unexpected("a msgpack value", m),
            _ => {
                self.raw_str(m)?;
                return Ok(());
            }
        };
        self.take(fixed)?;
        Ok(())
    }

    fn string_map(&mut self) -> Result<BTreeMap<String, String>> {
        let mut map = BTreeMap::new();
        for _ in 0..self.map_len()? {
            let key = self.str()?;
            if self.peek_nil() {
                continue;
            }
            let value = self.str()?;
            map.insert(key.to_string(), value.to_string());
        }
        Ok(map)
    }

    fn number_map(&mut self) -> Result<BTreeMap<String, f64>> {
        let mut map = BTreeMap::new();
        for _ in 0..self.map_len()? {
            let key = self.str()?;
            if let Some(v) = self.f64()? {
                map.insert(key.to_string(), v);
            }
        }
        Ok(map)
    }

    fn bytes_map(&mut self) -> Result<BTreeMap<String, Vec<u8>>> {
        let mut map = BTreeMap::new();
        for _ in 0..self.map_len()? {
            let key = self.str()?.to_string();
            map.insert(key, self.bytes()?.to_vec());
        }
        Ok(map)
    }
}

/// `/v0.4/traces`: an array of traces, each an array of span maps.
pub(super) fn decode_v04(body: &[u8]) -> Result<Traces> {
    let mut r = Reader::new(body);
    let n_traces = r.array_len()?;
    let mut traces = Vec::with_capacity(n_traces);
    for _ in 0..n_traces {
        let n_spans = r.array_len()?;
        let mut trace = Vec::with_capacity(n_spans);
        for _ in 0..n_spans {
            trace.push(v04_span(&mut r)?);
        }
        traces.push(trace);
    }
    trailing(&r)?;
    Ok(traces)
}

fn trailing(r: &Reader<'_>) -> Result<()> {
    if r.at_end() {
        Ok(())
    } else {
        Err(TracePayloadError::TrailingBytes { offset: r.pos })
    }
}

fn v04_span(r: &mut Reader<'_>) -> Result<Span> {
    let mut span = Span::default();
    for _ in 0..r.map_len()? {
        match r.str()? {
            "service" => span.service = r.str()?.to_string(),
            "name" => span.name = r.str()?.to_string(),
            "resource" => span.resource = r.str()?.to_string(),
            "type" => span.r#type = r.str()?.to_string(),
            "trace_id" => span.trace_id = r.u64()?,
            "span_id" => span.span_id = r.u64()?,
            "parent_id" => span.parent_id = r.u64()?,
            "start" => span.start = r.i64()?,
            "duration" => span.duration = r.i64()?,
            "error" => span.error = r.i32()?,
            "meta" => span.meta = r.string_map()?,
            "metrics" => span.metrics = r.number_map()?,
            "meta_struct" => span.meta_struct = r.bytes_map()?,
            "span_links" => {
                for _ in 0..r.array_len()? {
                    span.span_links.push(span_link(r)?);
                }
            }
            _ => r.skip(0)?,
        }
    }
    Ok(span)
}

fn span_link(r: &mut Reader<'_>) -> Result<SpanLink> {
    let mut link = SpanLink::default();
    for _ in 0..r.map_len()? {
        match r.str()? {
            "trace_id" => link.trace_id = r.u64()?,
            "trace_id_high" => link.trace_id_high = r.u64()?,
            "span_id" => link.span_id = r.u64()?,
            "attributes" => link.attributes = r.string_map()?,
            "tracestate" => link.tracestate = r.str()?.to_string(),
            "flags" => link.flags = r.u64()? as u32,
            _ => r.skip(0)?,
        }
    }
    Ok(link)
}

/// `/v0.5/traces`: `[string table, traces]`; a span is a 12-element array whose strings
/// are indices into the table: service, name, resource, trace_id, span_id, parent_id,
/// start, duration, error, meta, metrics, type.
pub(super) fn decode_v05(body: &[u8]) -> Result<Traces> {
    let mut r = Reader::new(body);
    if r.array_len()? != 2 {
        return Err(TracePayloadError::Invalid(
            "a v0.5 payload is a 2-element array: [strings, traces]".into(),
        ));
    }
    let n_strings = r.array_len()?;
    let mut strings = Vec::with_capacity(n_strings);
    for _ in 0..n_strings {
        strings.push(r.str()?);
    }
    let n_traces = r.array_len()?;
    let mut traces = Vec::with_capacity(n_traces);
    for _ in 0..n_traces {
        let n_spans = r.array_len()?;
        let mut trace = Vec::with_capacity(n_spans);
        for _ in 0..n_spans {
            trace.push(v05_span(&mut r, &strings)?);
        }
        traces.push(trace);
    }
    trailing(&r)?;
    Ok(traces)
}

fn v05_span(r: &mut Reader<'_>, strings: &[&str]) -> Result<Span> {
    let len = r.array_len()?;
    if len != 12 {
        return Err(TracePayloadError::Invalid(format!(
            "a v0.5 span is a 12-element array, found {len} elements"
        )));
    }
    let string = |r: &mut Reader<'_>| -> Result<String> {
        let index = r.u64()?;
        strings.get(index as usize).map(|s| s.to_string()).ok_or(
            TracePayloadError::BadStringIndex {
                index,
                table_len: strings.len(),
            },
        )
    };
    let mut span = Span {
        service: string(r)?,
        name: string(r)?,
        resource: string(r)?,
        trace_id: r.u64()?,
        span_id: r.u64()?,
        parent_id: r.u64()?,
        start: r.i64()?,
        duration: r.i64()?,
        error: r.i32()?,
        ..Default::default()
    };
    for _ in 0..r.map_len()? {
        let key = string(r)?;
        let value = string(r)?;
        span.meta.insert(key, value);
    }
    for _ in 0..r.map_len()? {
        let key = string(r)?;
        if let Some(v) = r.f64()? {
            span.metrics.insert(key, v);
        }
    }
    span.r#type = string(r)?;
    Ok(span)
}
