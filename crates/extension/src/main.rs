//! The lambdascope Lambda extension (see docs/extension.md).

fn main() {
    eprintln!("lambdascope-extension: not built yet");
    std::process::exit(1);
}
