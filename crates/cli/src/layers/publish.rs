//! Which zip becomes which layer, with which compatible runtimes and architectures.

use crate::instrument::layer_catalog::{
    LAMBDASCOPE_EXTENSION_ARM_LAYER, LAMBDASCOPE_EXTENSION_LAYER, LAMBDASCOPE_PYTHON_LAYER,
};
use crate::instrument::runtime::Architecture;

/// Python runtimes the library supports.
pub const PYTHON_RUNTIMES: [&str; 7] = [
    "python3.8",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
];

/// One layer `layer publish` creates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerSpec {
    pub name: &'static str,
    pub zip: &'static str,
    pub description: &'static str,
    pub runtimes: Vec<&'static str>,
    pub architectures: Vec<Architecture>,
}

/// File name `layer build` gives the extension zip for an architecture.
pub fn extension_zip(arch: Architecture) -> &'static str {
    match arch {
        Architecture::X86_64 => "lambdascope-extension-x86_64.zip",
        Architecture::Arm64 => "lambdascope-extension-arm64.zip",
    }
}

/// File name of the Python library zip.
pub const PYTHON_ZIP: &str = "lambdascope-python.zip";

/// Every layer, in publishing order.
pub fn layer_specs() -> Vec<LayerSpec> {
    // The extension runs beside any runtime; Lambda accepts at most 15 compatible runtimes.
    let mut extension_runtimes = PYTHON_RUNTIMES.to_vec();
    extension_runtimes.extend(["provided.al2", "provided.al2023"]);
    vec![
        LayerSpec {
            name: LAMBDASCOPE_PYTHON_LAYER,
            zip: PYTHON_ZIP,
            description: "lambdascope Python library (handler redirect, metrics, tracing)",
            runtimes: PYTHON_RUNTIMES.to_vec(),
            architectures: vec![Architecture::X86_64, Architecture::Arm64],
        },
        LayerSpec {
            name: LAMBDASCOPE_EXTENSION_LAYER,
            zip: extension_zip(Architecture::X86_64),
            description: "lambdascope extension (x86_64)",
            runtimes: extension_runtimes.clone(),
            architectures: vec![Architecture::X86_64],
        },
        LayerSpec {
            name: LAMBDASCOPE_EXTENSION_ARM_LAYER,
            zip: extension_zip(Architecture::Arm64),
            description: "lambdascope extension (arm64)",
            runtimes: extension_runtimes,
            architectures: vec![Architecture::Arm64],
        },
    ]
}
