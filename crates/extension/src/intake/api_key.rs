//! Resolves the Datadog API key lazily, on the first flush, and caches it.
//!
//! Resolution needs the network (Secrets Manager, KMS, SSM), which must not delay start-up.
//! A failure is logged once per distinct reason (never with the key) and retried at the
//! next flush; the caller keeps its payloads meanwhile.

use std::sync::Arc;

use tokio::sync::Mutex;

use super::aws::{AwsClient, AwsError};
use crate::config::ApiKeySource;
use crate::http_client::HttpClient;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiKeyError {
    #[error("no Datadog API key: set DD_API_KEY, DD_API_KEY_SECRET_ARN, DD_API_KEY_SSM_ARN or DD_KMS_API_KEY; data is kept until a key resolves")]
    Missing,
    #[error("the Datadog API key could not be read from {source_name}: {reason}; data is kept for the next flush")]
    Unresolved {
        source_name: &'static str,
        reason: String,
    },
}

type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

pub struct ApiKeyResolver {
    source: ApiKeySource,
    http: HttpClient,
    region: String,
    function_name: String,
    lookup: Lookup,
    resolved: Mutex<Option<String>>,
    last_error: std::sync::Mutex<Option<String>>,
}

impl ApiKeyResolver {
    pub fn new(
        source: ApiKeySource,
        http: HttpClient,
        region: String,
        function_name: String,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        ApiKeyResolver {
            source,
            http,
            region,
            function_name,
            lookup: Arc::new(lookup),
            resolved: Mutex::new(None),
            last_error: std::sync::Mutex::new(None),
        }
    }

    /// The key, resolving it if needed. Concurrent callers wait for one resolution.
    pub async fn get(&self) -> Result<String, ApiKeyError> {
        let mut slot = self.resolved.lock().await;
        if let Some(key) = slot.as_ref() {
            return Ok(key.clone());
        }
        match self.resolve().await {
            Ok(key) => {
                tracing::info!(source = self.source_name(), "Datadog API key resolved");
                *slot = Some(key.clone());
                Ok(key)
            }
            Err(err) => {
                let text = err.to_string();
                let mut last = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
                if last.as_deref() != Some(&text) {
                    tracing::error!("{text}");
                    *last = Some(text);
                }
                Err(err)
            }
        }
    }

    fn source_name(&self) -> &'static str {
        match self.source {
            ApiKeySource::Kms(_) => "KMS (DD_KMS_API_KEY)",
            ApiKeySource::SecretsManager(_) => "Secrets Manager (DD_API_KEY_SECRET_ARN)",
            ApiKeySource::Ssm(_) => "SSM (DD_API_KEY_SSM_ARN)",
            ApiKeySource::Plain(_) => "DD_API_KEY",
            ApiKeySource::Missing => "nowhere",
        }
    }

    async fn resolve(&self) -> Result<String, ApiKeyError> {
        let source_name = self.source_name();
        let unresolved = |e: AwsError| ApiKeyError::Unresolved {
            source_name,
            reason: e.to_string(),
        };
        let aws = || {
            let lookup = self.lookup.clone();
            AwsClient::new(self.http.clone(), move |k| lookup(k)).map_err(unresolved)
        };
        let key = match &self.source {
            ApiKeySource::Missing => return Err(ApiKeyError::Missing),
            ApiKeySource::Plain(key) => key.clone(),
            ApiKeySource::SecretsManager(arn) => aws()?
                .secret_value(arn, &self.region)
                .await
                .map_err(unresolved)?,
            ApiKeySource::Ssm(name) => aws()?
                .parameter_value(name, &self.region)
                .await
                .map_err(unresolved)?,
            ApiKeySource::Kms(blob) => aws()?
                .decrypt(blob, &self.region, &self.function_name)
                .await
                .map_err(unresolved)?,
        };
        if key.is_empty() {
            return Err(ApiKeyError::Unresolved {
                source_name,
                reason: "the value is empty".into(),
            });
        }
        Ok(key)
    }
}
