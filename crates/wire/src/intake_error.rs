//! The one error type every intake decoder returns.
//!
//! The server turns any of these into a `400 Bad Request` whose body is the
//! `Display` text, so each message names the format and what was wrong with it.

/// A payload that could not be decoded as the format its endpoint expects.
#[derive(Debug, thiserror::Error)]
pub enum IntakeDecodeError {
    /// The body is not valid JSON of the expected shape.
    #[error("{format}: body is not valid JSON of the expected shape: {source}")]
    Json {
        format: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// The body is not a valid protobuf message of the expected type.
    #[error("{format}: body is not a valid protobuf message: {source}")]
    Protobuf {
        format: &'static str,
        #[source]
        source: prost::DecodeError,
    },
    /// The body is not valid msgpack of the expected shape.
    #[error("{format}: body is not valid msgpack of the expected shape: {source}")]
    Msgpack {
        format: &'static str,
        #[source]
        source: rmp_serde::decode::Error,
    },
    /// The body decoded but a value in it breaks the format's rules.
    #[error("{format}: {reason}")]
    Invalid {
        format: &'static str,
        reason: String,
    },
}

impl IntakeDecodeError {
    pub(crate) fn invalid(format: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            format,
            reason: reason.into(),
        }
    }
}
