//! devenv: reproducible, content-hashed development environments on Docker.
//!
//! `main.rs` parses the command line and calls [`run`]; `commands` wires the domain modules
//! (`manifest`, `fingerprint`, `engine`, `image`, `environment`) together; `ui` prints.

pub mod cancel;
pub mod cli;
pub mod cluster;
mod commands;
pub mod engine;
pub mod environment;
pub mod error;
pub mod fingerprint;
pub mod hostnet;
pub mod image;
pub mod init;
pub mod interop;
pub mod manifest;
pub mod ownership;
pub mod project;
pub mod session;
pub mod stack;
mod stream;
pub mod sync;
pub mod ui;
pub mod watch;

pub use error::ExitStatus;

/// Run devenv with parsed arguments; returns how the process should exit.
pub async fn run(cli: cli::Cli) -> ExitStatus {
    init_tracing(cli.global.verbose);
    if let Err(e) = cancel::install() {
        tracing::warn!("cannot listen for Ctrl-C: {e}");
    }
    // Boxed: the commands' futures together are larger than a stack frame should carry.
    Box::pin(commands::dispatch(cli)).await
}

/// Logging through `tracing`: `-v` debug, `-vv` trace, `DEVENV_LOG` to override, all on
/// stderr. Below `warn`, only devenv's own targets log: dependencies (bollard, hyper, h2)
/// log request and response bodies at debug/trace, and those bodies carry step secrets,
/// `[container] env`/`env_file` values and registry credentials. devenv itself never logs a
/// value of those, so no level prints one.
fn init_tracing(verbose: u8) {
    use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt as _};
    use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};
    use tracing_subscriber::util::SubscriberInitExt as _;
    let default = match verbose {
        0 => "warn",
        1 => "devenv=debug",
        _ => "devenv=trace",
    };
    let filter = EnvFilter::try_from_env("DEVENV_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let own_or_loud =
        filter_fn(|meta| is_own_target(meta.target()) || *meta.level() <= tracing::Level::WARN);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .without_time()
        .with_filter(filter.and(own_or_loud));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// Whether a log target is devenv's own code (`devenv`, `devenv::…`).
fn is_own_target(target: &str) -> bool {
    target == "devenv" || target.starts_with("devenv::")
}

#[cfg(test)]
mod tests {
    #[test]
    fn own_targets() {
        assert!(super::is_own_target("devenv"));
        assert!(super::is_own_target("devenv::engine::registry"));
        assert!(!super::is_own_target("devenvx"));
        assert!(!super::is_own_target("bollard::docker"));
        assert!(!super::is_own_target("log"));
    }
}
