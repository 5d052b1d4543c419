//! The transform's parameters (`--param k=v`, the macro's `Parameters`, the plugin's
//! `custom.lambdascope`), validated into the same [`InstrumentOptions`] the CLI builds from flags.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use super::TransformError;
use crate::layer_catalog::{self, LAMBDASCOPE_EXTENSION_ARM_LAYER, LAMBDASCOPE_EXTENSION_LAYER};
use crate::options::{parse_bool, parse_extra_tags, validate_site};
use crate::plan::{ApiKeySource, InstrumentOptions, LayerFlavor, LayerRequest};

/// Stands for `${AWS::Region}` inside planned layer ARNs (no `:` so ARNs still parse); layers
/// holding it are written as `Fn::Sub`.
pub const REGION_PLACEHOLDER: &str = "@lambdascope-region@";
/// Stands for `${AWS::AccountId}` (our layers published in the deploying account).
pub const ACCOUNT_PLACEHOLDER: &str = "@lambdascope-account@";

/// Every parameter the transform takes, with the value it expects.
pub const KNOWN_PARAMETERS: [(&str, &str); 23] = [
    ("layers", "lambdascope or datadog"),
    ("libraryLayerVersion", "a version number or none"),
    ("pythonLayerVersion", "alias of libraryLayerVersion"),
    ("extensionLayerVersion", "a version number or none"),
    ("libraryLayerArn", "a layer version ARN"),
    ("extensionLayerArn", "a layer version ARN"),
    ("layerAccount", "the account that published the layers"),
    ("region", "the region the stack deploys to"),
    ("site", "a Datadog site"),
    ("apiKey", "a plain-text API key (tests only)"),
    ("apiKeySecretArn", "a Secrets Manager secret ARN"),
    ("apiKeySsmArn", "an SSM parameter ARN"),
    ("apiKmsKey", "a KMS-encrypted API key"),
    ("tracing", "true or false"),
    ("mergeXrayTraces", "true or false"),
    ("flushMetricsToLogs", "true or false"),
    ("captureLambdaPayload", "true or false"),
    ("logging", "true or false"),
    ("logLevel", "a log level"),
    ("service", "DD_SERVICE"),
    ("env", "DD_ENV"),
    ("version", "DD_VERSION"),
    ("tags", "key:value,key:value"),
];
const MORE_PARAMETERS: [&str; 4] = [
    "apmFlushDeadline",
    "exclude",
    "enableDDTracing",
    "enableDDLogs",
];

/// Validated transform parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransformParams {
    pub options: InstrumentOptions,
    /// Logical ids of functions to leave alone.
    pub exclude: BTreeSet<String>,
    /// The region layers are taken from; `None` writes `${AWS::Region}`.
    pub region: Option<String>,
}

impl TransformParams {
    /// Parses `key=value` pairs, as given on the command line.
    pub fn from_pairs<S: AsRef<str>>(pairs: &[S]) -> Result<TransformParams, TransformError> {
        let mut map = serde_json::Map::new();
        for pair in pairs {
            let pair = pair.as_ref();
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| TransformError::Parameter {
                    name: pair.to_string(),
                    reason: "use key=value".into(),
                })?;
            map.insert(key.trim().to_string(), Value::String(value.to_string()));
        }
        TransformParams::from_map(&map)
    }

    /// Parses a JSON object of parameters (the macro's `params`, the plugin's config).
    pub fn from_map(
        map: &serde_json::Map<String, Value>,
    ) -> Result<TransformParams, TransformError> {
        for key in map.keys() {
            let known = KNOWN_PARAMETERS.iter().any(|(k, _)| k == key)
                || MORE_PARAMETERS.contains(&key.as_str());
            if !known {
                let names: Vec<&str> = KNOWN_PARAMETERS
                    .iter()
                    .map(|(k, _)| *k)
                    .chain(MORE_PARAMETERS)
                    .collect();
                return Err(TransformError::UnknownParameter {
                    name: key.clone(),
                    known: names.join(", "),
                });
            }
        }
        let text = |key: &str| -> Option<String> {
            map.get(key).filter(|v| !v.is_null()).map(|v| match v {
                Value::String(s) => s.trim().to_string(),
                other => other.to_string(),
            })
        };
        let boolean = |key: &'static str, alias: &'static str, default: bool| match text(key)
            .or_else(|| text(alias))
        {
            Some(v) => parse_bool(key, &v).map_err(TransformError::from),
            None => Ok(default),
        };

        let flavor = match text("layers").as_deref() {
            None | Some("lambdascope") => LayerFlavor::Lambdascope,
            Some("datadog") => LayerFlavor::Datadog,
            Some(other) => {
                return Err(TransformError::Parameter {
                    name: "layers".into(),
                    reason: format!("{other:?} is not lambdascope or datadog"),
                })
            }
        };
        let region = text("region");
        let region_or_placeholder = region.clone().unwrap_or_else(|| REGION_PLACEHOLDER.into());
        let account = text("layerAccount").unwrap_or_else(|| ACCOUNT_PLACEHOLDER.into());
        let library_version = text("libraryLayerVersion").or_else(|| text("pythonLayerVersion"));
        let library_layer = layer_request(
            flavor,
            "libraryLayerVersion",
            library_version,
            text("libraryLayerArn"),
            layer_catalog::DATADOG_LATEST_PYTHON,
            &region_or_placeholder,
            &account,
            &[layer_catalog::LAMBDASCOPE_PYTHON_LAYER],
        )?;
        let extension_layer = layer_request(
            flavor,
            "extensionLayerVersion",
            text("extensionLayerVersion"),
            text("extensionLayerArn"),
            layer_catalog::DATADOG_LATEST_EXTENSION,
            &region_or_placeholder,
            &account,
            &[LAMBDASCOPE_EXTENSION_LAYER, LAMBDASCOPE_EXTENSION_ARM_LAYER],
        )?;

        let keys: Vec<ApiKeySource> = [
            text("apiKmsKey").map(ApiKeySource::Kms),
            text("apiKeySecretArn").map(ApiKeySource::SecretArn),
            text("apiKeySsmArn").map(ApiKeySource::SsmArn),
            text("apiKey").map(ApiKeySource::Plain),
        ]
        .into_iter()
        .flatten()
        .collect();
        if keys.len() > 1 {
            return Err(TransformError::SeveralApiKeys);
        }
        let site = match text("site") {
            Some(site) => Some(validate_site(&site, &HashMap::new())?),
            None => None,
        };
        let tags = match text("tags") {
            Some(tags) if !tags.is_empty() => parse_extra_tags(&tags)?,
            _ => Vec::new(),
        };
        let exclude = match map.get("exclude") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            Some(Value::String(s)) => s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            _ => BTreeSet::new(),
        };
        let options = InstrumentOptions {
            flavor,
            library_layer,
            extension_layer,
            site,
            api_key: keys.into_iter().next(),
            tracing: boolean("tracing", "enableDDTracing", true)?,
            merge_xray_traces: boolean("mergeXrayTraces", "mergeXrayTraces", false)?,
            flush_metrics_to_logs: boolean("flushMetricsToLogs", "flushMetricsToLogs", true)?,
            capture_lambda_payload: boolean("captureLambdaPayload", "captureLambdaPayload", false)?,
            logging: boolean("logging", "enableDDLogs", true)?,
            log_level: text("logLevel"),
            service: text("service"),
            env: text("env"),
            version: text("version"),
            tags,
            apm_flush_deadline: text("apmFlushDeadline"),
            datadog_account: None,
            ..InstrumentOptions::default()
        };
        Ok(TransformParams {
            options,
            exclude,
            region,
        })
    }
}

/// One layer slot: an exact ARN, `none`, a version of our layers (ARNs built for the region and
/// account) or of Datadog's (default: the latest compiled in).
#[allow(clippy::too_many_arguments)]
fn layer_request(
    flavor: LayerFlavor,
    name: &str,
    version: Option<String>,
    arn: Option<String>,
    datadog_latest: u32,
    region: &str,
    account: &str,
    lambdascope_layers: &[&str],
) -> Result<LayerRequest, TransformError> {
    if let Some(arn) = arn {
        if version.is_some() {
            return Err(TransformError::Parameter {
                name: name.into(),
                reason: format!("give either {name} or the matching ...LayerArn, not both"),
            });
        }
        return Ok(LayerRequest::Arn(arn));
    }
    let number = match version.as_deref() {
        Some("none") => return Ok(LayerRequest::None),
        Some(v) => Some(v.parse::<u32>().map_err(|_| TransformError::Parameter {
            name: name.into(),
            reason: format!("{v:?} is not a version number or none"),
        })?),
        None => None,
    };
    match (flavor, number) {
        (LayerFlavor::Datadog, n) => Ok(LayerRequest::Datadog {
            version: n.unwrap_or(datadog_latest),
        }),
        (LayerFlavor::Lambdascope, Some(n)) => {
            let arns: BTreeMap<String, String> = lambdascope_layers
                .iter()
                .map(|layer| {
                    let arn = layer_catalog::layer_version_arn(region, account, layer, n);
                    (layer.to_string(), arn)
                })
                .collect();
            Ok(LayerRequest::Lambdascope { arns })
        }
        (LayerFlavor::Lambdascope, None) => Err(TransformError::Parameter {
            name: name.into(),
            reason: "required with layers=lambdascope: the version `lambdascope layer publish` printed (or the ...LayerArn, or none)".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datadog_defaults_to_the_latest_layers() {
        let p = TransformParams::from_pairs(&["layers=datadog", "apiKeySecretArn=arn:s"]).unwrap();
        assert_eq!(
            p.options.library_layer,
            LayerRequest::Datadog {
                version: layer_catalog::DATADOG_LATEST_PYTHON
            }
        );
        assert_eq!(
            p.options.api_key,
            Some(ApiKeySource::SecretArn("arn:s".into()))
        );
    }

    #[test]
    fn bad_parameters_say_what_to_do() {
        let err = |pairs: &[&str]| TransformParams::from_pairs(pairs).unwrap_err().to_string();
        assert!(err(&["sight=datadoghq.eu"]).contains("unknown parameter \"sight\""));
        assert!(err(&["layers=datadog", "apiKey=a", "apiKeySecretArn=b"]).contains("only one of"));
        assert!(err(&["layers=datadog", "tracing=yes"]).contains("use true or false"));
        assert!(err(&["layers=datadog", "site=datadoghq.co"]).contains("invalid site"));
        assert!(err(&["extensionLayerVersion=3"]).contains("libraryLayerVersion"));
        assert!(err(&["noequals"]).contains("key=value"));
    }
}
