//! `lambdascope layer build|publish`: package the extension and Python library as Lambda layers,
//! and publish them in the user's account for `lambda instrument --layers lambdascope`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::instrument::aws::LambdaApi;
use crate::instrument::runtime::Architecture;
use crate::layers::build::{self, LayerFile};
use crate::layers::publish::{extension_zip, layer_specs, PYTHON_ZIP};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: LayerCommand,
}

#[derive(clap::Subcommand)]
enum LayerCommand {
    /// Build the extension and Python library layer zips.
    Build(BuildArgs),
    /// Publish the built zips as layer versions (PublishLayerVersion) and print their ARNs.
    Publish(PublishArgs),
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum ArchArg {
    #[value(name = "x86_64")]
    X86_64,
    Arm64,
    All,
}

#[derive(clap::Args)]
struct BuildArgs {
    /// Directory for the zips.
    #[arg(long, default_value = "target/lambdascope-layers")]
    out: PathBuf,
    /// Also write the layer file tree here (for container images: COPY it to /opt/).
    #[arg(long, value_name = "OUT")]
    dir: Option<PathBuf>,
    /// File name under extensions/: lambdascope, or datadog-agent for a drop-in that Datadog's
    /// libraries detect.
    #[arg(long = "extension-name", default_value = "lambdascope")]
    extension_name: String,
    /// Prebuilt x86_64 extension binary (otherwise built with cargo).
    #[arg(long = "extension-binary", value_name = "PATH")]
    extension_binary: Option<PathBuf>,
    /// Prebuilt arm64 extension binary.
    #[arg(long = "extension-binary-arm64", value_name = "PATH")]
    extension_binary_arm64: Option<PathBuf>,
    /// Architectures to build the extension for (all = x86_64, and arm64 where the toolchain has it).
    #[arg(long, value_enum, default_value = "all")]
    arch: ArchArg,
    /// Link the extension dynamically (default: statically, so it runs on Amazon Linux 2).
    #[arg(long)]
    dynamic: bool,
    /// The Python package to ship.
    #[arg(long = "python-src", default_value = "python/src/lambdascope")]
    python_src: PathBuf,
    /// Python used to compile bytecode.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Build only the extension layer.
    #[arg(long = "skip-python")]
    skip_python: bool,
    /// Build only the Python layer.
    #[arg(long = "skip-extension")]
    skip_extension: bool,
}

#[derive(clap::Args)]
struct PublishArgs {
    /// Region to publish in (repeatable).
    #[arg(short = 'r', long = "region", required = true)]
    regions: Vec<String>,
    /// Directory holding the zips from `layer build`.
    #[arg(long, default_value = "target/lambdascope-layers")]
    from: PathBuf,
    /// AWS profile for credentials.
    #[arg(long)]
    profile: Option<String>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        LayerCommand::Build(a) => build_layers(a),
        LayerCommand::Publish(a) => publish(a),
    }
}

fn extension_binary(args: &BuildArgs, arch: Architecture) -> Result<Option<PathBuf>> {
    let given = match arch {
        Architecture::X86_64 => &args.extension_binary,
        Architecture::Arm64 => &args.extension_binary_arm64,
    };
    if let Some(path) = given {
        return Ok(Some(path.clone()));
    }
    let wanted_explicitly = matches!(
        (args.arch, arch),
        (ArchArg::X86_64, Architecture::X86_64) | (ArchArg::Arm64, Architecture::Arm64)
    );
    if !build::toolchain_has(arch) {
        if wanted_explicitly {
            bail!(
                "the Rust toolchain here cannot build for {}: run `rustup target add {}` and install a linker (apt-get install gcc-aarch64-linux-gnu), or pass --extension-binary-arm64",
                arch,
                build::target_triple(arch)
            );
        }
        eprintln!(
            "layer build: skipping the {arch} extension (no {} target in this toolchain)",
            build::target_triple(arch)
        );
        return Ok(None);
    }
    let cwd = std::env::current_dir()?;
    let Some(workspace) = build::find_workspace(&cwd) else {
        bail!("not inside the lambdascope workspace, so the extension can't be built here; pass --extension-binary PATH");
    };
    Ok(Some(build::cargo_build_extension(
        &workspace,
        arch,
        args.dynamic,
    )?))
}

fn build_layers(args: BuildArgs) -> Result<ExitCode> {
    if args.extension_name.is_empty() || args.extension_name.contains('/') {
        bail!("--extension-name must be a plain file name (lambdascope or datadog-agent)");
    }
    std::fs::create_dir_all(&args.out)?;
    let mut tree: Vec<LayerFile> = Vec::new();
    if !args.skip_extension {
        let arches: &[Architecture] = match args.arch {
            ArchArg::X86_64 => &[Architecture::X86_64],
            ArchArg::Arm64 => &[Architecture::Arm64],
            ArchArg::All => &[Architecture::X86_64, Architecture::Arm64],
        };
        for &arch in arches {
            let Some(binary) = extension_binary(&args, arch)? else {
                continue;
            };
            let files = build::extension_files(&binary, &args.extension_name, arch)?;
            let zip = args.out.join(extension_zip(arch));
            build::write_zip(&files, &zip)?;
            println!("{}", zip.display());
            // The --dir tree holds one architecture: the first built.
            if !tree.iter().any(|f| f.path.starts_with("extensions/")) {
                tree.extend(files);
            }
        }
    }
    if !args.skip_python {
        let files = build::python_files(&args.python_src, &args.python)?;
        let zip = args.out.join(PYTHON_ZIP);
        build::write_zip(&files, &zip)?;
        println!("{}", zip.display());
        tree.extend(files);
    }
    if let Some(dir) = &args.dir {
        build::write_tree(&tree, dir)?;
        println!("{}", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn publish(args: PublishArgs) -> Result<ExitCode> {
    let specs: Vec<_> = layer_specs()
        .into_iter()
        .filter(|s| args.from.join(s.zip).is_file())
        .collect();
    if specs.is_empty() {
        bail!(
            "no layer zips in {}; run `lambdascope layer build` first (or pass --from DIR)",
            args.from.display()
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        for region in &args.regions {
            let api = LambdaApi::connect(region, args.profile.as_deref()).await;
            for spec in &specs {
                let zip = std::fs::read(args.from.join(spec.zip))?;
                let arn = api
                    .publish_layer(
                        spec.name,
                        spec.description,
                        zip,
                        &spec.runtimes,
                        &spec.architectures,
                    )
                    .await?;
                println!("{arn}");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
