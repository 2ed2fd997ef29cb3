use clap::Parser;

fn main() {
    let cli = devenv::cli::Cli::parse_from(devenv::cli::args());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let status = runtime.block_on(devenv::run(cli));
    // Exit without waiting for a blocked stdin reader thread (tokio's stdin is blocking).
    std::process::exit(status.code());
}
