//! Log entries: the JSON body of `POST /api/v2/logs`.
//!
//! The body is a JSON array of entries (a single object is accepted too). Two entry
//! shapes exist and both decode to the same [`LogEntry`]:
//!
//! - **flat** (Datadog public logs API; what lambdascope's extension sends):
//!   `{"message":"text","timestamp":1700000000000,"status":"info","hostname":"<arn>",
//!     "service":"svc","ddsource":"lambda","ddtags":"k:v,k2:v2",
//!     "lambda":{"arn":"...","request_id":"..."},"dd":{"trace_id":"123","span_id":"456"}}`
//! - **agent** (Datadog's extension, `DD-PROTOCOL: agent-json`): the same outer fields,
//!   but `message` is an object `{"message":"text","lambda":{...},"timestamp":<ms>,"status":"info"}`.
//!
//! Timestamps are Unix **milliseconds** (a number, a numeric string or RFC 3339 text).
//! `dd.trace_id` is the decimal low 64 bits of the trace id.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use crate::intake_error::IntakeDecodeError;

const FORMAT: &str = "logs (JSON)";

/// One log line with the attributes the server indexes.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct LogEntry {
    pub message: String,
    /// Unix milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ddsource: Option<String>,
    /// Comma-separated `key:value` tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ddtags: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lambda: Option<LambdaContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dd: Option<TraceContext>,
}

impl LogEntry {
    /// The tags in `ddtags`, split and trimmed.
    pub fn tags(&self) -> impl Iterator<Item = &str> {
        self.ddtags
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }

    /// The value of the first `key:value` tag with this key.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags()
            .find_map(|t| t.strip_prefix(key).and_then(|rest| rest.strip_prefix(':')))
    }
}

/// Which function and invocation produced the line.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LambdaContext {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_text"
    )]
    pub arn: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_text"
    )]
    pub request_id: Option<String>,
}

/// Trace correlation ids (decimal strings).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TraceContext {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_text"
    )]
    pub trace_id: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_text"
    )]
    pub span_id: Option<String>,
}

/// Accepts a string or a number and keeps it as text (ids arrive both ways).
/// A visitor rather than an untagged enum: untagged enums buffer every value first,
/// which doubled the cost of decoding a log line.
fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct TextVisitor;
    impl<'de> de::Visitor<'de> for TextVisitor {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string, a number or null")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(TextVisitor)
        }
    }
    d.deserialize_option(TextVisitor)
}

/// Unix milliseconds from a number, a numeric string or RFC 3339 text.
fn opt_millis<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct MillisVisitor;
    impl<'de> de::Visitor<'de> for MillisVisitor {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Unix milliseconds (a number) or RFC 3339 text")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            i64::try_from(v)
                .map(Some)
                .map_err(|_| E::custom(format!("timestamp {v} is out of range")))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v as i64))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            parse_text_millis(v).map(Some).ok_or_else(|| {
                E::custom(format!(
                    "timestamp {v:?} is neither Unix milliseconds nor RFC 3339"
                ))
            })
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(MillisVisitor)
        }
    }
    d.deserialize_option(MillisVisitor)
}

fn parse_text_millis(s: &str) -> Option<i64> {
    if let Ok(ms) = s.trim().parse::<i64>() {
        return Some(ms);
    }
    let t = humantime::parse_rfc3339_weak(s.trim()).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}

#[derive(Deserialize)]
struct RawEntry {
    #[serde(default)]
    message: Option<RawMessage>,
    #[serde(default, deserialize_with = "opt_millis")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "opt_text")]
    status: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    hostname: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    service: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    ddsource: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    ddtags: Option<String>,
    #[serde(default)]
    lambda: Option<LambdaContext>,
    #[serde(default)]
    dd: Option<TraceContext>,
}

/// `message` is a string (flat form) or an object (agent form).
enum RawMessage {
    Text(String),
    Nested(Box<NestedMessage>),
}

impl<'de> Deserialize<'de> for RawMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MessageVisitor;
        impl<'de> de::Visitor<'de> for MessageVisitor {
            type Value = RawMessage;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a message string or an object with a message")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawMessage::Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(RawMessage::Text(v))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let nested =
                    NestedMessage::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawMessage::Nested(Box::new(nested)))
            }
        }
        d.deserialize_any(MessageVisitor)
    }
}

#[derive(Deserialize)]
struct NestedMessage {
    #[serde(default, deserialize_with = "opt_text")]
    message: Option<String>,
    #[serde(default)]
    lambda: Option<LambdaContext>,
    #[serde(default, deserialize_with = "opt_millis")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "opt_text")]
    status: Option<String>,
}

impl From<RawEntry> for LogEntry {
    fn from(raw: RawEntry) -> Self {
        let mut entry = LogEntry {
            message: String::new(),
            timestamp: raw.timestamp,
            status: raw.status,
            hostname: raw.hostname,
            service: raw.service,
            ddsource: raw.ddsource,
            ddtags: raw.ddtags,
            lambda: raw.lambda,
            dd: raw.dd,
        };
        match raw.message {
            None => {}
            Some(RawMessage::Text(text)) => entry.message = text,
            Some(RawMessage::Nested(nested)) => {
                entry.message = nested.message.unwrap_or_default();
                entry.timestamp = nested.timestamp.or(entry.timestamp);
                entry.status = nested.status.or(entry.status);
                entry.lambda = nested.lambda.or(entry.lambda);
            }
        }
        entry
    }
}

/// Encodes entries in the flat form (uncompressed JSON array).
pub fn encode(entries: &[LogEntry]) -> Vec<u8> {
    serde_json::to_vec(entries).expect("log entries always serialize")
}

/// Decodes a logs body (already decompressed): an array of entries or one entry.
pub fn decode(body: &[u8]) -> Result<Vec<LogEntry>, IntakeDecodeError> {
    let json_err = |source| IntakeDecodeError::Json {
        format: FORMAT,
        source,
    };
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let raw: Vec<RawEntry> = match first {
        Some(b'{') => vec![serde_json::from_slice(body).map_err(json_err)?],
        _ => serde_json::from_slice(body).map_err(json_err)?,
    };
    Ok(raw.into_iter().map(LogEntry::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_form_round_trips() {
        let entries = vec![LogEntry {
            message: "hello".into(),
            timestamp: Some(1_700_000_000_123),
            status: Some("info".into()),
            hostname: Some("arn:aws:lambda:us-east-1:1:function:f".into()),
            service: Some("svc".into()),
            ddsource: Some("lambda".into()),
            ddtags: Some("functionname:f, env:prod".into()),
            lambda: Some(LambdaContext {
                arn: Some("arn:aws:lambda:us-east-1:1:function:f".into()),
                request_id: Some("r1".into()),
            }),
            dd: Some(TraceContext {
                trace_id: Some("123".into()),
                span_id: None,
            }),
        }];
        let back = decode(&encode(&entries)).unwrap();
        assert_eq!(back, entries);
        assert_eq!(back[0].tag("env"), Some("prod"));
        assert_eq!(back[0].tag("functionname"), Some("f"));
    }

    #[test]
    fn agent_form_unwraps_nested_message() {
        let body = br#"[{"message":{"message":"REPORT RequestId: r1","lambda":{"arn":"a","request_id":"r1"},"timestamp":1700000000000,"status":"info"},"hostname":"a","service":"s","ddtags":"x:y","ddsource":"lambda"}]"#;
        let e = &decode(body).unwrap()[0];
        assert_eq!(e.message, "REPORT RequestId: r1");
        assert_eq!(e.timestamp, Some(1_700_000_000_000));
        assert_eq!(e.lambda.as_ref().unwrap().request_id.as_deref(), Some("r1"));
    }

    #[test]
    fn accepts_one_object_numeric_ids_and_rfc3339() {
        let body = br#"{"message":"m","timestamp":"2023-11-14T22:13:20Z","dd":{"trace_id":123}}"#;
        let e = &decode(body).unwrap()[0];
        assert_eq!(e.timestamp, Some(1_700_000_000_000));
        assert_eq!(e.dd.as_ref().unwrap().trace_id.as_deref(), Some("123"));
    }

    #[test]
    fn rejects_non_json_and_bad_timestamps() {
        assert!(decode(b"[{\"message\":").is_err());
        assert!(decode(br#"[{"message":"m","timestamp":"yesterday"}]"#).is_err());
    }
}
