//! devenv: reproducible, content-hashed development environments on Docker.
//!
//! `main.rs` parses the command line and calls [`run`]; `commands` wires the domain modules
//! (`manifest`, `fingerprint`, `engine`, `image`, `session`) together; `ui` prints.

pub mod cli;
mod commands;
pub mod engine;
pub mod error;
pub mod fingerprint;
pub mod image;
pub mod init;
pub mod interop;
pub mod manifest;
pub mod project;
pub mod session;
pub mod sync;
pub mod ui;
pub mod watch;

pub use error::ExitStatus;

/// Run devenv with parsed arguments; returns how the process should exit.
pub async fn run(cli: cli::Cli) -> ExitStatus {
    init_tracing(cli.global.verbose);
    commands::dispatch(cli).await
}

fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "devenv=debug",
        _ => "devenv=trace",
    };
    let filter = EnvFilter::try_from_env("DEVENV_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}
