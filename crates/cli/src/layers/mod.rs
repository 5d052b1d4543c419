//! Building and publishing the lambdascope layers (`lambdascope layer build|publish`).

pub mod build;
pub mod elf_check;
pub mod publish;
