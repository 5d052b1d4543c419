//! The Lambda API calls instrumenting needs, and nothing else.
//!
//! Credentials, profiles, `AWS_ENDPOINT_URL` and the SDK's own retries (throttling:
//! `TooManyRequestsException`) come from `aws-config`. On top, writes are retried on
//! `ResourceConflictException`, which Lambda returns while a previous update is in progress.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result};
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, LayerVersionContentInput};

use super::plan::{FunctionConfig, FunctionPlan};
use super::runtime::Architecture;

/// Error codes worth retrying a write on: throttling and "an update is in progress".
const RETRYABLE_CODES: [&str; 4] = [
    "ResourceConflictException",
    "TooManyRequestsException",
    "ThrottlingException",
    "Throttling",
];

/// How many times a write is retried on a retryable error, and the first back-off.
const WRITE_ATTEMPTS: u32 = 6;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// A Lambda client for one region.
#[derive(Clone, Debug)]
pub struct LambdaApi {
    client: aws_sdk_lambda::Client,
    pub region: String,
}

/// A one-line description of an SDK error: `Code: message` for service errors, else the chain
/// of causes (connection refused, timeout, credentials) without debug dumps.
pub fn describe<E>(err: &E) -> String
where
    E: ProvideErrorMetadata + std::error::Error,
{
    if let Some(code) = err.code() {
        return format!("{code}: {}", err.message().unwrap_or("(no message)"));
    }
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// Whether an SDK error is one a write should be retried on.
fn is_retryable<E: ProvideErrorMetadata>(err: &E) -> bool {
    err.code().is_some_and(|c| RETRYABLE_CODES.contains(&c))
}

/// Runs `op` until it succeeds, fails with a non-retryable error, or runs out of attempts;
/// back-off doubles from [`FIRST_BACKOFF`].
pub async fn with_retries<T, E, F, Fut>(mut op: F, retryable: impl Fn(&E) -> bool) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut delay = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt < WRITE_ATTEMPTS && retryable(&e) => {
                tracing::debug!(attempt, "retrying after a retryable error");
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

impl LambdaApi {
    /// A client for `region`, with credentials from `profile` or the default chain.
    pub async fn connect(region: &str, profile: Option<&str>) -> LambdaApi {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .retry_config(RetryConfig::standard().with_max_attempts(4));
        if let Some(profile) = profile {
            loader = loader.profile_name(profile);
        }
        let config = loader.load().await;
        LambdaApi {
            client: aws_sdk_lambda::Client::new(&config),
            region: region.to_string(),
        }
    }

    /// Reads a function's configuration and tags (`GetFunction` returns both).
    pub async fn get_function(&self, identifier: &str) -> Result<FunctionConfig> {
        let out = self
            .client
            .get_function()
            .function_name(identifier)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("couldn't fetch {identifier}: {}", describe(&e)))?;
        let config = out
            .configuration()
            .with_context(|| format!("GetFunction returned no configuration for {identifier}"))?;
        let architectures: Vec<&str> = config.architectures().iter().map(|a| a.as_str()).collect();
        Ok(FunctionConfig {
            arn: config.function_arn().unwrap_or(identifier).to_string(),
            region: self.region.clone(),
            runtime: config
                .runtime()
                .map(|r| r.as_str().to_string())
                .unwrap_or_default(),
            handler: config.handler().unwrap_or_default().to_string(),
            architecture: Architecture::from_lambda(&architectures),
            env: config
                .environment()
                .and_then(|e| e.variables())
                .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            layers: config
                .layers()
                .iter()
                .filter_map(|l| l.arn().map(str::to_string))
                .collect(),
            tags: out
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        })
    }

    /// Names of every function in the region, following `NextMarker` across pages.
    pub async fn list_function_names(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .client
                .list_functions()
                .max_items(50)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "couldn't list functions in {}: {}",
                        self.region,
                        describe(&e)
                    )
                })?;
            names.extend(
                out.functions()
                    .iter()
                    .filter_map(|f| f.function_name().map(str::to_string)),
            );
            match out.next_marker() {
                Some(next) if !next.is_empty() => marker = Some(next.to_string()),
                _ => break,
            }
        }
        Ok(names)
    }

    /// Applies a plan: one `UpdateFunctionConfiguration` (when the configuration changes), then
    /// tags. `Layers` is sent only when it changed.
    pub async fn apply(&self, plan: &FunctionPlan) -> Result<()> {
        if plan.changes_configuration() {
            let variables: HashMap<String, String> = plan.after.env.clone().into_iter().collect();
            let layers = plan.changes_layers().then(|| plan.after.layers.clone());
            with_retries(
                || {
                    self.client
                        .update_function_configuration()
                        .function_name(&plan.arn)
                        .handler(&plan.after.handler)
                        .environment(
                            Environment::builder()
                                .set_variables(Some(variables.clone()))
                                .build(),
                        )
                        .set_layers(layers.clone())
                        .send()
                },
                is_retryable,
            )
            .await
            .map_err(|e| anyhow::anyhow!("update failed: {}", describe(&e)))?;
        }
        if !plan.tags_to_set.is_empty() {
            let tags: HashMap<String, String> = plan.tags_to_set.clone().into_iter().collect();
            with_retries(
                || {
                    self.client
                        .tag_resource()
                        .resource(&plan.arn)
                        .set_tags(Some(tags.clone()))
                        .send()
                },
                is_retryable,
            )
            .await
            .map_err(|e| anyhow::anyhow!("tagging failed: {}", describe(&e)))?;
        }
        if !plan.tags_to_remove.is_empty() {
            with_retries(
                || {
                    self.client
                        .untag_resource()
                        .resource(&plan.arn)
                        .set_tag_keys(Some(plan.tags_to_remove.clone()))
                        .send()
                },
                is_retryable,
            )
            .await
            .map_err(|e| anyhow::anyhow!("untagging failed: {}", describe(&e)))?;
        }
        Ok(())
    }

    /// The newest version ARN of a layer in this region, `None` when it was never published.
    pub async fn latest_layer_version(&self, name: &str) -> Result<Option<String>> {
        let out = self
            .client
            .list_layer_versions()
            .layer_name(name)
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(None),
            Err(e) => anyhow::bail!(
                "couldn't list versions of layer {name} in {}: {}",
                self.region,
                describe(&e)
            ),
        };
        Ok(out
            .layer_versions()
            .iter()
            .max_by_key(|v| v.version())
            .and_then(|v| v.layer_version_arn().map(str::to_string)))
    }

    /// The ARN of one layer version, checking that it exists.
    pub async fn layer_version(&self, name: &str, version: u32) -> Result<Option<String>> {
        let out = self
            .client
            .get_layer_version()
            .layer_name(name)
            .version_number(i64::from(version))
            .send()
            .await;
        match out {
            Ok(out) => Ok(out.layer_version_arn().map(str::to_string)),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => anyhow::bail!(
                "couldn't read layer {name}:{version} in {}: {}",
                self.region,
                describe(&e)
            ),
        }
    }

    /// Publishes a layer version from zip bytes; returns its ARN.
    pub async fn publish_layer(
        &self,
        name: &str,
        description: &str,
        zip: Vec<u8>,
        runtimes: &[&str],
        architectures: &[Architecture],
    ) -> Result<String> {
        let out = with_retries(
            || {
                self.client
                    .publish_layer_version()
                    .layer_name(name)
                    .description(description)
                    .content(
                        LayerVersionContentInput::builder()
                            .zip_file(Blob::new(zip.clone()))
                            .build(),
                    )
                    .set_compatible_runtimes(Some(runtimes.iter().map(|r| (*r).into()).collect()))
                    .set_compatible_architectures(Some(
                        architectures.iter().map(|a| a.as_lambda().into()).collect(),
                    ))
                    .license_info("Apache-2.0")
                    .send()
            },
            is_retryable,
        )
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "couldn't publish layer {name} in {}: {}",
                self.region,
                describe(&e)
            )
        })?;
        out.layer_version_arn()
            .map(str::to_string)
            .context("PublishLayerVersion returned no ARN")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// A fake operation (no AWS here): fails with a retryable code twice, then succeeds.
    #[tokio::test(start_paused = true)]
    async fn retries_conflicts_then_succeeds() {
        let calls = AtomicU32::new(0);
        let result: Result<u32, &str> = with_retries(
            || async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                if n < 2 {
                    Err("ResourceConflictException")
                } else {
                    Ok(n)
                }
            },
            |e| RETRYABLE_CODES.contains(e),
        )
        .await;
        assert_eq!(result, Ok(2));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_on_other_errors_and_after_the_last_attempt() {
        let calls = AtomicU32::new(0);
        let result: Result<(), &str> = with_retries(
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err("InvalidParameterValueException")
            },
            |e| RETRYABLE_CODES.contains(e),
        )
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        calls.store(0, Ordering::SeqCst);
        let result: Result<(), &str> = with_retries(
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err("TooManyRequestsException")
            },
            |e| RETRYABLE_CODES.contains(e),
        )
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), WRITE_ATTEMPTS);
    }
}
