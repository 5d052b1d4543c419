//! The AWS Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`) over sandbox pools.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use lambdascope_sandbox::{FunctionConfig, InvokeRequest, Sandbox};

/// Lambda's synchronous request payload limit.
const MAX_REQUEST: usize = 6 * 1024 * 1024;

/// The environments of one function: idle ones are reused, a busy pool grows by a cold start.
pub struct FunctionPool {
    config: FunctionConfig,
    idle: Mutex<Vec<Sandbox>>,
}

impl FunctionPool {
    pub fn new(config: FunctionConfig) -> Self {
        FunctionPool {
            config,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn take_idle(&self) -> Option<Sandbox> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    fn give_back(&self, sandbox: Sandbox) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(sandbox);
    }
}

pub struct InvokeApi {
    functions: HashMap<String, Arc<FunctionPool>>,
}

type ApiResponse = Response<Full<Bytes>>;

impl InvokeApi {
    pub fn new(functions: HashMap<String, Arc<FunctionPool>>) -> Self {
        InvokeApi { functions }
    }

    /// Spins every idle environment down.
    pub async fn shutdown(&self) {
        for pool in self.functions.values() {
            while let Some(sandbox) = pool.take_idle() {
                sandbox.shutdown().await;
            }
        }
    }
}

pub async fn serve(listener: tokio::net::TcpListener, api: Arc<InvokeApi>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let api = api.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let api = api.clone();
                async move { Ok::<_, Infallible>(route(&api, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn aws_error(status: StatusCode, kind: &str, message: &str) -> ApiResponse {
    let body = serde_json::json!({"Type": "User", "message": message, "__type": kind});
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .header("x-amzn-ErrorType", kind)
        .header("x-amzn-RequestId", uuid_like())
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}

fn uuid_like() -> String {
    // A request id for platform errors; invokes use the sandbox's.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        (nanos >> 48) as u32,
        nanos as u64 & 0xffff_ffff_ffff
    )
}

/// `{name}` may be a name, `name:qualifier`, or an ARN.
fn function_name(segment: &str) -> String {
    let decoded = percent_decode(segment);
    let name = match decoded.find("function:") {
        Some(i) => decoded[i + "function:".len()..].to_string(),
        None => decoded,
    };
    name.split(':').next().unwrap_or_default().to_string()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn route(api: &InvokeApi, req: Request<Incoming>) -> ApiResponse {
    let path = req.uri().path().to_string();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (req.method(), segments.as_slice()) {
        (&Method::POST, ["2015-03-31", "functions", name, "invocations"]) => {
            let name = function_name(name);
            match api.functions.get(&name) {
                Some(pool) => invoke(pool.clone(), req).await,
                None => aws_error(
                    StatusCode::NOT_FOUND,
                    "ResourceNotFoundException",
                    &format!(
                        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:{name}"
                    ),
                ),
            }
        }
        _ => aws_error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            &format!(
                "lambdascope local serves only the Invoke API, not {} {path}",
                req.method()
            ),
        ),
    }
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn invoke(pool: Arc<FunctionPool>, req: Request<Incoming>) -> ApiResponse {
    let invocation_type =
        header(&req, "X-Amz-Invocation-Type").unwrap_or_else(|| "RequestResponse".into());
    let tail = header(&req, "X-Amz-Log-Type").is_some_and(|t| t == "Tail");
    let client_context = header(&req, "X-Amz-Client-Context")
        .and_then(|b| base64_decode(&b))
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let payload = match Limited::new(req.into_body(), MAX_REQUEST).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return aws_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestTooLargeException",
                "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
            )
        }
    };
    let payload = if payload.is_empty() {
        Bytes::from_static(b"{}")
    } else {
        payload
    };
    if serde_json::from_slice::<serde_json::Value>(&payload).is_err() {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            "Could not parse request body into json: the payload must be valid JSON",
        );
    }
    let request = InvokeRequest {
        payload,
        client_context,
        ..Default::default()
    };
    match invocation_type.as_str() {
        "DryRun" => return empty(StatusCode::NO_CONTENT),
        "Event" => {
            tokio::spawn(async move {
                let _ = run(&pool, request).await;
            });
            return empty(StatusCode::ACCEPTED);
        }
        _ => {}
    }
    match run(&pool, request).await {
        Ok(outcome) => {
            let mut resp = Response::builder()
                .status(StatusCode::OK)
                .header("Content-Type", "application/json")
                .header("X-Amz-Executed-Version", "$LATEST")
                .header("x-amzn-RequestId", &outcome.request_id);
            if let Some(ms) = outcome.runtime_ms {
                // Not an AWS header: lets benchmarks separate the runtime's time from the sandbox's.
                resp = resp.header("X-Lambdascope-Runtime-Ms", format!("{ms:.3}"));
            }
            if let Some(err) = &outcome.function_error {
                resp = resp.header("X-Amz-Function-Error", err);
            }
            if tail {
                resp = resp.header("X-Amz-Log-Type", "Tail").header(
                    "X-Amz-Log-Result",
                    base64_encode(outcome.log_tail.as_bytes()),
                );
            }
            resp.body(Full::new(outcome.payload)).unwrap_or_default()
        }
        Err(e) => aws_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            &format!("the local sandbox failed: {e}"),
        ),
    }
}

async fn run(
    pool: &FunctionPool,
    request: InvokeRequest,
) -> Result<lambdascope_sandbox::InvokeOutcome, lambdascope_sandbox::SandboxError> {
    let mut sandbox = match pool.take_idle() {
        Some(s) => s,
        None => {
            let sink: lambdascope_sandbox::LogSink =
                Arc::new(|line: &lambdascope_sandbox::LogLine| {
                    eprintln!("{}", line.text);
                });
            Sandbox::start_with_log_sink(pool.config.clone(), Some(sink)).await?
        }
    };
    let outcome = sandbox.invoke(request).await;
    pool.give_back(sandbox);
    outcome
}

fn empty(status: StatusCode) -> ApiResponse {
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::new()))
        .unwrap_or_default()
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.trim().bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for text in ["", "a", "ab", "abc", "START RequestId: x\n"] {
            let enc = base64_encode(text.as_bytes());
            assert_eq!(base64_decode(&enc).unwrap(), text.as_bytes());
        }
        assert_eq!(base64_encode(b"abcd"), "YWJjZA==");
    }

    #[test]
    fn function_names_come_from_names_and_arns() {
        assert_eq!(function_name("hello"), "hello");
        assert_eq!(function_name("hello:$LATEST"), "hello");
        assert_eq!(
            function_name("arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Ahello"),
            "hello"
        );
    }
}
