//! One function resource (`AWS::Lambda::Function` or `AWS::Serverless::Function`): read its
//! configuration (with SAM's `Globals.Function`), plan it with [`plan_instrument`], write back
//! only what changed.

use std::collections::{BTreeMap, HashMap};

use serde_yaml_ng::{Mapping, Value};

use super::intrinsic::{fn_sub, intrinsic, resolve_text};
use super::params::{TransformParams, ACCOUNT_PLACEHOLDER, REGION_PLACEHOLDER};
use super::TransformError;
use crate::plan::{plan_instrument, FunctionConfig, FunctionPlan, PlanError};
use crate::runtime::Architecture;

const LAMBDA_FUNCTION: &str = "AWS::Lambda::Function";
const SAM_FUNCTION: &str = "AWS::Serverless::Function";

/// What every function of one template shares.
pub(crate) struct TemplateContext<'a> {
    pub parameters: &'a Mapping,
    pub values: &'a Mapping,
    /// SAM's `Globals.Function`, inherited by `AWS::Serverless::Function` resources.
    pub globals: Option<&'a Mapping>,
    pub params: &'a TransformParams,
}

/// Values the planner cannot read (intrinsics) stand in as opaque placeholder strings, so they
/// keep their place and are written back untouched.
#[derive(Default)]
struct Opaque {
    values: HashMap<String, Value>,
}

impl Opaque {
    fn text(&mut self, kind: &str, value: &Value) -> String {
        if let Some(layer) = placeholder_layer(value) {
            return layer;
        }
        match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                let key = format!("lambdascope-intrinsic-{kind}-{}", self.values.len());
                self.values.insert(key.clone(), other.clone());
                key
            }
        }
    }

    fn value(&self, text: &str) -> Value {
        if let Some(original) = self.values.get(text) {
            return original.clone();
        }
        if text.contains(REGION_PLACEHOLDER) || text.contains(ACCOUNT_PLACEHOLDER) {
            let sub = text
                .replace(REGION_PLACEHOLDER, "${AWS::Region}")
                .replace(ACCOUNT_PLACEHOLDER, "${AWS::AccountId}");
            return fn_sub(&sub);
        }
        Value::from(text)
    }
}

/// A layer written as `Fn::Sub` of an ARN whose only variables are the stack's region and
/// account (what this transform writes) is read back as that ARN, so a second transform
/// recognises and replaces it instead of adding another.
fn placeholder_layer(value: &Value) -> Option<String> {
    let (name, arg) = intrinsic(value)?;
    if name != "Fn::Sub" {
        return None;
    }
    let text = arg
        .as_str()?
        .replace("${AWS::Region}", REGION_PLACEHOLDER)
        .replace("${AWS::AccountId}", ACCOUNT_PLACEHOLDER);
    (!text.contains("${") && crate::layer_catalog::layer_name(&text).is_some()).then_some(text)
}

/// Instruments one resource in place. `Ok(false)` when it is not a function or is left alone.
pub(crate) fn transform_function(
    id: &str,
    resource: &mut Mapping,
    context: &TemplateContext<'_>,
    warnings: &mut Vec<String>,
) -> Result<bool, TransformError> {
    let kind = resource.get("Type").and_then(Value::as_str).unwrap_or("");
    let sam = match kind {
        LAMBDA_FUNCTION => false,
        SAM_FUNCTION => true,
        _ => return Ok(false),
    };
    let opted_out = resource
        .get("Metadata")
        .and_then(|m| m.get("lambdascope"))
        .and_then(|l| l.get("exclude"))
        .is_some_and(|e| e.as_bool() == Some(true) || e.as_str() == Some("true"));
    if opted_out || context.params.exclude.contains(id) {
        warnings.push(format!("{id}: left alone (excluded)"));
        return Ok(false);
    }
    let globals = if sam { context.globals } else { None };
    if !resource.contains_key("Properties") {
        resource.insert("Properties".into(), Value::Mapping(Mapping::new()));
    }
    let props = resource
        .get_mut("Properties")
        .and_then(Value::as_mapping_mut)
        .ok_or_else(|| property_error(id, "Properties", "must be a mapping"))?;
    let inherited = |key: &str| -> Option<Value> {
        props
            .get(key)
            .or_else(|| globals.and_then(|g| g.get(key)))
            .cloned()
    };
    let resolve = |value: &Value| resolve_text(value, context.parameters, context.values);

    if inherited("PackageType")
        .and_then(|p| resolve(&p))
        .as_deref()
        == Some("Image")
    {
        warnings.push(format!(
            "{id}: left alone (container image; add the layers' files to the image, see docs/install.md)"
        ));
        return Ok(false);
    }
    let runtime = match inherited("Runtime") {
        None => return Err(property_error(id, "Runtime", "is missing")),
        Some(value) => resolve(&value).ok_or_else(|| {
            property_error(
                id,
                "Runtime",
                "must be a string or a Ref to a template parameter",
            )
        })?,
    };
    if !runtime.starts_with("python") {
        warnings.push(format!(
            "{id}: left alone (runtime {runtime}; the transform instruments Python functions)"
        ));
        return Ok(false);
    }
    let handler = match inherited("Handler") {
        None => return Err(property_error(id, "Handler", "is missing")),
        Some(value) => resolve(&value).ok_or_else(|| {
            property_error(
                id,
                "Handler",
                "must be a string or a Ref to a template parameter",
            )
        })?,
    };
    let architecture = match inherited("Architectures") {
        None => Architecture::X86_64,
        Some(Value::Sequence(items)) => {
            let names: Vec<String> = items.iter().filter_map(resolve).collect();
            Architecture::from_lambda(&names)
        }
        Some(other) => Architecture::from_lambda(&[resolve(&other).unwrap_or_default()]),
    };

    let mut opaque = Opaque::default();
    let global_vars = globals
        .and_then(environment_variables)
        .cloned()
        .unwrap_or_default();
    let own_vars = environment_variables(props).cloned().unwrap_or_default();
    let mut env = BTreeMap::new();
    for (key, value) in global_vars.iter().chain(own_vars.iter()) {
        if let Some(key) = key.as_str() {
            env.insert(key.to_string(), opaque.text("env", value));
        }
    }
    let global_layers: Vec<String> = match globals.and_then(|g| g.get("Layers")) {
        Some(Value::Sequence(items)) => items.iter().map(|l| opaque.text("layer", l)).collect(),
        Some(other) => vec![opaque.text("layer", other)],
        None => Vec::new(),
    };
    let tags = read_tags(props.get("Tags"));

    // `Layers: !If [cond, [...], [...]]` is planned once per branch.
    let own_layers = props.get("Layers").cloned();
    let branches: Vec<Option<Value>> = match own_layers.as_ref().and_then(intrinsic) {
        Some((name, Value::Sequence(args))) if name == "Fn::If" && args.len() == 3 => {
            vec![Some(args[1].clone()), Some(args[2].clone())]
        }
        _ => vec![own_layers.clone()],
    };
    let region = context
        .params
        .region
        .clone()
        .unwrap_or_else(|| REGION_PLACEHOLDER.into());
    let mut plans: Vec<FunctionPlan> = Vec::new();
    for branch in &branches {
        let own: Vec<String> = match branch {
            None => Vec::new(),
            Some(Value::Sequence(items)) => items.iter().map(|l| opaque.text("layer", l)).collect(),
            Some(other) if is_no_value(other) => Vec::new(),
            Some(other) => vec![opaque.text("layer", other)],
        };
        let function = FunctionConfig {
            arn: id.to_string(),
            region: region.clone(),
            runtime: runtime.clone(),
            handler: handler.clone(),
            architecture,
            env: env.clone(),
            layers: global_layers.iter().cloned().chain(own).collect(),
            tags: tags.clone(),
        };
        let plan = plan_instrument(&function, &context.params.options).map_err(|e| match e {
            PlanError::MissingApiKey { .. } => TransformError::MissingApiKey {
                resource: id.to_string(),
            },
            other => TransformError::Plan(other),
        })?;
        if let Some(first) = plans.first() {
            if first.after.env != plan.after.env || first.after.handler != plan.after.handler {
                return Err(TransformError::BranchesDiffer {
                    resource: id.to_string(),
                });
            }
        }
        plans.push(plan);
    }

    let after = &plans[0].after;
    if after.handler != handler {
        props.insert("Handler".into(), Value::from(after.handler.as_str()));
    }
    write_environment(
        id,
        props,
        &global_vars,
        &own_vars,
        &env,
        &after.env,
        &opaque,
        warnings,
    );

    let mut written = Vec::new();
    for plan in &plans {
        let layers = &plan.after.layers;
        if !layers.starts_with(&global_layers) {
            let replaced = global_layers
                .iter()
                .find(|l| !layers.contains(l))
                .cloned()
                .unwrap_or_default();
            return Err(TransformError::GlobalLayerReplaced {
                resource: id.to_string(),
                layer: replaced,
            });
        }
        let own: Vec<Value> = layers[global_layers.len()..]
            .iter()
            .map(|l| opaque.value(l))
            .collect();
        written.push(Value::Sequence(own));
    }
    let changed_layers = plans.iter().any(FunctionPlan::changes_layers);
    if changed_layers {
        let new_layers = match own_layers {
            Some(mut value) if branches.len() == 2 => {
                if let Some(args) = if_arguments_mut(&mut value) {
                    args[1] = written[0].clone();
                    args[2] = written[1].clone();
                }
                value
            }
            _ => written.swap_remove(0),
        };
        props.insert("Layers".into(), new_layers);
    }
    write_tags(props, sam, &plans[0].tags_to_set);
    Ok(true)
}

fn property_error(id: &str, property: &'static str, reason: &str) -> TransformError {
    TransformError::Property {
        resource: id.to_string(),
        property,
        reason: reason.to_string(),
    }
}

fn environment_variables(props: &Mapping) -> Option<&Mapping> {
    props.get("Environment")?.get("Variables")?.as_mapping()
}

fn is_no_value(value: &Value) -> bool {
    intrinsic(value)
        .is_some_and(|(name, arg)| name == "Ref" && arg.as_str() == Some("AWS::NoValue"))
}

fn if_arguments_mut(value: &mut Value) -> Option<&mut Vec<Value>> {
    match value {
        Value::Tagged(tagged) => tagged.value.as_sequence_mut(),
        Value::Mapping(map) => map.get_mut("Fn::If")?.as_sequence_mut(),
        _ => None,
    }
}

/// Writes the variables that changed into the function's own `Environment.Variables`; the
/// function's other variables keep their order and form.
#[allow(clippy::too_many_arguments)]
fn write_environment(
    id: &str,
    props: &mut Mapping,
    global_vars: &Mapping,
    own_vars: &Mapping,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
    opaque: &Opaque,
    warnings: &mut Vec<String>,
) {
    let mut vars = own_vars.clone();
    let mut changed = false;
    for (key, value) in after {
        if before.get(key) != Some(value) {
            vars.insert(Value::from(key.as_str()), opaque.value(value));
            changed = true;
        }
    }
    for key in before.keys().filter(|k| !after.contains_key(*k)) {
        if vars.remove(key.as_str()).is_some() {
            changed = true;
        }
        if global_vars.contains_key(key.as_str()) {
            warnings.push(format!(
                "{id}: Globals.Function sets {key}, which instrumentation removes; remove it from Globals"
            ));
        }
    }
    if !changed {
        return;
    }
    if !matches!(props.get("Environment"), Some(Value::Mapping(_))) {
        props.insert("Environment".into(), Value::Mapping(Mapping::new()));
    }
    if let Some(Value::Mapping(environment)) = props.get_mut("Environment") {
        environment.insert("Variables".into(), Value::Mapping(vars));
    }
}

/// Tags as the plan reads them: SAM's map or CloudFormation's `[{Key, Value}]` list.
fn read_tags(tags: Option<&Value>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match tags {
        Some(Value::Mapping(map)) => {
            for (k, v) in map {
                if let (Some(k), Some(v)) = (k.as_str(), v.as_str()) {
                    out.insert(k.to_string(), v.to_string());
                }
            }
        }
        Some(Value::Sequence(items)) => {
            for item in items {
                if let (Some(k), Some(v)) = (
                    item.get("Key").and_then(Value::as_str),
                    item.get("Value").and_then(Value::as_str),
                ) {
                    out.insert(k.to_string(), v.to_string());
                }
            }
        }
        _ => {}
    }
    out
}

fn write_tags(props: &mut Mapping, sam: bool, tags: &BTreeMap<String, String>) {
    if tags.is_empty() {
        return;
    }
    if sam {
        if !matches!(props.get("Tags"), Some(Value::Mapping(_))) {
            props.insert("Tags".into(), Value::Mapping(Mapping::new()));
        }
        if let Some(Value::Mapping(map)) = props.get_mut("Tags") {
            for (k, v) in tags {
                map.insert(Value::from(k.as_str()), Value::from(v.as_str()));
            }
        }
        return;
    }
    if !matches!(props.get("Tags"), Some(Value::Sequence(_))) {
        props.insert("Tags".into(), Value::Sequence(Vec::new()));
    }
    if let Some(Value::Sequence(list)) = props.get_mut("Tags") {
        for (k, v) in tags {
            list.retain(|item| item.get("Key").and_then(Value::as_str) != Some(k));
            let mut tag = Mapping::new();
            tag.insert("Key".into(), Value::from(k.as_str()));
            tag.insert("Value".into(), Value::from(v.as_str()));
            list.push(Value::Mapping(tag));
        }
    }
}
