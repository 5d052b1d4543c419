//! Metric series: the JSON body of `POST /api/v2/series` (and the older `/api/v1/series`).
//!
//! v2 shape (what an agent sends, `Content-Type: application/json`, usually zstd):
//!
//! ```json
//! {"series":[{"metric":"my.count","type":1,"interval":10,
//!   "points":[{"timestamp":1700000000,"value":3.0}],
//!   "tags":["functionname:hello","env:prod"],
//!   "resources":[{"name":"my-host","type":"host"}],
//!   "metadata":{"origin":{"origin_product":1,"origin_sub_product":38,"origin_product_detail":472}}}]}
//! ```
//!
//! `type` uses Datadog's public v2 enum: 0 unspecified, 1 count, 2 rate, 3 gauge.
//! Timestamps are Unix **seconds**. v1 differs: `points` are `[[ts, value]]` pairs,
//! `type` is a string (`"gauge"`, `"count"`, `"rate"`) and the host is a `host` field;
//! [`decode_v1`] maps it onto the same [`Series`] type.

use serde::{Deserialize, Serialize};

use crate::intake_error::IntakeDecodeError;

const FORMAT_V2: &str = "series v2 (JSON)";
const FORMAT_V1: &str = "series v1 (JSON)";

/// The body of `POST /api/v2/series`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SeriesPayload {
    pub series: Vec<Series>,
}

/// One metric context (name + tags) with its points.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Series {
    pub metric: String,
    #[serde(rename = "type", default)]
    pub metric_type: MetricType,
    #[serde(default)]
    pub points: Vec<Point>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub resources: Vec<Resource>,
    /// Seconds between points for rates and counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_type_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<SeriesMetadata>,
}

impl Series {
    /// The host this series reports for: the first resource of type `host`.
    pub fn host(&self) -> Option<&str> {
        self.resources
            .iter()
            .find(|r| r.resource_type == "host")
            .map(|r| r.name.as_str())
    }
}

/// One value at one time (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Point {
    pub timestamp: i64,
    pub value: f64,
}

/// What a series applies to, e.g. `{"name":"my-host","type":"host"}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Resource {
    pub name: String,
    #[serde(rename = "type")]
    pub resource_type: String,
}

/// Origin metadata (which product produced the metric).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SeriesMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// Datadog origin triple; serverless custom metrics use product 1, sub product 38, detail 472.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Origin {
    #[serde(default)]
    pub origin_product: u32,
    #[serde(default)]
    pub origin_sub_product: u32,
    #[serde(default)]
    pub origin_product_detail: u32,
}

/// The v2 metric type enum, serialized as its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum MetricType {
    #[default]
    Unspecified,
    Count,
    Rate,
    Gauge,
}

impl MetricType {
    /// The number on the wire (public v2 enum).
    pub fn as_u32(self) -> u32 {
        match self {
            MetricType::Unspecified => 0,
            MetricType::Count => 1,
            MetricType::Rate => 2,
            MetricType::Gauge => 3,
        }
    }

    /// The lower-case name used by v1 and by the lambdascope query API.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Unspecified => "unspecified",
            MetricType::Count => "count",
            MetricType::Rate => "rate",
            MetricType::Gauge => "gauge",
        }
    }

    fn from_u32(value: u32) -> Option<Self> {
        Some(match value {
            0 => MetricType::Unspecified,
            1 => MetricType::Count,
            2 => MetricType::Rate,
            3 => MetricType::Gauge,
            _ => return None,
        })
    }

    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "" | "unspecified" => MetricType::Unspecified,
            "count" => MetricType::Count,
            "rate" => MetricType::Rate,
            "gauge" => MetricType::Gauge,
            _ => return None,
        })
    }
}

impl Serialize for MetricType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.as_u32())
    }
}

impl<'de> Deserialize<'de> for MetricType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = u32::deserialize(d)?;
        MetricType::from_u32(value).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown metric type {value} (expected 0 unspecified, 1 count, 2 rate, 3 gauge)"
            ))
        })
    }
}

/// Encodes a v2 series body (uncompressed JSON).
pub fn encode(payload: &SeriesPayload) -> Vec<u8> {
    serde_json::to_vec(payload).expect("series payload always serializes")
}

/// Decodes a v2 series body (already decompressed).
pub fn decode(body: &[u8]) -> Result<SeriesPayload, IntakeDecodeError> {
    let payload: SeriesPayload =
        serde_json::from_slice(body).map_err(|source| IntakeDecodeError::Json {
            format: FORMAT_V2,
            source,
        })?;
    validate(&payload, FORMAT_V2)?;
    Ok(payload)
}

#[derive(Deserialize)]
struct V1Payload {
    series: Vec<V1Series>,
}

#[derive(Deserialize)]
struct V1Series {
    metric: String,
    #[serde(default)]
    points: Vec<(f64, f64)>,
    #[serde(rename = "type", default)]
    metric_type: Option<String>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    interval: Option<i64>,
}

/// Decodes a v1 series body (`points` as `[[ts, value]]`, string `type`, `host` field).
pub fn decode_v1(body: &[u8]) -> Result<SeriesPayload, IntakeDecodeError> {
    let v1: V1Payload = serde_json::from_slice(body).map_err(|source| IntakeDecodeError::Json {
        format: FORMAT_V1,
        source,
    })?;
    let mut series = Vec::with_capacity(v1.series.len());
    for s in v1.series {
        let type_name = s.metric_type.unwrap_or_default();
        let metric_type = MetricType::from_name(&type_name).ok_or_else(|| {
            IntakeDecodeError::invalid(
                FORMAT_V1,
                format!(
                    "metric {:?}: unknown type {type_name:?} (expected gauge, count or rate)",
                    s.metric
                ),
            )
        })?;
        series.push(Series {
            metric: s.metric,
            metric_type,
            points: s
                .points
                .into_iter()
                .map(|(ts, value)| Point {
                    timestamp: ts as i64,
                    value,
                })
                .collect(),
            tags: s.tags.unwrap_or_default(),
            resources: s
                .host
                .map(|name| {
                    vec![Resource {
                        name,
                        resource_type: "host".into(),
                    }]
                })
                .unwrap_or_default(),
            interval: s.interval,
            ..Series::default()
        });
    }
    let payload = SeriesPayload { series };
    validate(&payload, FORMAT_V1)?;
    Ok(payload)
}

fn validate(payload: &SeriesPayload, format: &'static str) -> Result<(), IntakeDecodeError> {
    for (i, s) in payload.series.iter().enumerate() {
        if s.metric.is_empty() {
            return Err(IntakeDecodeError::invalid(
                format,
                format!("series[{i}] has an empty metric name"),
            ));
        }
        if let Some(p) = s.points.iter().find(|p| !p.value.is_finite()) {
            return Err(IntakeDecodeError::invalid(
                format,
                format!(
                    "series[{i}] ({}) has a non-finite value {}",
                    s.metric, p.value
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_round_trips() {
        let payload = SeriesPayload {
            series: vec![Series {
                metric: "aws.lambda.enhanced.invocations".into(),
                metric_type: MetricType::Count,
                points: vec![Point {
                    timestamp: 1_700_000_000,
                    value: 2.0,
                }],
                tags: vec!["functionname:hello".into()],
                resources: vec![Resource {
                    name: "h".into(),
                    resource_type: "host".into(),
                }],
                interval: Some(10),
                metadata: Some(SeriesMetadata {
                    origin: Some(Origin {
                        origin_product: 1,
                        origin_sub_product: 38,
                        origin_product_detail: 472,
                    }),
                }),
                ..Series::default()
            }],
        };
        let bytes = encode(&payload);
        assert_eq!(decode(&bytes).unwrap(), payload);
        assert_eq!(decode(&bytes).unwrap().series[0].host(), Some("h"));
    }

    #[test]
    fn v1_maps_onto_v2() {
        let body = br#"{"series":[{"metric":"m","points":[[1700000000,1.5]],"type":"gauge","host":"h","tags":["a:b"]}]}"#;
        let p = decode_v1(body).unwrap();
        assert_eq!(p.series[0].metric_type, MetricType::Gauge);
        assert_eq!(p.series[0].points[0].value, 1.5);
        assert_eq!(p.series[0].host(), Some("h"));
    }

    #[test]
    fn rejects_unknown_type_and_empty_name() {
        let err = decode(br#"{"series":[{"metric":"m","type":9,"points":[]}]}"#).unwrap_err();
        assert!(err.to_string().contains("unknown metric type 9"), "{err}");
        let err = decode(br#"{"series":[{"metric":"","type":1,"points":[]}]}"#).unwrap_err();
        assert!(err.to_string().contains("empty metric name"), "{err}");
    }
}
