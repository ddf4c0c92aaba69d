//! The `weir` command-line tool.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use weir_core::FlowgraphSpec;

/// Run and inspect weir flowgraphs.
#[derive(Parser)]
#[command(name = "weir", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load, check and run a TOML flowgraph, then print per-block statistics.
    Run {
        /// Flowgraph file.
        file: PathBuf,
    },
    /// Load and check a flowgraph without running it.
    Check {
        /// Flowgraph file.
        file: PathBuf,
    },
    /// List the block types this build can create.
    Blocks,
}

/// Exit status for input that could not be loaded (bad file, bad flowgraph).
const EXIT_BAD_INPUT: u8 = 2;
/// Exit status for a flowgraph that failed while running.
const EXIT_RUN_FAILED: u8 = 1;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WEIR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let registry = weir::registry();
    match cli.command {
        Command::Blocks => {
            for d in registry.iter() {
                println!("{:<16} {}", d.type_name, d.doc);
                for p in &d.params {
                    let default = p
                        .default
                        .as_ref()
                        .map(|v| format!(" = {v}"))
                        .unwrap_or_else(|| " (required)".to_string());
                    println!("    {:<18} {:<10}{default:<16} {}", p.name, p.ty, p.doc);
                }
            }
            ExitCode::SUCCESS
        }
        Command::Check { file } => match FlowgraphSpec::load(&file, &registry) {
            Ok(spec) => {
                println!(
                    "{}: ok ({} blocks, {} connections)",
                    file.display(),
                    spec.blocks.len(),
                    spec.connections.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => report_load_error(e),
        },
        Command::Run { file } => {
            let built = match FlowgraphSpec::load(&file, &registry).and_then(|s| s.build(&registry))
            {
                Ok(b) => b,
                Err(e) => return report_load_error(e),
            };
            match built.run() {
                Ok(report) => {
                    print!("{report}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(EXIT_RUN_FAILED)
                }
            }
        }
    }
}

fn report_load_error(e: weir_core::LoadError) -> ExitCode {
    eprintln!("error: {e}");
    eprintln!("{:?}", miette::Report::new(e));
    ExitCode::from(EXIT_BAD_INPUT)
}
