//! Will this extension binary start on Amazon Linux 2 and 2023?
//!
//! Amazon Linux 2 ships glibc 2.26. A binary linked on a newer system records, in its
//! `.gnu.version_r` section, the newest glibc symbol versions it needs (e.g. `GLIBC_2.34` for
//! `__libc_start_main` when linked against glibc ≥ 2.34); the loader refuses to start it on an
//! older glibc, and the extension then fails `Extension.LaunchError` in every cold start. We read
//! that section before packaging, along with the machine type (an arm64 layer with an x86_64
//! binary is the classic `exec format error`).

use object::elf;
use object::read::elf::{ElfFile64, FileHeader, ProgramHeader};
use object::Endianness;

use crate::instrument::runtime::Architecture;

/// The newest glibc Amazon Linux 2 provides.
pub const MAX_GLIBC: (u32, u32) = (2, 26);

/// What matters about an extension binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfInfo {
    pub architecture: Option<Architecture>,
    /// No program interpreter: does not load glibc at run time.
    pub is_static: bool,
    /// Highest `GLIBC_x.y` version needed, if any.
    pub max_glibc: Option<(u32, u32)>,
}

/// Why a binary cannot be packaged.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ElfError {
    #[error("{path} is not a 64-bit ELF executable ({reason}); pass the Linux extension binary")]
    NotElf { path: String, reason: String },
    #[error("{path} is built for {found}, but the layer is for {wanted}; build for the right target (e.g. --target aarch64-unknown-linux-gnu for arm64)")]
    WrongArchitecture {
        path: String,
        found: String,
        wanted: Architecture,
    },
    #[error("{path} needs GLIBC_{}.{} but Amazon Linux 2 has glibc {}.{}; link it statically (RUSTFLAGS='-C target-feature=+crt-static', the default of `layer build`) or build on/for an older glibc", .needed.0, .needed.1, MAX_GLIBC.0, MAX_GLIBC.1)]
    GlibcTooNew { path: String, needed: (u32, u32) },
}

fn parse_glibc(name: &[u8]) -> Option<(u32, u32)> {
    let text = std::str::from_utf8(name).ok()?.strip_prefix("GLIBC_")?;
    let mut parts = text.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |m| m.parse().ok())?;
    Some((major, minor))
}

/// Reads the machine, linkage and glibc versions needed from an ELF file's bytes.
pub fn inspect(data: &[u8]) -> Result<ElfInfo, String> {
    let file = ElfFile64::<Endianness>::parse(data).map_err(|e| e.to_string())?;
    let endian = file.endian();
    let header = file.elf_header();
    let architecture = match header.e_machine(endian) {
        elf::EM_X86_64 => Some(Architecture::X86_64),
        elf::EM_AARCH64 => Some(Architecture::Arm64),
        _ => None,
    };
    let is_static = !header
        .program_headers(endian, data)
        .map_err(|e| e.to_string())?
        .iter()
        .any(|ph| ph.p_type(endian) == elf::PT_INTERP);
    let mut max_glibc = None;
    let sections = file.elf_section_table();
    if let Some((mut needs, link)) = sections
        .gnu_verneed(endian, data)
        .map_err(|e| e.to_string())?
    {
        let strings = sections
            .strings(endian, data, link)
            .map_err(|e| e.to_string())?;
        while let Some((_need, mut aux)) = needs.next().map_err(|e| e.to_string())? {
            while let Some(entry) = aux.next().map_err(|e| e.to_string())? {
                let name = entry.name(endian, strings).map_err(|e| e.to_string())?;
                if let Some(version) = parse_glibc(name) {
                    max_glibc = max_glibc.max(Some(version));
                }
            }
        }
    }
    Ok(ElfInfo {
        architecture,
        is_static,
        max_glibc,
    })
}

/// Checks that a binary fits a layer for `arch` and runs on Amazon Linux 2 and 2023.
pub fn check_extension_binary(
    path: &str,
    data: &[u8],
    arch: Architecture,
) -> Result<ElfInfo, ElfError> {
    let info = inspect(data).map_err(|reason| ElfError::NotElf {
        path: path.to_string(),
        reason,
    })?;
    if info.architecture != Some(arch) {
        return Err(ElfError::WrongArchitecture {
            path: path.to_string(),
            found: info
                .architecture
                .map_or("another machine type".to_string(), |a| a.to_string()),
            wanted: arch,
        });
    }
    if let Some(needed) = info.max_glibc {
        if needed > MAX_GLIBC {
            return Err(ElfError::GlibcTooNew {
                path: path.to_string(),
                needed,
            });
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_version_names() {
        assert_eq!(parse_glibc(b"GLIBC_2.34"), Some((2, 34)));
        assert_eq!(parse_glibc(b"GLIBC_2.2.5"), Some((2, 2)));
        assert_eq!(parse_glibc(b"GLIBC_PRIVATE"), None);
        assert_eq!(parse_glibc(b"GCC_3.0"), None);
        assert!((2, 9) < (2, 26) && (2, 34) > (2, 26));
    }

    #[test]
    fn not_elf_is_a_clear_error() {
        let err = check_extension_binary("x", b"#!/bin/sh\n", Architecture::X86_64).unwrap_err();
        assert!(matches!(err, ElfError::NotElf { .. }));
    }

    #[test]
    fn reads_this_test_binary() {
        // The test binary itself is a real dynamically linked x86_64 ELF built on this machine.
        let exe = std::env::current_exe().unwrap();
        let data = std::fs::read(&exe).unwrap();
        let info = inspect(&data).unwrap();
        if cfg!(all(
            target_arch = "x86_64",
            target_os = "linux",
            target_env = "gnu"
        )) {
            assert_eq!(info.architecture, Some(Architecture::X86_64));
            assert!(info.max_glibc.is_some());
        }
    }
}
