//! The template transform: instruments the Python functions of a CloudFormation or SAM template
//! with the same rules as `lambdascope lambda instrument` ([`crate::plan::plan_instrument`]).
//!
//! Front ends: `lambdascope cfn transform`, the `LambdaScopeServerless` CloudFormation macro, the
//! Serverless Framework plugin and the CDK construct all call [`transform_text`] or
//! [`transform_template`], so a function gets the same handler, variables and layers whichever
//! way it is deployed. Everything the transform does not change is written back as it was read,
//! intrinsic functions (`!Ref`, `!Sub`, `Fn::If`, …) included.

mod intrinsic;
mod params;
mod resource;

use serde_yaml_ng::{Mapping, Value};

pub use params::{TransformParams, ACCOUNT_PLACEHOLDER, KNOWN_PARAMETERS, REGION_PLACEHOLDER};

use crate::options::OptionsError;
use crate::plan::PlanError;

/// Whether a template was read from YAML or JSON; the output uses the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplateFormat {
    Yaml,
    Json,
}

/// Why a template cannot be transformed; nothing is written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TransformError {
    #[error("the template is not valid {format}: {reason}")]
    Malformed {
        format: &'static str,
        reason: String,
    },
    #[error("the template has no Resources section (a mapping of logical ids to resources)")]
    NoResources,
    #[error("unknown parameter {name:?}; known parameters: {known}")]
    UnknownParameter { name: String, known: String },
    #[error("invalid parameter {name}: {reason}")]
    Parameter { name: String, reason: String },
    #[error("give only one of the parameters apiKey, apiKeySecretArn, apiKeySsmArn, apiKmsKey")]
    SeveralApiKeys,
    #[error("{0}")]
    Options(#[from] OptionsError),
    #[error("resource {resource}: {property} {reason}")]
    Property {
        resource: String,
        property: &'static str,
        reason: String,
    },
    #[error("resource {resource}: an extension layer is added but no API key is configured; set one of the parameters apiKeySecretArn, apiKeySsmArn, apiKmsKey or apiKey")]
    MissingApiKey { resource: String },
    #[error("resource {resource}: Globals.Function.Layers holds {layer}, which instrumentation replaces; SAM cannot remove a global layer from one function, so move it from Globals to the functions")]
    GlobalLayerReplaced { resource: String, layer: String },
    #[error("resource {resource}: the branches of its Fn::If Layers would need different variables; give both branches the same lambdascope/Datadog layers")]
    BranchesDiffer { resource: String },
    #[error("{0}")]
    Plan(PlanError),
}

/// What a transform did, for the caller to print.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransformReport {
    /// Logical ids of the functions instrumented, in template order.
    pub instrumented: Vec<String>,
    /// Functions left alone and why (non-Python runtime, image, opted out).
    pub warnings: Vec<String>,
}

/// Parses a template, YAML or JSON (JSON when the first non-blank character is `{`).
pub fn parse_template(text: &str) -> Result<(Value, TemplateFormat), TransformError> {
    if text.trim_start().starts_with('{') {
        let value = serde_json::from_str::<Value>(text).map_err(|e| TransformError::Malformed {
            format: "JSON",
            reason: e.to_string(),
        })?;
        Ok((value, TemplateFormat::Json))
    } else {
        let value =
            serde_yaml_ng::from_str::<Value>(text).map_err(|e| TransformError::Malformed {
                format: "YAML",
                reason: e.to_string(),
            })?;
        Ok((value, TemplateFormat::Yaml))
    }
}

/// Writes a template back in its format (JSON pretty-printed, key order kept).
pub fn write_template(template: &Value, format: TemplateFormat) -> String {
    match format {
        TemplateFormat::Json => {
            let mut out = serde_json::to_string_pretty(template)
                .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
            out.push('\n');
            out
        }
        TemplateFormat::Yaml => match serde_yaml_ng::to_string(template) {
            Ok(text) => quote_dates(&text),
            Err(e) => format!("# could not write the template: {e}\n"),
        },
    }
}

/// Quotes plain scalars that look like dates (`2010-09-09`): the YAML writer leaves them bare,
/// and YAML 1.1 loaders (PyYAML in the AWS and SAM CLIs) would read them as timestamps.
fn quote_dates(text: &str) -> String {
    static DATE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let date = DATE.get_or_init(|| {
        regex::Regex::new(r"(?m)^(\s*(?:- )*(?:[^\s:'\x22][^:'\x22]*: )?)(\d{4}-\d{2}-\d{2})$")
            .unwrap_or_else(|e| panic!("date pattern: {e}"))
    });
    date.replace_all(text, "$1'$2'").into_owned()
}

/// Transforms template text and writes it back in the same format.
pub fn transform_text(
    text: &str,
    params: &TransformParams,
    parameter_values: &Mapping,
) -> Result<(String, TransformReport), TransformError> {
    let (mut template, format) = parse_template(text)?;
    let report = transform_template(&mut template, params, parameter_values)?;
    Ok((write_template(&template, format), report))
}

/// Instruments every eligible function resource of a parsed template in place.
///
/// `parameter_values` are the stack's parameter values (the macro's `templateParameterValues`);
/// `Ref`s to parameters not given there resolve to their `Default`.
pub fn transform_template(
    template: &mut Value,
    params: &TransformParams,
    parameter_values: &Mapping,
) -> Result<TransformReport, TransformError> {
    let root = template
        .as_mapping_mut()
        .ok_or(TransformError::NoResources)?;
    let parameters = root
        .get("Parameters")
        .and_then(Value::as_mapping)
        .cloned()
        .unwrap_or_default();
    let globals = root
        .get("Globals")
        .and_then(|g| g.get("Function"))
        .and_then(Value::as_mapping)
        .cloned();
    let resources = root
        .get_mut("Resources")
        .and_then(Value::as_mapping_mut)
        .ok_or(TransformError::NoResources)?;
    let context = resource::TemplateContext {
        parameters: &parameters,
        values: parameter_values,
        globals: globals.as_ref(),
        params,
    };
    let mut report = TransformReport::default();
    for (id, resource) in resources.iter_mut() {
        let Some(id) = id.as_str() else { continue };
        let Some(resource) = resource.as_mapping_mut() else {
            continue;
        };
        if resource::transform_function(id, resource, &context, &mut report.warnings)? {
            report.instrumented.push(id.to_string());
        }
    }
    Ok(report)
}
