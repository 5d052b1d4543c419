//! What instrumenting changes: a pure function from a function's current configuration and the
//! options to its new configuration.
//!
//! No AWS SDK here on purpose: the same rules drive `lambdascope lambda instrument` (against the
//! Lambda API) and the template transforms (CloudFormation/SAM/Serverless/CDK), which only see a
//! resource's properties. Everything instrumentation did is readable from the function itself
//! (handler, `DD_*` variables, layer names, tags), so uninstrument is also a pure function of the
//! current configuration.
//!
//! Differences from datadog-ci, on purpose:
//! - an existing `DD_LOG_LEVEL` is kept unless `--log-level` is given;
//! - an SSM parameter ARN for the API key is written (`DD_API_KEY_SSM_ARN`);
//! - with no library layer (`-v none`) the handler is not redirected and no `DD_LAMBDA_HANDLER`
//!   is added, so uninstrument leaves nothing behind;
//! - variables that existed before instrumenting are remembered (tag `lambdascope_cli_kept`) and
//!   uninstrument leaves them, instead of deleting a user's own `DD_ENV`;
//! - the 4 KB environment and 5-layer limits are checked before calling AWS.

use std::collections::{BTreeMap, BTreeSet};

use super::layer_catalog::{
    known_slot, layer_name, LayerSlot, DATADOG_NODE_HANDLER, DATADOG_PYTHON_HANDLER,
    LAMBDASCOPE_PYTHON_HANDLER, REDIRECT_HANDLERS,
};
use super::runtime::{Architecture, Runtime, RuntimeFamily};

use super::layer_placement::{place_layer, resolve_layer};
pub use super::revert::plan_uninstrument;

/// Lambda's limit on the total size of environment variable names and values, in bytes.
pub const ENV_LIMIT_BYTES: usize = 4096;
/// Lambda's limit on layers per function.
pub const MAX_LAYERS: usize = 5;

/// Tag holding the version of the CLI that instrumented the function (like datadog-ci's `dd_sls_ci`).
pub const VERSION_TAG: &str = "lambdascope_cli";
/// Tag listing managed `DD_*` variables that predate instrumentation; uninstrument keeps them.
pub const KEPT_TAG: &str = "lambdascope_cli_kept";
/// Tag listing names of layers added from explicit ARNs; uninstrument removes them.
pub const LAYERS_TAG: &str = "lambdascope_cli_layers";

/// Variables instrumentation may write. Uninstrument removes these unless they predate it.
pub const MANAGED_VARIABLES: [&str; 17] = [
    "DD_LAMBDA_HANDLER",
    "DD_SITE",
    "DD_API_KEY",
    "DD_API_KEY_SECRET_ARN",
    "DD_API_KEY_SSM_ARN",
    "DD_KMS_API_KEY",
    "DD_TRACE_ENABLED",
    "DD_MERGE_XRAY_TRACES",
    "DD_FLUSH_TO_LOG",
    "DD_CAPTURE_LAMBDA_PAYLOAD",
    "DD_SERVERLESS_LOGS_ENABLED",
    "DD_LOG_LEVEL",
    "DD_SERVICE",
    "DD_ENV",
    "DD_VERSION",
    "DD_TAGS",
    "DD_APM_FLUSH_DEADLINE_MILLISECONDS",
];

const API_KEY_VARIABLES: [&str; 4] = [
    "DD_API_KEY",
    "DD_API_KEY_SECRET_ARN",
    "DD_API_KEY_SSM_ARN",
    "DD_KMS_API_KEY",
];

/// A function's configuration, as read from the Lambda API or a template resource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FunctionConfig {
    /// Full function ARN (or a template's logical id); used in messages and to key results.
    pub arn: String,
    /// Region the function lives in; decides layer ARNs.
    pub region: String,
    pub runtime: String,
    pub handler: String,
    pub architecture: Architecture,
    pub env: BTreeMap<String, String>,
    /// Layer version ARNs in the order Lambda applies them.
    pub layers: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

/// Whose layers and handler redirect to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LayerFlavor {
    /// Our layers (`layer publish`) and `lambdascope.handler.handler`.
    #[default]
    Lambdascope,
    /// Datadog's published layers and `datadog_lambda.handler.handler`.
    Datadog,
}

/// One layer to attach, before the function's runtime and architecture pick the exact ARN.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LayerRequest {
    /// Attach nothing (`-v none` / `-e none`).
    #[default]
    None,
    /// This exact layer version ARN (`--layer-arn`, `--extension-layer-arn`).
    Arn(String),
    /// Datadog's published layer at this version; account and partition follow region and site.
    Datadog { version: u32 },
    /// Layers published by `layer publish`, resolved by the caller: layer name → version ARN
    /// (`Lambdascope-Python`, `Lambdascope-Extension`, `Lambdascope-Extension-ARM`).
    Lambdascope { arns: BTreeMap<String, String> },
}

/// Where the function reads the Datadog API key from; only one is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiKeySource {
    /// KMS-encrypted key (`DD_KMS_API_KEY`).
    Kms(String),
    /// Secrets Manager secret ARN (`DD_API_KEY_SECRET_ARN`).
    SecretArn(String),
    /// SSM parameter ARN (`DD_API_KEY_SSM_ARN`).
    SsmArn(String),
    /// Plain-text key (`DD_API_KEY`).
    Plain(String),
}

impl ApiKeySource {
    /// The variable this source is written to.
    pub fn variable(&self) -> &'static str {
        match self {
            ApiKeySource::Kms(_) => "DD_KMS_API_KEY",
            ApiKeySource::SecretArn(_) => "DD_API_KEY_SECRET_ARN",
            ApiKeySource::SsmArn(_) => "DD_API_KEY_SSM_ARN",
            ApiKeySource::Plain(_) => "DD_API_KEY",
        }
    }

    fn value(&self) -> &str {
        match self {
            ApiKeySource::Kms(v)
            | ApiKeySource::SecretArn(v)
            | ApiKeySource::SsmArn(v)
            | ApiKeySource::Plain(v) => v,
        }
    }
}

/// Everything that decides the new configuration, already validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstrumentOptions {
    pub flavor: LayerFlavor,
    pub library_layer: LayerRequest,
    pub extension_layer: LayerRequest,
    /// `DD_SITE` to write; `None` keeps the function's or defaults to `datadoghq.com`.
    pub site: Option<String>,
    pub api_key: Option<ApiKeySource>,
    pub tracing: bool,
    pub merge_xray_traces: bool,
    /// Written as `DD_FLUSH_TO_LOG` only when no extension layer is attached.
    pub flush_metrics_to_logs: bool,
    pub capture_lambda_payload: bool,
    pub logging: bool,
    pub log_level: Option<String>,
    pub service: Option<String>,
    pub env: Option<String>,
    pub version: Option<String>,
    /// `key:value` tags for `DD_TAGS` (extra tags and source-code integration), already lower-cased.
    pub tags: Vec<String>,
    pub apm_flush_deadline: Option<String>,
    /// Account to take Datadog's layers from instead of Datadog's own (mirrors, tests).
    pub datadog_account: Option<String>,
    /// Version of the tool, written to the `lambdascope_cli` tag as `v<version>`.
    pub tool_version: String,
}

impl Default for InstrumentOptions {
    fn default() -> Self {
        InstrumentOptions {
            flavor: LayerFlavor::Lambdascope,
            library_layer: LayerRequest::None,
            extension_layer: LayerRequest::None,
            site: None,
            api_key: None,
            tracing: true,
            merge_xray_traces: false,
            flush_metrics_to_logs: true,
            capture_lambda_payload: false,
            logging: true,
            log_level: None,
            service: None,
            env: None,
            version: None,
            tags: Vec::new(),
            apm_flush_deadline: None,
            datadog_account: None,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// The parts of a configuration instrumentation changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    pub handler: String,
    pub env: BTreeMap<String, String>,
    pub layers: Vec<String>,
}

/// The new configuration of one function, next to its current one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionPlan {
    pub arn: String,
    pub before: Settings,
    pub after: Settings,
    /// Tags to set (key → value) with `TagResource`.
    pub tags_to_set: BTreeMap<String, String>,
    /// Tag keys to remove with `UntagResource`.
    pub tags_to_remove: Vec<String>,
}

impl FunctionPlan {
    /// Whether `UpdateFunctionConfiguration` is needed (handler, variables or layers differ).
    pub fn changes_configuration(&self) -> bool {
        self.before != self.after
    }

    /// Whether anything at all would be written.
    pub fn is_noop(&self) -> bool {
        !self.changes_configuration()
            && self.tags_to_set.is_empty()
            && self.tags_to_remove.is_empty()
    }

    /// Whether the layer list changed (Lambda wants `Layers` only then).
    pub fn changes_layers(&self) -> bool {
        self.before.layers != self.after.layers
    }
}

/// Why a function cannot be instrumented as asked. Nothing is written for it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("can't instrument {arn}: runtime `{runtime}` is not supported (supported: python3.8 to python3.14, nodejs16.x to nodejs24.x with --layers datadog, provided.al2/provided.al2023)")]
    UnsupportedRuntime { arn: String, runtime: String },
    #[error("can't instrument {arn}: lambdascope has no {family} library; use --layers datadog or -v none")]
    NoLambdascopeLibrary { arn: String, family: RuntimeFamily },
    #[error("detected Lambda functions using different runtime families ({families}); instrument one family per run")]
    MixedRuntimeFamilies { families: String },
    #[error("can't instrument {arn}: an extension layer is added but no API key is configured; set DATADOG_API_KEY, DATADOG_KMS_API_KEY, DATADOG_API_KEY_SECRET_ARN or DATADOG_API_KEY_SSM_ARN")]
    MissingApiKey { arn: String },
    #[error("can't instrument {arn}: layer {layer} is not published in {region}; run `lambdascope layer publish --region {region}` first, or pass --layers datadog")]
    LayerNotPublished {
        arn: String,
        layer: String,
        region: String,
    },
    #[error("can't instrument {arn}: its handler is already `{handler}` but DD_LAMBDA_HANDLER is not set, so the original handler is unknown; set DD_LAMBDA_HANDLER to it first")]
    OriginalHandlerUnknown { arn: String, handler: String },
    #[error("can't instrument {arn}: its environment would be {bytes} bytes, over Lambda's 4 KB limit ({limit} bytes); remove unused variables or shorten --extra-tags")]
    EnvironmentTooLarge {
        arn: String,
        bytes: usize,
        limit: usize,
    },
    #[error("can't instrument {arn}: it would have {count} layers, Lambda allows {MAX_LAYERS}; remove a layer first")]
    TooManyLayers { arn: String, count: usize },
}

/// Checks that all functions share one runtime family (one library per run).
pub fn check_runtime_families<'a>(
    functions: impl IntoIterator<Item = &'a FunctionConfig>,
) -> Result<Option<RuntimeFamily>, PlanError> {
    let families: BTreeSet<RuntimeFamily> = functions
        .into_iter()
        .filter_map(|f| Runtime::parse(&f.runtime).map(|r| r.family))
        .collect();
    if families.len() > 1 {
        let families = families
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        return Err(PlanError::MixedRuntimeFamilies { families });
    }
    Ok(families.into_iter().next())
}

/// Size Lambda counts against the 4 KB limit: names plus values, in bytes.
pub fn environment_size(env: &BTreeMap<String, String>) -> usize {
    env.iter().map(|(k, v)| k.len() + v.len()).sum()
}

pub(crate) fn parse_name_list(value: Option<&String>) -> BTreeSet<String> {
    value
        .map(|v| v.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

fn join_names(names: &BTreeSet<String>) -> String {
    names.iter().cloned().collect::<Vec<_>>().join(" ")
}

/// The handler our or Datadog's library exposes for a runtime family.
fn redirect_handler(flavor: LayerFlavor, family: RuntimeFamily) -> Option<&'static str> {
    match (family, flavor) {
        (RuntimeFamily::Python, LayerFlavor::Lambdascope) => Some(LAMBDASCOPE_PYTHON_HANDLER),
        (RuntimeFamily::Python, LayerFlavor::Datadog) => Some(DATADOG_PYTHON_HANDLER),
        (RuntimeFamily::Node, _) => Some(DATADOG_NODE_HANDLER),
        (RuntimeFamily::Provided, _) => None,
    }
}

/// Merges `key:value` tags into an existing `DD_TAGS` value; a new value for a key replaces the old.
fn merge_dd_tags(existing: Option<&String>, new: &[String]) -> String {
    let mut merged: Vec<String> = existing
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    for tag in new {
        let key = tag.split(':').next().unwrap_or(tag);
        merged.retain(|t| t.split(':').next().unwrap_or(t) != key);
        merged.push(tag.clone());
    }
    merged.join(",")
}

/// Plans instrumentation of one function. Running it again on its own output changes nothing.
pub fn plan_instrument(
    function: &FunctionConfig,
    options: &InstrumentOptions,
) -> Result<FunctionPlan, PlanError> {
    let runtime =
        Runtime::parse(&function.runtime).ok_or_else(|| PlanError::UnsupportedRuntime {
            arn: function.arn.clone(),
            runtime: function.runtime.clone(),
        })?;
    let before = Settings {
        handler: function.handler.clone(),
        env: function.env.clone(),
        layers: function.layers.clone(),
    };
    let mut env = function.env.clone();
    let already_ours = function.tags.contains_key(VERSION_TAG);

    // Managed variables that predate the first instrumentation stay after uninstrument. A
    // function another tool instrumented (datadog-ci, a plugin) got its DD_* from that tool, so
    // none of them count as the user's own.
    let by_other_tool = function.tags.contains_key("dd_sls_ci")
        || REDIRECT_HANDLERS.contains(&function.handler.as_str())
        || function
            .layers
            .iter()
            .any(|l| layer_name(l).is_some_and(|n| known_slot(n).is_some()));
    let kept: BTreeSet<String> = if already_ours {
        parse_name_list(function.tags.get(KEPT_TAG))
    } else if by_other_tool {
        BTreeSet::new()
    } else {
        MANAGED_VARIABLES
            .iter()
            .filter(|k| env.contains_key(**k))
            .map(|k| k.to_string())
            .collect()
    };

    let site = options
        .site
        .clone()
        .or_else(|| env.get("DD_SITE").cloned())
        .unwrap_or_else(|| "datadoghq.com".to_string());

    let library = resolve_layer(
        function,
        &runtime,
        LayerSlot::Library,
        &options.library_layer,
        &site,
        options.datadog_account.as_deref(),
    )?;
    let extension = resolve_layer(
        function,
        &runtime,
        LayerSlot::Extension,
        &options.extension_layer,
        &site,
        options.datadog_account.as_deref(),
    )?;

    // Handler redirect only when a library is attached: without it the redirect target is missing.
    let mut handler = function.handler.clone();
    if library.is_some() {
        if let Some(redirect) = redirect_handler(options.flavor, runtime.family) {
            if REDIRECT_HANDLERS.contains(&function.handler.as_str()) {
                if !env.contains_key("DD_LAMBDA_HANDLER") {
                    return Err(PlanError::OriginalHandlerUnknown {
                        arn: function.arn.clone(),
                        handler: function.handler.clone(),
                    });
                }
            } else {
                env.insert("DD_LAMBDA_HANDLER".into(), function.handler.clone());
            }
            handler = redirect.to_string();
        }
    }

    if let Some(key) = &options.api_key {
        for other in API_KEY_VARIABLES {
            if other != key.variable() && !kept.contains(other) {
                env.remove(other);
            }
        }
        env.insert(key.variable().into(), key.value().to_string());
    }
    env.insert("DD_SITE".into(), site);

    let mut set = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            env.insert(key.to_string(), value);
        }
    };
    set(
        "DD_APM_FLUSH_DEADLINE_MILLISECONDS",
        options.apm_flush_deadline.clone(),
    );
    set(
        "DD_CAPTURE_LAMBDA_PAYLOAD",
        Some(options.capture_lambda_payload.to_string()),
    );
    set("DD_ENV", options.env.clone());
    set(
        "DD_SERVERLESS_LOGS_ENABLED",
        Some(options.logging.to_string()),
    );
    set(
        "DD_MERGE_XRAY_TRACES",
        Some(options.merge_xray_traces.to_string()),
    );
    set("DD_SERVICE", options.service.clone());
    set("DD_TRACE_ENABLED", Some(options.tracing.to_string()));
    set("DD_VERSION", options.version.clone());
    set("DD_LOG_LEVEL", options.log_level.clone());
    if !options.tags.is_empty() {
        let merged = merge_dd_tags(env.get("DD_TAGS"), &options.tags);
        env.insert("DD_TAGS".into(), merged);
    }

    let mut layers = function.layers.clone();
    if let Some(arn) = &library {
        place_layer(&mut layers, LayerSlot::Library, arn);
    }
    if let Some(arn) = &extension {
        place_layer(&mut layers, LayerSlot::Extension, arn);
    }
    let has_extension = layers
        .iter()
        .filter_map(|l| layer_name(l))
        .any(|n| known_slot(n) == Some(LayerSlot::Extension))
        || extension.is_some();

    // Metrics go through the extension when there is one; flushing to logs is the fallback.
    if has_extension {
        if !kept.contains("DD_FLUSH_TO_LOG") {
            env.remove("DD_FLUSH_TO_LOG");
        }
    } else {
        env.insert(
            "DD_FLUSH_TO_LOG".into(),
            options.flush_metrics_to_logs.to_string(),
        );
    }

    if has_extension && !API_KEY_VARIABLES.iter().any(|k| env.contains_key(*k)) {
        return Err(PlanError::MissingApiKey {
            arn: function.arn.clone(),
        });
    }
    let bytes = environment_size(&env);
    if bytes > ENV_LIMIT_BYTES {
        return Err(PlanError::EnvironmentTooLarge {
            arn: function.arn.clone(),
            bytes,
            limit: ENV_LIMIT_BYTES,
        });
    }
    if layers.len() > MAX_LAYERS {
        return Err(PlanError::TooManyLayers {
            arn: function.arn.clone(),
            count: layers.len(),
        });
    }

    // Explicit ARNs are not recognisable by name later; remember their names for uninstrument.
    let mut explicit_layers = parse_name_list(function.tags.get(LAYERS_TAG));
    for (request, arn) in [
        (&options.library_layer, &library),
        (&options.extension_layer, &extension),
    ] {
        if let (LayerRequest::Arn(_), Some(arn)) = (request, arn) {
            if let Some(name) = layer_name(arn) {
                if known_slot(name).is_none() {
                    explicit_layers.insert(name.to_string());
                }
            }
        }
    }

    let mut wanted_tags = BTreeMap::new();
    wanted_tags.insert(
        VERSION_TAG.to_string(),
        format!("v{}", options.tool_version),
    );
    if !kept.is_empty() {
        wanted_tags.insert(KEPT_TAG.to_string(), join_names(&kept));
    }
    if !explicit_layers.is_empty() {
        wanted_tags.insert(LAYERS_TAG.to_string(), join_names(&explicit_layers));
    }
    let tags_to_set = wanted_tags
        .into_iter()
        .filter(|(k, v)| function.tags.get(k) != Some(v))
        .collect();

    Ok(FunctionPlan {
        arn: function.arn.clone(),
        before,
        after: Settings {
            handler,
            env,
            layers,
        },
        tags_to_set,
        tags_to_remove: Vec::new(),
    })
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
