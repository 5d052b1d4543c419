//! Uninstrument's plan: the inverse of [`plan_instrument`](super::plan::plan_instrument), read
//! entirely from the function (handler, variables, layer names, our tags).

use std::collections::BTreeMap;

use super::layer_catalog::{known_slot, layer_name, REDIRECT_HANDLERS};
use super::plan::{
    parse_name_list, FunctionConfig, FunctionPlan, Settings, KEPT_TAG, LAYERS_TAG,
    MANAGED_VARIABLES, VERSION_TAG,
};

/// Plans removing instrumentation: restores the handler, removes the variables, layers and tags
/// instrumentation added, and only those. A function that was never instrumented is left alone.
pub fn plan_uninstrument(function: &FunctionConfig) -> FunctionPlan {
    let before = Settings {
        handler: function.handler.clone(),
        env: function.env.clone(),
        layers: function.layers.clone(),
    };
    let ours = function.tags.contains_key(VERSION_TAG);
    let redirected = REDIRECT_HANDLERS.contains(&function.handler.as_str());
    let extra_layers = parse_name_list(function.tags.get(LAYERS_TAG));
    let is_instrumented_layer = |arn: &String| {
        layer_name(arn).is_some_and(|n| known_slot(n).is_some() || extra_layers.contains(n))
    };
    let has_layers = function.layers.iter().any(is_instrumented_layer);

    let mut after = before.clone();
    if ours || redirected || has_layers {
        let kept = parse_name_list(function.tags.get(KEPT_TAG));
        if redirected {
            if let Some(original) = function.env.get("DD_LAMBDA_HANDLER") {
                after.handler = original.clone();
            }
        }
        for key in MANAGED_VARIABLES {
            if !kept.contains(key) {
                after.env.remove(key);
            }
        }
        after.layers.retain(|l| !is_instrumented_layer(l));
    }
    let tags_to_remove = [VERSION_TAG, KEPT_TAG, LAYERS_TAG]
        .into_iter()
        .filter(|k| function.tags.contains_key(*k))
        .map(str::to_string)
        .collect();
    FunctionPlan {
        arn: function.arn.clone(),
        before,
        after,
        tags_to_set: BTreeMap::new(),
        tags_to_remove,
    }
}
