//! The three AWS calls that can hold the Datadog API key: Secrets Manager `GetSecretValue`,
//! KMS `Decrypt` and SSM `GetParameter`, as SigV4-signed JSON requests (signed with
//! `aws-sigv4`, no AWS SDK: the SDK would add megabytes and tens of milliseconds).
//!
//! Endpoints follow the AWS SDK convention: `AWS_ENDPOINT_URL_<SERVICE>` (e.g.
//! `AWS_ENDPOINT_URL_SECRETS_MANAGER`), then `AWS_ENDPOINT_URL`, then the regional endpoint.

use std::time::{Duration, SystemTime};

use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Value};

use crate::http_client::HttpClient;

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set")]
    NoCredentials,
    #[error("signing the {service} request failed: {message}")]
    Signing {
        service: &'static str,
        message: String,
    },
    #[error("{service} is unreachable at {url}: {message}")]
    Transport {
        service: &'static str,
        url: String,
        message: String,
    },
    #[error("{service} refused the request ({status} {error_type}): {message}")]
    Refused {
        service: &'static str,
        status: u16,
        error_type: String,
        message: String,
    },
    #[error("{service} answered without {field}")]
    MissingField {
        service: &'static str,
        field: &'static str,
    },
}

/// Credentials from the environment (Lambda sets them for the execution role).
#[derive(Clone)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl AwsCredentials {
    pub fn from_lookup(
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<AwsCredentials, AwsError> {
        Ok(AwsCredentials {
            access_key_id: lookup("AWS_ACCESS_KEY_ID")
                .filter(|v| !v.is_empty())
                .ok_or(AwsError::NoCredentials)?,
            secret_access_key: lookup("AWS_SECRET_ACCESS_KEY")
                .filter(|v| !v.is_empty())
                .ok_or(AwsError::NoCredentials)?,
            session_token: lookup("AWS_SESSION_TOKEN").filter(|v| !v.is_empty()),
        })
    }
}

/// One AWS JSON-protocol service.
#[derive(Debug, Clone, Copy)]
pub struct Service {
    /// SigV4 signing name and endpoint prefix.
    pub name: &'static str,
    /// Suffix of `AWS_ENDPOINT_URL_<...>`.
    pub env_suffix: &'static str,
    pub target_prefix: &'static str,
}

pub const SECRETS_MANAGER: Service = Service {
    name: "secretsmanager",
    env_suffix: "SECRETS_MANAGER",
    target_prefix: "secretsmanager",
};
pub const KMS: Service = Service {
    name: "kms",
    env_suffix: "KMS",
    target_prefix: "TrentService",
};
pub const SSM: Service = Service {
    name: "ssm",
    env_suffix: "SSM",
    target_prefix: "AmazonSSM",
};

/// Upper bound of one AWS call (the flush deadline bounds the whole resolution too).
pub const AWS_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads a variable (the process environment, or a map in tests).
pub type EnvLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Calls AWS APIs on behalf of the key resolver.
pub struct AwsClient {
    pub http: HttpClient,
    pub credentials: AwsCredentials,
    lookup: EnvLookup,
}

/// The region named in an ARN (`arn:aws:service:REGION:...`).
pub fn region_of_arn(arn: &str) -> Option<&str> {
    let region = arn.split(':').nth(3)?;
    (arn.starts_with("arn:") && !region.is_empty()).then_some(region)
}

impl AwsClient {
    pub fn new(
        http: HttpClient,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Result<AwsClient, AwsError> {
        let credentials = AwsCredentials::from_lookup(&lookup)?;
        Ok(AwsClient {
            http,
            credentials,
            lookup: Box::new(lookup),
        })
    }

    fn endpoint(&self, service: Service, region: &str) -> String {
        let specific = format!("AWS_ENDPOINT_URL_{}", service.env_suffix);
        (self.lookup)(&specific)
            .or_else(|| (self.lookup)("AWS_ENDPOINT_URL"))
            .filter(|v| !v.is_empty())
            .map(|v| format!("{}/", v.trim_end_matches('/')))
            .unwrap_or_else(|| {
                let domain = if region.starts_with("cn-") {
                    "amazonaws.com.cn"
                } else {
                    "amazonaws.com"
                };
                format!("https://{}.{region}.{domain}/", service.name)
            })
    }

    /// One signed JSON call: `X-Amz-Target: <prefix>.<operation>`.
    pub async fn call(
        &self,
        service: Service,
        region: &str,
        operation: &str,
        body: Value,
    ) -> Result<Value, AwsError> {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        use aws_sigv4::sign::v4;

        let url = self.endpoint(service, region);
        let parsed = crate::http_client::Url::parse(&url).map_err(|e| AwsError::Transport {
            service: service.name,
            url: url.clone(),
            message: e.to_string(),
        })?;
        let host = if parsed.port == if parsed.tls { 443 } else { 80 } {
            parsed.host.clone()
        } else {
            format!("{}:{}", parsed.host, parsed.port)
        };
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let target = format!("{}.{operation}", service.target_prefix);
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), host),
            ("content-type".into(), "application/x-amz-json-1.1".into()),
            ("x-amz-target".into(), target),
        ];
        let identity = aws_credential_types::Credentials::new(
            &self.credentials.access_key_id,
            &self.credentials.secret_access_key,
            self.credentials.session_token.clone(),
            None,
            "environment",
        )
        .into();
        let signing_error = |message: String| AwsError::Signing {
            service: service.name,
            message,
        };
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(service.name)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| signing_error(e.to_string()))?
            .into();
        let signable = SignableRequest::new(
            "POST",
            &url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| signing_error(e.to_string()))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| signing_error(e.to_string()))?
            .into_parts();
        let (signed, _) = instructions.into_parts();
        for header in signed {
            headers.push((header.name().to_string(), header.value().to_string()));
        }
        let header_refs: Vec<(&str, &str)> = headers
            .iter()
            .filter(|(k, _)| k != "host")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let response = self
            .http
            .send(
                http::Method::POST,
                &url,
                &header_refs,
                Bytes::from(body),
                Some(AWS_CALL_TIMEOUT),
            )
            .await
            .map_err(|e| AwsError::Transport {
                service: service.name,
                url: url.clone(),
                message: e.to_string(),
            })?;
        let json: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        if !(200..300).contains(&response.status) {
            let error_type = json
                .get("__type")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .rsplit('#')
                .next()
                .unwrap_or("unknown")
                .to_string();
            let message = json
                .get("message")
                .or_else(|| json.get("Message"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            return Err(AwsError::Refused {
                service: service.name,
                status: response.status,
                error_type,
                message,
            });
        }
        Ok(json)
    }

    /// Secrets Manager: the secret's string (a plain key).
    pub async fn secret_value(&self, arn: &str, default_region: &str) -> Result<String, AwsError> {
        let region = region_of_arn(arn).unwrap_or(default_region);
        let answer = self
            .call(
                SECRETS_MANAGER,
                region,
                "GetSecretValue",
                json!({ "SecretId": arn }),
            )
            .await?;
        answer
            .get("SecretString")
            .and_then(Value::as_str)
            .map(|s| s.trim().to_string())
            .ok_or(AwsError::MissingField {
                service: "secretsmanager",
                field: "SecretString",
            })
    }

    /// SSM: a (SecureString) parameter's decrypted value.
    pub async fn parameter_value(
        &self,
        name: &str,
        default_region: &str,
    ) -> Result<String, AwsError> {
        let region = region_of_arn(name).unwrap_or(default_region);
        let answer = self
            .call(
                SSM,
                region,
                "GetParameter",
                json!({ "Name": name, "WithDecryption": true }),
            )
            .await?;
        answer
            .pointer("/Parameter/Value")
            .and_then(Value::as_str)
            .map(|s| s.trim().to_string())
            .ok_or(AwsError::MissingField {
                service: "ssm",
                field: "Parameter.Value",
            })
    }

    /// KMS: decrypts a base64 ciphertext; retried with the Lambda encryption context, which
    /// is what the console's "encrypt in transit" helper adds.
    pub async fn decrypt(
        &self,
        ciphertext_b64: &str,
        region: &str,
        function_name: &str,
    ) -> Result<String, AwsError> {
        let plain = match self
            .call(
                KMS,
                region,
                "Decrypt",
                json!({ "CiphertextBlob": ciphertext_b64 }),
            )
            .await
        {
            Ok(answer) => answer,
            Err(AwsError::Refused { error_type, .. })
                if error_type.contains("InvalidCiphertext") =>
            {
                self.call(
                    KMS,
                    region,
                    "Decrypt",
                    json!({
                        "CiphertextBlob": ciphertext_b64,
                        "EncryptionContext": { "LambdaFunctionName": function_name }
                    }),
                )
                .await?
            }
            Err(other) => return Err(other),
        };
        let b64 = plain
            .get("Plaintext")
            .and_then(Value::as_str)
            .ok_or(AwsError::MissingField {
                service: "kms",
                field: "Plaintext",
            })?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| AwsError::MissingField {
                service: "kms",
                field: "Plaintext (base64)",
            })?;
        Ok(String::from_utf8_lossy(&bytes).trim().to_string())
    }
}
