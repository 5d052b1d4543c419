//! The Lambda Extensions API (register, `event/next`) and the Telemetry API subscription.

pub mod telemetry_listener;

use std::time::Duration;

use bytes::Bytes;
use lambdascope_wire::extensions_api::{
    Buffering, Destination, EventType, NextEvent, RegisterRequest, RegisterResponse,
    TelemetrySubscribeRequest, EXTENSIONS_API_PREFIX, HEADER_EXTENSION_ACCEPT_FEATURE,
    HEADER_EXTENSION_IDENTIFIER, HEADER_EXTENSION_NAME, TELEMETRY_API_PATH,
};

use crate::http_client::{HttpClient, HttpError};

/// Telemetry schema with JSON `function` records.
pub const TELEMETRY_SCHEMA: &str = "2022-12-13";
/// Smallest delivery delay the platform allows, so runtimeDone reaches us quickly.
pub const TELEMETRY_TIMEOUT_MS: u32 = 25;

#[derive(Debug, thiserror::Error)]
pub enum LambdaApiError {
    #[error("AWS_LAMBDA_RUNTIME_API is not set: the extension must run inside Lambda (or the lambdascope sandbox)")]
    NoRuntimeApi,
    #[error("{call} failed: {source}")]
    Transport {
        call: &'static str,
        source: HttpError,
    },
    #[error("{call} answered {status}: {body}")]
    Status {
        call: &'static str,
        status: u16,
        body: String,
    },
    #[error("{call} answered with an unexpected body: {error}")]
    Body { call: &'static str, error: String },
}

/// A registered extension.
#[derive(Clone)]
pub struct ExtensionsClient {
    http: HttpClient,
    base: String,
    id: String,
}

impl ExtensionsClient {
    /// Registers for INVOKE and SHUTDOWN under `name` (the executable's file name, as the
    /// platform requires) and asks for the account id.
    pub async fn register(
        http: HttpClient,
        runtime_api: &str,
        name: &str,
    ) -> Result<(ExtensionsClient, RegisterResponse), LambdaApiError> {
        let base = format!("http://{runtime_api}");
        let body = serde_json::to_vec(&RegisterRequest {
            events: vec![EventType::Invoke, EventType::Shutdown],
        })
        .unwrap_or_default();
        let call = "extension register";
        let response = http
            .send(
                http::Method::POST,
                &format!("{base}{EXTENSIONS_API_PREFIX}/register"),
                &[
                    (HEADER_EXTENSION_NAME, name),
                    (HEADER_EXTENSION_ACCEPT_FEATURE, "accountId"),
                    ("Content-Type", "application/json"),
                ],
                Bytes::from(body),
                Some(Duration::from_secs(10)),
            )
            .await
            .map_err(|source| LambdaApiError::Transport { call, source })?;
        check(call, response.status, &response.body)?;
        let id = response
            .headers
            .get(HEADER_EXTENSION_IDENTIFIER)
            .and_then(|v| v.to_str().ok())
            .ok_or(LambdaApiError::Body {
                call,
                error: format!("no {HEADER_EXTENSION_IDENTIFIER} header"),
            })?
            .to_string();
        let registered: RegisterResponse =
            serde_json::from_slice(&response.body).map_err(|e| LambdaApiError::Body {
                call,
                error: e.to_string(),
            })?;
        Ok((ExtensionsClient { http, base, id }, registered))
    }

    /// Waits for the next INVOKE or SHUTDOWN (a long poll: no timeout).
    pub async fn next(&self) -> Result<NextEvent, LambdaApiError> {
        let call = "extension event/next";
        let response = self
            .http
            .send(
                http::Method::GET,
                &format!("{}{EXTENSIONS_API_PREFIX}/event/next", self.base),
                &[(HEADER_EXTENSION_IDENTIFIER, &self.id)],
                Bytes::new(),
                None,
            )
            .await
            .map_err(|source| LambdaApiError::Transport { call, source })?;
        check(call, response.status, &response.body)?;
        serde_json::from_slice(&response.body).map_err(|e| LambdaApiError::Body {
            call,
            error: e.to_string(),
        })
    }

    /// Subscribes the listener on `port` to the given telemetry types.
    pub async fn subscribe_telemetry(
        &self,
        port: u16,
        types: &[&str],
    ) -> Result<(), LambdaApiError> {
        let call = "telemetry subscribe";
        let request = TelemetrySubscribeRequest {
            schema_version: TELEMETRY_SCHEMA.to_string(),
            types: types.iter().map(|t| t.to_string()).collect(),
            buffering: Some(Buffering {
                max_items: Some(1000),
                max_bytes: Some(262_144),
                timeout_ms: Some(TELEMETRY_TIMEOUT_MS),
            }),
            destination: Destination {
                protocol: "HTTP".to_string(),
                uri: Some(format!("http://sandbox.localdomain:{port}/")),
                port: None,
            },
        };
        let response = self
            .http
            .send(
                http::Method::PUT,
                &format!("{}{TELEMETRY_API_PATH}", self.base),
                &[
                    (HEADER_EXTENSION_IDENTIFIER, &self.id),
                    ("Content-Type", "application/json"),
                ],
                Bytes::from(serde_json::to_vec(&request).unwrap_or_default()),
                Some(Duration::from_secs(5)),
            )
            .await
            .map_err(|source| LambdaApiError::Transport { call, source })?;
        // The AWS RIE answers 202 {"errorType":"Telemetry.NotSupported"} and never delivers.
        if response.status == 202 && response.body.windows(11).any(|w| w == b"\"errorType\"") {
            return Err(LambdaApiError::Status {
                call,
                status: response.status,
                body: String::from_utf8_lossy(&response.body).into_owned(),
            });
        }
        check(call, response.status, &response.body)
    }
}

fn check(call: &'static str, status: u16, body: &[u8]) -> Result<(), LambdaApiError> {
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(LambdaApiError::Status {
            call,
            status,
            body: String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned(),
        })
    }
}
