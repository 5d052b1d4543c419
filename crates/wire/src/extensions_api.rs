//! Lambda Extensions API `2020-01-01` and the Telemetry API subscription request.
//!
//! The platform (our sandbox) serves these; an extension (ours, or anyone's) calls them.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Path prefix of the Extensions API.
pub const EXTENSIONS_API_PREFIX: &str = "/2020-01-01/extension";
/// Path of the Telemetry API subscription.
pub const TELEMETRY_API_PATH: &str = "/2022-07-01/telemetry";
/// Path of the legacy Logs API subscription.
pub const LOGS_API_PATH: &str = "/2020-08-15/logs";

/// Header carrying the extension's executable file name at registration.
pub const HEADER_EXTENSION_NAME: &str = "Lambda-Extension-Name";
/// Header carrying the identifier the platform assigned at registration.
pub const HEADER_EXTENSION_IDENTIFIER: &str = "Lambda-Extension-Identifier";
/// Optional features requested at registration (only `accountId` is defined).
pub const HEADER_EXTENSION_ACCEPT_FEATURE: &str = "Lambda-Extension-Accept-Feature";
/// Header naming the error type on `init/error` and `exit/error`.
pub const HEADER_EXTENSION_ERROR_TYPE: &str = "Lambda-Extension-Function-Error-Type";
/// Header the platform sets on each `event/next` response.
pub const HEADER_EXTENSION_EVENT_IDENTIFIER: &str = "Lambda-Extension-Event-Identifier";

/// Event types an extension may subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "INVOKE")]
    Invoke,
    #[serde(rename = "SHUTDOWN")]
    Shutdown,
}

/// Body of `POST /2020-01-01/extension/register`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RegisterRequest {
    #[serde(default)]
    pub events: Vec<EventType>,
}

/// Body of the 200 answer to a registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterResponse {
    pub function_name: String,
    pub function_version: String,
    pub handler: String,
    /// Present only when the `accountId` feature was requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// X-Ray tracing context as it appears in INVOKE events and telemetry records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tracing {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    /// Always `X-Amzn-Trace-Id` today.
    #[serde(rename = "type")]
    pub kind: String,
    /// `Root=1-...;Parent=...;Sampled=1`
    pub value: String,
}

impl Tracing {
    /// An X-Ray trace header value, as Lambda hands it over.
    pub fn xray(value: impl Into<String>) -> Self {
        Tracing {
            span_id: None,
            kind: "X-Amzn-Trace-Id".to_string(),
            value: value.into(),
        }
    }
}

/// Why the environment is shutting down. Lowercase on the wire; parsed case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShutdownReason {
    Spindown,
    Timeout,
    Failure,
}

impl ShutdownReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ShutdownReason::Spindown => "spindown",
            ShutdownReason::Timeout => "timeout",
            ShutdownReason::Failure => "failure",
        }
    }
}

impl Serialize for ShutdownReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ShutdownReason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.to_ascii_lowercase().as_str() {
            "spindown" => Ok(ShutdownReason::Spindown),
            "timeout" => Ok(ShutdownReason::Timeout),
            "failure" => Ok(ShutdownReason::Failure),
            other => Err(serde::de::Error::custom(format!(
                "unknown shutdownReason {other:?}"
            ))),
        }
    }
}

/// Body of a `GET /2020-01-01/extension/event/next` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "eventType")]
pub enum NextEvent {
    #[serde(rename = "INVOKE", rename_all = "camelCase")]
    Invoke {
        deadline_ms: u64,
        request_id: String,
        invoked_function_arn: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tracing: Option<Tracing>,
    },
    #[serde(rename = "SHUTDOWN", rename_all = "camelCase")]
    Shutdown {
        deadline_ms: u64,
        shutdown_reason: ShutdownReason,
    },
}

/// Body of `init/error` and `exit/error` (all fields optional on the wire).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stack_trace: Vec<String>,
}

/// The platform's error answer: `{"errorType": "...", "errorMessage": "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorResponse {
    pub error_type: String,
    pub error_message: String,
}

impl ErrorResponse {
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>) -> Self {
        ErrorResponse {
            error_type: error_type.into(),
            error_message: error_message.into(),
        }
    }
}

/// Telemetry schema versions the platform accepts.
pub const TELEMETRY_SCHEMA_VERSIONS: [&str; 3] = ["2022-07-01", "2022-12-13", "2025-01-29"];

/// Buffering limits of a telemetry subscription. Absent fields take the platform defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Buffering {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u32>,
}

/// Validated buffering limits with the defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferingLimits {
    pub max_items: u32,
    pub max_bytes: u32,
    pub timeout_ms: u32,
}

impl Buffering {
    /// Documented bounds: maxItems 1000..=10000 (default 10000), maxBytes 262144..=1048576
    /// (default 262144), timeoutMs 25..=30000 (default 1000).
    pub fn validate(&self) -> Result<BufferingLimits, String> {
        fn check(
            name: &str,
            value: Option<u32>,
            min: u32,
            max: u32,
            default: u32,
        ) -> Result<u32, String> {
            match value {
                None => Ok(default),
                Some(v) if (min..=max).contains(&v) => Ok(v),
                Some(v) => Err(format!(
                    "buffering.{name} must be between {min} and {max}, got {v}"
                )),
            }
        }
        Ok(BufferingLimits {
            max_items: check("maxItems", self.max_items, 1000, 10000, 10000)?,
            max_bytes: check("maxBytes", self.max_bytes, 262_144, 1_048_576, 262_144)?,
            timeout_ms: check("timeoutMs", self.timeout_ms, 25, 30_000, 1000)?,
        })
    }
}

/// Where the platform delivers telemetry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Destination {
    /// `HTTP` or `TCP`.
    pub protocol: String,
    /// For HTTP: `http://sandbox.localdomain:PORT[/path]`.
    #[serde(rename = "URI", default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// For TCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

/// Body of `PUT /2022-07-01/telemetry`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TelemetrySubscribeRequest {
    pub schema_version: String,
    /// Non-empty subset of `platform`, `function`, `extension`.
    pub types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffering: Option<Buffering>,
    pub destination: Destination,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoke_event_round_trips_with_exact_field_names() {
        let event = NextEvent::Invoke {
            deadline_ms: 1_700_000_000_000,
            request_id: "r1".into(),
            invoked_function_arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
            tracing: Some(Tracing::xray("Root=1-a-b;Parent=c;Sampled=1")),
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["eventType"], "INVOKE");
        assert_eq!(json["deadlineMs"], 1_700_000_000_000u64);
        assert_eq!(
            json["invokedFunctionArn"],
            "arn:aws:lambda:us-east-1:123456789012:function:f"
        );
        assert_eq!(json["tracing"]["type"], "X-Amzn-Trace-Id");
        assert_eq!(serde_json::from_value::<NextEvent>(json).unwrap(), event);
    }

    #[test]
    fn shutdown_reason_is_case_insensitive_and_emitted_lowercase() {
        let parsed: NextEvent = serde_json::from_str(
            r#"{"eventType":"SHUTDOWN","deadlineMs":5,"shutdownReason":"SPINDOWN"}"#,
        )
        .unwrap();
        assert_eq!(
            parsed,
            NextEvent::Shutdown {
                deadline_ms: 5,
                shutdown_reason: ShutdownReason::Spindown
            }
        );
        let text = serde_json::to_string(&parsed).unwrap();
        assert!(text.contains(r#""shutdownReason":"spindown""#), "{text}");
    }

    #[test]
    fn buffering_defaults_and_bounds() {
        let limits = Buffering::default().validate().unwrap();
        assert_eq!(
            limits,
            BufferingLimits {
                max_items: 10000,
                max_bytes: 262_144,
                timeout_ms: 1000
            }
        );
        let err = Buffering {
            timeout_ms: Some(10),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(err.contains("timeoutMs"), "{err}");
    }
}
