//! Command-line definitions (clap derive) and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Reproducible, content-hashed development environments on Docker.
///
/// devenv reads devenv.toml, builds an image named by the hash of everything that went
/// into it, keeps a container running with the project mounted, and runs your shell and
/// commands there as you, never in a stale environment.
#[derive(Debug, Parser)]
#[command(name = "devenv", version, propagate_version = true, max_term_width = 100)]
#[command(after_help = "Examples:\n  devenv up             build what is missing and start the environment\n  devenv shell          open a shell in it\n  devenv run -- make    run a command in it, exit with its status")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Manifest to use instead of the nearest devenv.toml.
    #[arg(short = 'f', long = "file", global = true, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Run as if started in DIR.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub directory: Option<PathBuf>,
    /// More output: -v explains decisions, -vv traces.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// When to use colours.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build what is missing, create or reuse the container, run hooks.
    #[command(after_help = "Examples:\n  devenv up\n  devenv -C ~/src/shop up")]
    Up(UpArgs),
    /// Open an interactive shell in the environment (starting it if needed).
    #[command(after_help = "Examples:\n  devenv shell\n  devenv shell -- -l")]
    Shell(ShellArgs),
    /// Run a command in the environment and exit with its status.
    #[command(after_help = "Exit status: the command's own (128+N after signal N); 125 when \
devenv fails before the command runs.\n\nExamples:\n  devenv run -- cargo test\n  echo hi | devenv run -- cat")]
    Run(RunArgs),
    /// Build the image only.
    #[command(after_help = "Examples:\n  devenv build\n  devenv -v build    # explain why steps rebuild")]
    Build(LockedArgs),
    /// Print the image hash (64 hex characters).
    #[command(after_help = "Examples:\n  devenv hash\n  key=$(devenv hash)")]
    Hash(LockedArgs),
    /// Create devenv.lock, or move the base on purpose with --update.
    #[command(after_help = "Examples:\n  devenv lock\n  devenv lock --update")]
    Lock(LockArgs),
    /// Show the image and container state.
    #[command(after_help = "Examples:\n  devenv status\n  devenv status --json | jq .container.state")]
    Status(StatusArgs),
    /// Remove this project's container (and named volumes with --volumes).
    #[command(after_help = "Examples:\n  devenv down\n  devenv down --volumes")]
    Down(DownArgs),
    /// Remove images and build leftovers of this project that nothing uses.
    #[command(after_help = "Examples:\n  devenv prune\n  devenv prune --all")]
    Prune(PruneArgs),
    /// Check the manifest and report every problem.
    #[command(after_help = "Examples:\n  devenv validate\n  devenv validate -f ci/devenv.toml")]
    Validate,
    /// Print the resolved manifest with every default filled in.
    #[command(after_help = "Examples:\n  devenv config\n  devenv config --json")]
    Config(ConfigArgs),
    /// Keep the environment current while you work; run `[[watch]]` rules.
    #[command(after_help = "Changes to devenv.toml, devenv.lock or a step's inputs rebuild what changed \
and recreate the container; `[[watch]]` rules run their command, restart or rebuild. \
Ctrl-C stops watching and leaves the environment running.\n\nExamples:\n  devenv watch\n  \
devenv watch --debounce 300 --on-busy restart\n  devenv watch --poll    # network filesystems")]
    Watch(WatchArgs),
    /// Check the Docker engine and this machine.
    #[command(after_help = "Examples:\n  devenv doctor\n  DOCKER_HOST=tcp://127.0.0.1:2375 devenv doctor")]
    Doctor,
}

#[derive(Debug, Args, Default)]
pub struct LockedArgs {
    /// Fail instead of writing devenv.lock (for CI).
    #[arg(long)]
    pub locked: bool,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub locked: LockedArgs,
    /// Keep watching afterwards, as `devenv watch` does.
    #[arg(long)]
    pub watch: bool,
    #[command(flatten, next_help_heading = "Watch options (with --watch)")]
    pub watch_options: WatchOptions,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub locked: LockedArgs,
    #[command(flatten)]
    pub options: WatchOptions,
}

#[derive(Debug, Args, Clone)]
pub struct WatchOptions {
    /// Quiet time after the last change before acting, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    pub debounce: u64,
    /// Poll for changes instead of using inotify (network filesystems, exhausted limits).
    #[arg(long)]
    pub poll: bool,
    /// When a rule's files change while its command still runs: run it once more after it
    /// ends (queue), or stop it and start again (restart).
    #[arg(long, value_enum, value_name = "WHAT", default_value_t = OnBusy::Queue)]
    pub on_busy: OnBusy,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OnBusy {
    Queue,
    Restart,
}

#[derive(Debug, Args)]
pub struct ShellArgs {
    #[command(flatten)]
    pub locked: LockedArgs,
    /// Extra arguments for the shell.
    #[arg(last = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub locked: LockedArgs,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// Re-resolve the base reference and move the lock.
    #[arg(long)]
    pub update: bool,
    /// Fail if the lock would change.
    #[arg(long, conflicts_with = "update")]
    pub locked: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Also remove the project's named volumes.
    #[arg(long)]
    pub volumes: bool,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Every devenv image and leftover on this engine, not only this project's.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// JSON instead of TOML-like text.
    #[arg(long)]
    pub json: bool,
}
