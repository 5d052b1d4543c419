//! Which layers belong to instrumentation, and how their ARNs are spelled.
//!
//! Two publishers: Datadog (fixed accounts per partition and site, version numbers compiled in
//! for `latest`) and lambdascope (`layer publish` in the user's own account). Layers are matched
//! by their *exact* name, never by substring, so a user's `My-Datadog-Extension-Config` layer is
//! never mistaken for ours.

use super::runtime::Architecture;

/// Datadog's layer account in commercial AWS regions.
pub const DATADOG_ACCOUNT: &str = "464622532012";
/// Datadog's layer account for the AP1 site (`ap1.datadoghq.com`), per the installation guide.
pub const DATADOG_AP1_ACCOUNT: &str = "417141415827";
/// Datadog's layer account in GovCloud (`arn:aws-us-gov`).
pub const DATADOG_GOVCLOUD_ACCOUNT: &str = "002406178527";

/// `latest` for Datadog's Python library layers (datadog-ci 5.25.0's table).
pub const DATADOG_LATEST_PYTHON: u32 = 128;
/// `latest` for Datadog's Node.js library layers.
pub const DATADOG_LATEST_NODE: u32 = 141;
/// `latest` for Datadog's extension layers.
pub const DATADOG_LATEST_EXTENSION: u32 = 100;

/// The pure-Python library layer `layer publish` creates (one layer for both architectures).
pub const LAMBDASCOPE_PYTHON_LAYER: &str = "Lambdascope-Python";
/// The extension layer for x86_64.
pub const LAMBDASCOPE_EXTENSION_LAYER: &str = "Lambdascope-Extension";
/// The extension layer for arm64.
pub const LAMBDASCOPE_EXTENSION_ARM_LAYER: &str = "Lambdascope-Extension-ARM";

/// Handler our Python library exposes to wrap the original one named in `DD_LAMBDA_HANDLER`.
pub const LAMBDASCOPE_PYTHON_HANDLER: &str = "lambdascope.handler.handler";
/// Handler Datadog's Python library exposes.
pub const DATADOG_PYTHON_HANDLER: &str = "datadog_lambda.handler.handler";
/// Handler Datadog's Node.js library exposes.
pub const DATADOG_NODE_HANDLER: &str = "/opt/nodejs/node_modules/datadog-lambda-js/handler.handler";

/// Every handler that redirects to `DD_LAMBDA_HANDLER`; a function whose handler is one of these
/// is already redirected and its `DD_LAMBDA_HANDLER` is the user's real handler.
pub const REDIRECT_HANDLERS: [&str; 3] = [
    LAMBDASCOPE_PYTHON_HANDLER,
    DATADOG_PYTHON_HANDLER,
    DATADOG_NODE_HANDLER,
];

/// The two kinds of layer instrumentation adds; a function gets at most one of each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerSlot {
    Library,
    Extension,
}

/// The extension layer name for an architecture, per publisher.
pub fn datadog_extension_layer(arch: Architecture) -> &'static str {
    match arch {
        Architecture::X86_64 => "Datadog-Extension",
        Architecture::Arm64 => "Datadog-Extension-ARM",
    }
}

/// Our extension layer name for an architecture.
pub fn lambdascope_extension_layer(arch: Architecture) -> &'static str {
    match arch {
        Architecture::X86_64 => LAMBDASCOPE_EXTENSION_LAYER,
        Architecture::Arm64 => LAMBDASCOPE_EXTENSION_ARM_LAYER,
    }
}

/// The ARN partition of a region (`aws`, `aws-us-gov`, `aws-cn`).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("cn-") {
        "aws-cn"
    } else {
        "aws"
    }
}

/// The account that publishes Datadog's layers for a region and Datadog site.
pub fn datadog_account(region: &str, site: &str) -> &'static str {
    if partition(region) == "aws-us-gov" {
        DATADOG_GOVCLOUD_ACCOUNT
    } else if site.eq_ignore_ascii_case("ap1.datadoghq.com") {
        DATADOG_AP1_ACCOUNT
    } else {
        DATADOG_ACCOUNT
    }
}

/// A layer version ARN: `arn:<partition>:lambda:<region>:<account>:layer:<name>:<version>`.
pub fn layer_version_arn(region: &str, account: &str, name: &str, version: u32) -> String {
    format!(
        "arn:{}:lambda:{region}:{account}:layer:{name}:{version}",
        partition(region)
    )
}

/// Datadog's published layer ARN for a region, site, layer name and version.
pub fn datadog_layer_arn(region: &str, site: &str, name: &str, version: u32) -> String {
    layer_version_arn(region, datadog_account(region, site), name, version)
}

/// The layer name inside a layer version ARN (`None` when it is not one).
pub fn layer_name(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() == 8 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "layer" {
        Some(parts[6])
    } else {
        None
    }
}

/// Which slot a layer belongs to, if it is one of the layers instrumentation manages: Datadog's
/// or lambdascope's library and extension layers, any runtime, architecture or FIPS variant.
pub fn known_slot(name: &str) -> Option<LayerSlot> {
    let base = name.strip_suffix("-FIPS").unwrap_or(name);
    let base = base.strip_suffix("-ARM").unwrap_or(base);
    if base == "Datadog-Extension" || base == LAMBDASCOPE_EXTENSION_LAYER {
        return Some(LayerSlot::Extension);
    }
    if base == LAMBDASCOPE_PYTHON_LAYER {
        return Some(LayerSlot::Library);
    }
    if let Some(digits) = base.strip_prefix("Datadog-Python") {
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Some(LayerSlot::Library);
        }
    }
    if let Some(rest) = base.strip_prefix("Datadog-Node") {
        if let Some(digits) = rest.strip_suffix("-x") {
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                return Some(LayerSlot::Library);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datadog_arns_per_partition_and_site() {
        assert_eq!(
            datadog_layer_arn("us-east-1", "datadoghq.com", "Datadog-Python312", 128),
            "arn:aws:lambda:us-east-1:464622532012:layer:Datadog-Python312:128"
        );
        assert_eq!(
            datadog_layer_arn(
                "us-gov-west-1",
                "ddog-gov.com",
                "Datadog-Extension-ARM",
                100
            ),
            "arn:aws-us-gov:lambda:us-gov-west-1:002406178527:layer:Datadog-Extension-ARM:100"
        );
        assert_eq!(
            datadog_layer_arn(
                "ap-southeast-1",
                "ap1.datadoghq.com",
                "Datadog-Extension",
                7
            ),
            "arn:aws:lambda:ap-southeast-1:417141415827:layer:Datadog-Extension:7"
        );
        // GovCloud wins over the site: there is one GovCloud account.
        assert_eq!(
            datadog_account("us-gov-east-1", "ap1.datadoghq.com"),
            DATADOG_GOVCLOUD_ACCOUNT
        );
    }

    #[test]
    fn layer_names_are_matched_exactly() {
        assert_eq!(
            layer_name("arn:aws:lambda:us-east-1:1:layer:Datadog-Python312-ARM:3"),
            Some("Datadog-Python312-ARM")
        );
        assert_eq!(layer_name("not-an-arn"), None);
        assert_eq!(
            known_slot("Datadog-Python312-ARM"),
            Some(LayerSlot::Library)
        );
        assert_eq!(known_slot("Datadog-Python38"), Some(LayerSlot::Library));
        assert_eq!(known_slot("Datadog-Node20-x"), Some(LayerSlot::Library));
        assert_eq!(
            known_slot("Datadog-Extension-ARM-FIPS"),
            Some(LayerSlot::Extension)
        );
        assert_eq!(
            known_slot("Lambdascope-Extension-ARM"),
            Some(LayerSlot::Extension)
        );
        assert_eq!(known_slot("Lambdascope-Python"), Some(LayerSlot::Library));
        assert_eq!(known_slot("My-Datadog-Extension-Config"), None);
        assert_eq!(known_slot("Datadog-Python-utils"), None);
        assert_eq!(known_slot("requests"), None);
    }
}
