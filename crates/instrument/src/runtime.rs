//! Lambda runtimes and architectures, as far as instrumenting cares about them.
//!
//! The runtime decides which library layer fits and whether the handler can be redirected; the
//! architecture decides which extension binary (and, for Datadog's Python layers, which library
//! build) runs in the sandbox. A wrong architecture is the classic `exec format error` at init,
//! so both are classified here, once.

use std::fmt;

/// What a runtime supports: a library layer plus handler redirect, or only an extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuntimeFamily {
    /// `python3.8` … `python3.14`: library layer, handler redirect, extension.
    Python,
    /// `nodejs16.x` … `nodejs24.x`: only with Datadog's layers (lambdascope has no Node library).
    Node,
    /// `provided.al2`, `provided.al2023`: extension only, no library, no handler redirect.
    Provided,
}

impl fmt::Display for RuntimeFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RuntimeFamily::Python => "Python",
            RuntimeFamily::Node => "Node.js",
            RuntimeFamily::Provided => "custom runtime (provided)",
        })
    }
}

/// A supported runtime identifier with its family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Runtime {
    pub id: String,
    pub family: RuntimeFamily,
}

impl Runtime {
    /// Classifies a Lambda runtime identifier; `None` when it cannot be instrumented.
    pub fn parse(id: &str) -> Option<Runtime> {
        let family = if let Some(minor) = id.strip_prefix("python3.") {
            let minor: u32 = minor.parse().ok()?;
            if !(8..=14).contains(&minor) {
                return None;
            }
            RuntimeFamily::Python
        } else if let Some(major) = id.strip_prefix("nodejs").and_then(|r| r.strip_suffix(".x")) {
            let major: u32 = major.parse().ok()?;
            if !(16..=24).contains(&major) || major % 2 != 0 {
                return None;
            }
            RuntimeFamily::Node
        } else if id == "provided.al2" || id == "provided.al2023" {
            RuntimeFamily::Provided
        } else {
            return None;
        };
        Some(Runtime {
            id: id.to_string(),
            family,
        })
    }

    /// Datadog's library layer base name for this runtime (`Datadog-Python312`, `Datadog-Node20-x`).
    pub fn datadog_library_layer(&self, arch: Architecture) -> Option<String> {
        match self.family {
            RuntimeFamily::Python => {
                let minor = self.id.strip_prefix("python3.")?;
                let arm = if arch == Architecture::Arm64 {
                    "-ARM"
                } else {
                    ""
                };
                Some(format!("Datadog-Python3{minor}{arm}"))
            }
            RuntimeFamily::Node => {
                let major = self.id.strip_prefix("nodejs")?.strip_suffix(".x")?;
                Some(format!("Datadog-Node{major}-x"))
            }
            RuntimeFamily::Provided => None,
        }
    }
}

/// Instruction set of a function; Lambda allows exactly one per function.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Architecture {
    #[default]
    X86_64,
    Arm64,
}

impl Architecture {
    /// Reads Lambda's `Architectures` list (absent or empty means x86_64).
    pub fn from_lambda<S: AsRef<str>>(list: &[S]) -> Architecture {
        if list.iter().any(|a| a.as_ref() == "arm64") {
            Architecture::Arm64
        } else {
            Architecture::X86_64
        }
    }

    /// The name Lambda uses (`x86_64`, `arm64`).
    pub fn as_lambda(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_lambda())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_supported_runtimes() {
        assert_eq!(
            Runtime::parse("python3.12").unwrap().family,
            RuntimeFamily::Python
        );
        assert_eq!(
            Runtime::parse("python3.8").unwrap().family,
            RuntimeFamily::Python
        );
        assert_eq!(
            Runtime::parse("nodejs22.x").unwrap().family,
            RuntimeFamily::Node
        );
        assert_eq!(
            Runtime::parse("provided.al2023").unwrap().family,
            RuntimeFamily::Provided
        );
        for unsupported in [
            "python3.7",
            "python2.7",
            "go1.x",
            "java21",
            "nodejs15.x",
            "",
            "python3.x",
        ] {
            assert!(Runtime::parse(unsupported).is_none(), "{unsupported}");
        }
    }

    #[test]
    fn datadog_library_layer_names() {
        let py = Runtime::parse("python3.12").unwrap();
        assert_eq!(
            py.datadog_library_layer(Architecture::X86_64).unwrap(),
            "Datadog-Python312"
        );
        assert_eq!(
            py.datadog_library_layer(Architecture::Arm64).unwrap(),
            "Datadog-Python312-ARM"
        );
        let py38 = Runtime::parse("python3.8").unwrap();
        assert_eq!(
            py38.datadog_library_layer(Architecture::X86_64).unwrap(),
            "Datadog-Python38"
        );
        let node = Runtime::parse("nodejs20.x").unwrap();
        assert_eq!(
            node.datadog_library_layer(Architecture::Arm64).unwrap(),
            "Datadog-Node20-x"
        );
        assert!(Runtime::parse("provided.al2")
            .unwrap()
            .datadog_library_layer(Architecture::X86_64)
            .is_none());
    }

    #[test]
    fn architecture_from_lambda_list() {
        assert_eq!(Architecture::from_lambda::<&str>(&[]), Architecture::X86_64);
        assert_eq!(Architecture::from_lambda(&["arm64"]), Architecture::Arm64);
        assert_eq!(Architecture::from_lambda(&["x86_64"]), Architecture::X86_64);
    }
}
