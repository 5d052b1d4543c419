//! `datadog.agentpayload.SketchPayload`: the protobuf body of `POST /api/beta/sketches`.
//!
//! Hand-written `prost` structs with Datadog's field numbers (no protoc step):
//!
//! ```text
//! SketchPayload { repeated Sketch sketches = 1; CommonMetadata metadata = 2; }
//! Sketch { string metric = 1; string host = 2; repeated Distribution distributions = 3;
//!          repeated string tags = 4; reserved 5, 6; repeated Dogsketch dogsketches = 7;
//!          Metadata metadata = 8; }
//! Dogsketch { int64 ts = 1; int64 cnt = 2; double min = 3; double max = 4; double avg = 5;
//!             double sum = 6; repeated sint32 k = 7; repeated uint32 n = 8; }
//! Metadata { Origin origin = 1; }  Origin { uint32 origin_product = 4; origin_category = 5; origin_service = 6; }
//! ```
//!
//! `ts` is Unix seconds. Use [`crate::sketch::AgentSketch`] to build or read `k`/`n`.

use prost::Message;

use crate::intake_error::IntakeDecodeError;

const FORMAT: &str = "SketchPayload (protobuf)";

#[derive(Clone, PartialEq, Message)]
pub struct SketchPayload {
    #[prost(message, repeated, tag = "1")]
    pub sketches: Vec<Sketch>,
    #[prost(message, optional, tag = "2")]
    pub metadata: Option<CommonMetadata>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Sketch {
    #[prost(string, tag = "1")]
    pub metric: String,
    #[prost(string, tag = "2")]
    pub host: String,
    /// The legacy GK form; agents leave it empty and the server ignores it.
    #[prost(message, repeated, tag = "3")]
    pub distributions: Vec<Distribution>,
    #[prost(string, repeated, tag = "4")]
    pub tags: Vec<String>,
    #[prost(message, repeated, tag = "7")]
    pub dogsketches: Vec<Dogsketch>,
    #[prost(message, optional, tag = "8")]
    pub metadata: Option<Metadata>,
}

/// One sketch at one time: summary statistics plus the `k`/`n` bins.
#[derive(Clone, PartialEq, Message)]
pub struct Dogsketch {
    #[prost(int64, tag = "1")]
    pub ts: i64,
    #[prost(int64, tag = "2")]
    pub cnt: i64,
    #[prost(double, tag = "3")]
    pub min: f64,
    #[prost(double, tag = "4")]
    pub max: f64,
    #[prost(double, tag = "5")]
    pub avg: f64,
    #[prost(double, tag = "6")]
    pub sum: f64,
    #[prost(sint32, repeated, tag = "7")]
    pub k: Vec<i32>,
    #[prost(uint32, repeated, tag = "8")]
    pub n: Vec<u32>,
}

/// Legacy distribution form (field 3 of `Sketch`), decoded only so it can be skipped.
#[derive(Clone, PartialEq, Message)]
pub struct Distribution {
    #[prost(int64, tag = "1")]
    pub ts: i64,
    #[prost(int64, tag = "2")]
    pub cnt: i64,
    #[prost(double, tag = "3")]
    pub min: f64,
    #[prost(double, tag = "4")]
    pub max: f64,
    #[prost(double, tag = "5")]
    pub avg: f64,
    #[prost(double, tag = "6")]
    pub sum: f64,
    #[prost(double, repeated, tag = "7")]
    pub v: Vec<f64>,
    #[prost(uint32, repeated, tag = "8")]
    pub g: Vec<u32>,
    #[prost(uint32, repeated, tag = "9")]
    pub delta: Vec<u32>,
    #[prost(double, repeated, tag = "10")]
    pub buf: Vec<f64>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Metadata {
    #[prost(message, optional, tag = "1")]
    pub origin: Option<Origin>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Origin {
    #[prost(uint32, tag = "4")]
    pub origin_product: u32,
    #[prost(uint32, tag = "5")]
    pub origin_category: u32,
    #[prost(uint32, tag = "6")]
    pub origin_service: u32,
}

#[derive(Clone, PartialEq, Message)]
pub struct CommonMetadata {
    #[prost(string, tag = "1")]
    pub agent_version: String,
    #[prost(string, tag = "2")]
    pub timezone: String,
    #[prost(double, tag = "3")]
    pub current_epoch: f64,
    #[prost(string, tag = "4")]
    pub internal_ip: String,
    #[prost(string, tag = "5")]
    pub public_ip: String,
    #[prost(string, tag = "6")]
    pub api_key: String,
}

/// Encodes a sketch payload (uncompressed protobuf).
pub fn encode(payload: &SketchPayload) -> Vec<u8> {
    payload.encode_to_vec()
}

/// Decodes a sketch payload (already decompressed) and checks every sketch's bins.
pub fn decode(body: &[u8]) -> Result<SketchPayload, IntakeDecodeError> {
    let payload = SketchPayload::decode(body).map_err(|source| IntakeDecodeError::Protobuf {
        format: FORMAT,
        source,
    })?;
    for (i, sketch) in payload.sketches.iter().enumerate() {
        if sketch.metric.is_empty() {
            return Err(IntakeDecodeError::invalid(
                FORMAT,
                format!("sketches[{i}] has an empty metric name"),
            ));
        }
        for d in &sketch.dogsketches {
            crate::sketch::AgentSketch::from_dogsketch(d).map_err(|e| {
                IntakeDecodeError::invalid(
                    FORMAT,
                    format!("sketches[{i}] ({}): {e}", sketch.metric),
                )
            })?;
        }
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sketch::AgentSketch;

    #[test]
    fn round_trips_and_keeps_field_numbers() {
        let mut s = AgentSketch::new();
        s.insert(0.25);
        s.insert(3.0);
        let payload = SketchPayload {
            sketches: vec![Sketch {
                metric: "aws.lambda.enhanced.duration".into(),
                host: "h".into(),
                tags: vec!["functionname:f".into()],
                dogsketches: vec![s.to_dogsketch(1_700_000_000)],
                metadata: Some(Metadata {
                    origin: Some(Origin {
                        origin_product: 1,
                        origin_category: 38,
                        origin_service: 473,
                    }),
                }),
                ..Default::default()
            }],
            metadata: None,
        };
        let bytes = encode(&payload);
        // Field 1 of SketchPayload, wire type 2 (length-delimited): tag byte 0x0a.
        assert_eq!(bytes[0], 0x0a);
        assert_eq!(decode(&bytes).unwrap(), payload);
    }

    #[test]
    fn truncated_body_is_an_error() {
        let mut s = AgentSketch::new();
        s.insert(1.0);
        let payload = SketchPayload {
            sketches: vec![Sketch {
                metric: "m".into(),
                dogsketches: vec![s.to_dogsketch(1)],
                ..Default::default()
            }],
            metadata: None,
        };
        let bytes = encode(&payload);
        assert!(decode(&bytes[..bytes.len() - 3]).is_err());
    }
}
