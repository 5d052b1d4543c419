//! Aggregates DogStatsD lines and enhanced points into 10-second buckets per context
//! (name + type + tag set), then builds the intake payloads.
//!
//! A context is keyed by a 64-bit hash that does not depend on tag order, so the hot path
//! (an existing context) allocates nothing. The number of contexts is bounded; points for
//! new contexts beyond it are dropped and counted.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use lambdascope_wire::dogstatsd::{self, Line, MetricKind, MetricLine};
use lambdascope_wire::series::{MetricType, Origin, Point, Series, SeriesMetadata, SeriesPayload};
use lambdascope_wire::sketch::AgentSketch;
use lambdascope_wire::sketch_payload::{self, Sketch, SketchPayload};

use super::tags::FunctionTags;
use crate::invocation::EnhancedPoint;

/// Points are grouped per this many seconds.
pub const BUCKET_SECONDS: i64 = 10;
/// Contexts held at once (as Datadog's extension).
pub const MAX_CONTEXTS: usize = 10_240;
/// Series or sketches per payload.
pub const MAX_PER_PAYLOAD: usize = 1000;

/// Datadog origin metadata: product Serverless, category LambdaMetrics.
const ORIGIN_PRODUCT: u32 = 1;
const ORIGIN_CATEGORY: u32 = 38;
const ORIGIN_SERVICE_CUSTOM: u32 = 472;
const ORIGIN_SERVICE_ENHANCED: u32 = 473;

/// Passes a precomputed u64 key through unchanged.
#[derive(Default)]
struct KeyHasher(u64);
impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

fn fnv(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

const FNV_SEED: u64 = 0xcbf2_9ce4_8422_2325;

/// Mixes a tag hash so that summing many of them stays well distributed.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Count,
    Gauge,
    Set,
    Distribution,
}

#[derive(Debug)]
enum Value {
    Count(f64),
    Gauge(f64),
    Set(HashSet<u64>),
    Sketch(AgentSketch),
}

#[derive(Debug)]
struct Context {
    name: String,
    tags: Vec<String>,
    bucket: i64,
    enhanced: bool,
    value: Value,
}

/// Counters of what was accepted and what was not.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IngestStats {
    pub lines: u64,
    pub malformed: u64,
    pub unsupported: u64,
    pub dropped_points: u64,
    pub truncated_tags: u64,
}

/// The payloads of one flush.
#[derive(Debug, Default)]
pub struct MetricPayloads {
    pub series: Vec<SeriesPayload>,
    pub sketches: Vec<SketchPayload>,
}

pub struct Aggregator {
    namespace: Option<String>,
    contexts: HashMap<u64, Context, BuildHasherDefault<KeyHasher>>,
    pub stats: IngestStats,
    last_malformed_log: Option<i64>,
}

impl Aggregator {
    pub fn new(namespace: Option<String>) -> Self {
        Aggregator {
            namespace,
            contexts: HashMap::default(),
            stats: IngestStats::default(),
            last_malformed_log: None,
        }
    }

    pub fn context_count(&self) -> usize {
        self.contexts.len()
    }

    /// Parses and aggregates one datagram; bad lines are counted and skipped.
    pub fn ingest_datagram(&mut self, datagram: &[u8], now_s: i64) {
        for raw in dogstatsd::lines(datagram) {
            self.stats.lines += 1;
            match dogstatsd::parse_line_bytes(raw) {
                Ok(Line::Metric(m)) => self.insert_line(&m, now_s),
                Ok(Line::Event | Line::ServiceCheck) => self.stats.unsupported += 1,
                Err(err) => {
                    self.stats.malformed += 1;
                    // One message per bucket at most, so a broken client cannot flood the logs.
                    if self.last_malformed_log != Some(now_s / BUCKET_SECONDS) {
                        self.last_malformed_log = Some(now_s / BUCKET_SECONDS);
                        tracing::warn!(
                            line = %String::from_utf8_lossy(&raw[..raw.len().min(200)]),
                            %err,
                            total = self.stats.malformed,
                            "skipped a malformed DogStatsD line"
                        );
                    }
                }
            }
        }
    }

    fn key(&self, name: &str, class: Class, tags: &[&str], bucket: i64, enhanced: bool) -> u64 {
        let mut h = FNV_SEED;
        if let (Some(ns), false) = (&self.namespace, enhanced) {
            h = fnv(h, ns.as_bytes());
        }
        h = fnv(h, name.as_bytes());
        let mut tag_sum = 0u64;
        for t in tags {
            tag_sum = tag_sum.wrapping_add(mix(fnv(FNV_SEED, t.as_bytes())));
        }
        h ^ mix(tag_sum ^ (class as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
            ^ mix(bucket as u64).rotate_left(17)
            ^ u64::from(enhanced)
    }

    fn context(
        &mut self,
        name: &str,
        class: Class,
        tags: &[&str],
        bucket: i64,
        enhanced: bool,
    ) -> Option<&mut Context> {
        let key = self.key(name, class, tags, bucket, enhanced);
        if !self.contexts.contains_key(&key) {
            if self.contexts.len() >= MAX_CONTEXTS {
                self.stats.dropped_points += 1;
                return None;
            }
            let full_name = match (&self.namespace, enhanced) {
                (Some(ns), false) => format!("{ns}{name}"),
                _ => name.to_string(),
            };
            let value = match class {
                Class::Count => Value::Count(0.0),
                Class::Gauge => Value::Gauge(0.0),
                Class::Set => Value::Set(HashSet::new()),
                Class::Distribution => Value::Sketch(AgentSketch::new()),
            };
            self.contexts.insert(
                key,
                Context {
                    name: full_name,
                    tags: tags.iter().map(|t| t.to_string()).collect(),
                    bucket,
                    enhanced,
                    value,
                },
            );
        }
        self.contexts.get_mut(&key)
    }

    pub fn insert_line(&mut self, m: &MetricLine<'_>, now_s: i64) {
        let bucket = m.timestamp.unwrap_or(now_s).div_euclid(BUCKET_SECONDS) * BUCKET_SECONDS;
        let mut tags: Vec<&str> = m.tags().collect();
        if m.tag_count() > tags.len() {
            self.stats.truncated_tags += 1;
        }
        tags.sort_unstable();
        tags.dedup();
        let class = match m.kind {
            MetricKind::Count => Class::Count,
            MetricKind::Gauge => Class::Gauge,
            MetricKind::Set => Class::Set,
            _ => Class::Distribution,
        };
        let rate = m.sample_rate;
        let Some(ctx) = self.context(m.name, class, &tags, bucket, false) else {
            return;
        };
        match &mut ctx.value {
            Value::Count(sum) => *sum += m.values().map(|v| v / rate).sum::<f64>(),
            Value::Gauge(last) => {
                if let Some(v) = m.values().last() {
                    *last = v;
                }
            }
            Value::Set(members) => {
                members.extend(m.set_values().map(|v| fnv(FNV_SEED, v.as_bytes())))
            }
            Value::Sketch(sketch) => {
                let weight = (1.0 / rate).round().clamp(1.0, u32::MAX as f64) as u32;
                for v in m.values() {
                    sketch.insert_n(v, weight);
                }
            }
        }
    }

    pub fn insert_enhanced(&mut self, point: &EnhancedPoint) {
        let bucket = point.timestamp.div_euclid(BUCKET_SECONDS) * BUCKET_SECONDS;
        let tags: Vec<&str> = point.tags.iter().map(String::as_str).collect();
        if let Some(ctx) = self.context(&point.name, Class::Distribution, &tags, bucket, true) {
            if let Value::Sketch(s) = &mut ctx.value {
                s.insert(point.value);
            }
        }
    }

    /// Drains every context into intake payloads, adding the function tags.
    pub fn take_payloads(&mut self, function_tags: &FunctionTags) -> MetricPayloads {
        let all = function_tags.all();
        let custom = function_tags.for_custom_metrics();
        let mut series = Vec::new();
        let mut sketches = Vec::new();
        for (_, ctx) in self.contexts.drain() {
            let mut tags = ctx.tags;
            tags.extend(
                if ctx.enhanced {
                    all.iter()
                } else {
                    custom.iter()
                }
                .cloned(),
            );
            let service = if ctx.enhanced {
                ORIGIN_SERVICE_ENHANCED
            } else {
                ORIGIN_SERVICE_CUSTOM
            };
            let (metric_type, value) = match ctx.value {
                Value::Count(v) => (MetricType::Count, v),
                Value::Gauge(v) => (MetricType::Gauge, v),
                Value::Set(members) => (MetricType::Gauge, members.len() as f64),
                Value::Sketch(sketch) => {
                    if !sketch.is_empty() {
                        sketches.push(Sketch {
                            metric: ctx.name,
                            host: String::new(),
                            distributions: Vec::new(),
                            tags,
                            dogsketches: vec![sketch.to_dogsketch(ctx.bucket)],
                            metadata: Some(sketch_payload::Metadata {
                                origin: Some(sketch_payload::Origin {
                                    origin_product: ORIGIN_PRODUCT,
                                    origin_category: ORIGIN_CATEGORY,
                                    origin_service: service,
                                }),
                            }),
                        });
                    }
                    continue;
                }
            };
            series.push(Series {
                metric: ctx.name,
                metric_type,
                points: vec![Point {
                    timestamp: ctx.bucket,
                    value,
                }],
                tags,
                resources: Vec::new(),
                interval: (metric_type == MetricType::Count).then_some(BUCKET_SECONDS),
                unit: None,
                source_type_name: None,
                metadata: Some(SeriesMetadata {
                    origin: Some(Origin {
                        origin_product: ORIGIN_PRODUCT,
                        origin_sub_product: ORIGIN_CATEGORY,
                        origin_product_detail: service,
                    }),
                }),
            });
        }
        let mut out = MetricPayloads::default();
        while !series.is_empty() {
            let rest = series.split_off(series.len().min(MAX_PER_PAYLOAD));
            out.series.push(SeriesPayload { series });
            series = rest;
        }
        while !sketches.is_empty() {
            let rest = sketches.split_off(sketches.len().min(MAX_PER_PAYLOAD));
            out.sketches.push(SketchPayload {
                sketches,
                metadata: None,
            });
            sketches = rest;
        }
        out
    }
}

#[cfg(test)]
#[path = "aggregator_tests.rs"]
mod tests;
