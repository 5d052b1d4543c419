//! Where layers go: resolving a [`LayerRequest`] to the exact ARN for a function's runtime,
//! architecture and region, and putting it in its slot without disturbing the user's layers.

use super::layer_catalog::{self, known_slot, layer_name, LayerSlot};
use super::plan::{FunctionConfig, LayerRequest, PlanError};
use super::runtime::{Runtime, RuntimeFamily};

/// Resolves a request to an exact ARN for this function's runtime, architecture and region.
pub(crate) fn resolve_layer(
    function: &FunctionConfig,
    runtime: &Runtime,
    slot: LayerSlot,
    request: &LayerRequest,
    site: &str,
    datadog_account: Option<&str>,
) -> Result<Option<String>, PlanError> {
    let arch = function.architecture;
    match request {
        LayerRequest::None => Ok(None),
        LayerRequest::Arn(arn) => Ok(Some(arn.clone())),
        LayerRequest::Datadog { version } => {
            let name = match slot {
                LayerSlot::Library => match runtime.datadog_library_layer(arch) {
                    Some(name) => name,
                    None => return Ok(None),
                },
                LayerSlot::Extension => layer_catalog::datadog_extension_layer(arch).to_string(),
            };
            let region = &function.region;
            Ok(Some(match datadog_account {
                Some(account) => layer_catalog::layer_version_arn(region, account, &name, *version),
                None => layer_catalog::datadog_layer_arn(region, site, &name, *version),
            }))
        }
        LayerRequest::Lambdascope { arns } => {
            let name = match (slot, runtime.family) {
                (LayerSlot::Library, RuntimeFamily::Provided) => return Ok(None),
                (LayerSlot::Library, RuntimeFamily::Node) => {
                    return Err(PlanError::NoLambdascopeLibrary {
                        arn: function.arn.clone(),
                        family: runtime.family,
                    })
                }
                (LayerSlot::Library, RuntimeFamily::Python) => {
                    layer_catalog::LAMBDASCOPE_PYTHON_LAYER
                }
                (LayerSlot::Extension, _) => layer_catalog::lambdascope_extension_layer(arch),
            };
            match arns.get(name) {
                Some(arn) => Ok(Some(arn.clone())),
                None => Err(PlanError::LayerNotPublished {
                    arn: function.arn.clone(),
                    layer: name.to_string(),
                    region: function.region.clone(),
                }),
            }
        }
    }
}

/// Puts `desired` in its slot: drops other layers of the same slot (any publisher, runtime or
/// architecture) and older versions of the same layer, keeps every other layer in place.
pub(crate) fn place_layer(layers: &mut Vec<String>, slot: LayerSlot, desired: &str) {
    let desired_name = layer_name(desired);
    layers.retain(|existing| {
        if existing == desired {
            return true;
        }
        let Some(name) = layer_name(existing) else {
            return true;
        };
        known_slot(name) != Some(slot) && Some(name) != desired_name
    });
    if !layers.iter().any(|l| l == desired) {
        layers.push(desired.to_string());
    }
}
