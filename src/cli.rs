//! Command-line definitions (clap derive) and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Reproducible, content-hashed development environments on Docker.
///
/// devenv reads devenv.toml, builds an image named by the hash of everything that went
/// into it, keeps a container running with the project mounted, and runs your shell and
/// commands there as you, never in a stale environment.
#[derive(Debug, Parser)]
#[command(
    name = "devenv",
    version,
    propagate_version = true,
    max_term_width = 100
)]
#[command(
    after_help = "Examples:\n  devenv up             build what is missing and start the environment\n  devenv shell          open a shell in it\n  devenv run -- make    run a command in it, exit with its status"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The process arguments, with `-f` after the `logs` subcommand read as `--follow` (as
/// `docker logs -f` and `docker-compose logs -f` use it); everywhere else `-f` names the
/// manifest.
pub fn args() -> Vec<std::ffi::OsString> {
    rewrite_logs_follow(std::env::args_os().collect())
}

fn rewrite_logs_follow(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    const TAKES_VALUE: &[&str] = &["-f", "--file", "-C", "--cache", "--color", "--platform"];
    let mut i = 1;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        if TAKES_VALUE.contains(&a.as_ref()) {
            i += 2;
        } else if a.starts_with('-') {
            i += 1;
        } else {
            break;
        }
    }
    if args.get(i).is_some_and(|a| a == "logs") {
        for a in args.iter_mut().skip(i + 1) {
            if a == "--" {
                break;
            }
            if a == "-f" {
                *a = "--follow".into();
            }
        }
    }
    args
}

#[cfg(test)]
mod tests {
    #[test]
    fn logs_dash_f_follows() {
        let os = |v: &[&str]| {
            v.iter()
                .map(Into::into)
                .collect::<Vec<std::ffi::OsString>>()
        };
        let rewritten =
            super::rewrite_logs_follow(os(&["devenv", "-f", "x.toml", "logs", "-f", "db"]));
        assert_eq!(
            rewritten,
            os(&["devenv", "-f", "x.toml", "logs", "--follow", "db"])
        );
        let kept = os(&["devenv", "-f", "logs", "run", "-f"]);
        assert_eq!(super::rewrite_logs_follow(kept.clone()), kept);
    }
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
    /// Registry cache (`host/repo`) to use instead of the manifest's `[cache] registry`.
    #[arg(long, global = true, value_name = "REPO")]
    pub cache: Option<String>,
    /// Platform to build and run the environment for (`linux/arm64`), instead of the
    /// engine's; another architecture runs under the engine's emulation.
    #[arg(
        long,
        global = true,
        value_name = "OS/ARCH",
        env = "DOCKER_DEFAULT_PLATFORM"
    )]
    pub platform: Option<String>,
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
    #[command(
        after_help = "Exit status: the command's own (128+N after signal N); 125 when \
devenv fails before the command runs. Afterwards, whatever the status, the manifest's \
[sync] fetch paths are copied back from a remote workspace.\n\nExamples:\n  devenv run -- cargo test\n  echo hi | devenv run -- cat"
    )]
    Run(RunArgs),
    /// Build the image only.
    #[command(
        after_help = "Examples:\n  devenv build\n  devenv -v build    # explain why steps rebuild"
    )]
    Build(BuildArgs),
    /// Print the image hash (64 hex characters).
    #[command(after_help = "Examples:\n  devenv hash\n  key=$(devenv hash)")]
    Hash(LockedArgs),
    /// Create devenv.lock, or move the base on purpose with --update.
    #[command(after_help = "Examples:\n  devenv lock\n  devenv lock --update")]
    Lock(LockArgs),
    /// Show the image and container state.
    #[command(
        after_help = "Examples:\n  devenv status\n  devenv status --json | jq .container.state"
    )]
    Status(StatusArgs),
    /// Copy files from the environment's workspace into the project (for remote engines,
    /// whose workspace is a synced copy: test reports, generated files).
    #[command(
        after_help = "PATH is relative to the project (and the workspace). A fetched file or \
directory replaces the local one whole (nothing stale stays in a directory), and nothing is \
written outside the project. `[sync] fetch` in the manifest does this after every `devenv \
run`.\n\nExamples:\n  devenv fetch target/report.xml\n  devenv fetch coverage"
    )]
    Fetch(FetchArgs),
    /// Remove this project's container (and named volumes with --volumes).
    #[command(after_help = "Examples:\n  devenv down\n  devenv down --volumes")]
    Down(DownArgs),
    /// Show the output of the services and the dev container, each line prefixed with its
    /// source.
    #[command(
        after_help = "The dev container's output is shown as `dev`.\n\nExamples:\n  devenv logs\n  devenv logs db -f --tail 20"
    )]
    Logs(LogsArgs),
    /// Restart services (all without arguments) and wait until they are ready.
    #[command(after_help = "Examples:\n  devenv restart\n  devenv restart db worker")]
    Restart(RestartArgs),
    /// Change how many replicas of services run, at once; the next `devenv up` goes back
    /// to the manifest's counts.
    #[command(after_help = "Examples:\n  devenv scale web=5\n  devenv scale web=1 worker=3")]
    Scale(ScaleArgs),
    /// Remove images and build leftovers of this project that nothing uses.
    #[command(
        after_help = "Without flags the current image chain stays. To remove everything a project made on the engine: `devenv down --volumes`, then `devenv prune --current`.\n\nExamples:\n  devenv prune\n  devenv prune --all\n  devenv down --volumes && devenv prune --current"
    )]
    Prune(PruneArgs),
    /// Push the current image to the registry cache as `<registry>:<hash>`.
    #[command(
        after_help = "Examples:\n  devenv push\n  devenv push --steps --cache 127.0.0.1:5000/shop-env"
    )]
    Push(PushArgs),
    /// Prove the local environment is what devenv.toml, devenv.lock and the inputs say.
    #[command(
        after_help = "Checks the hash, that each layer is the image devenv committed for its key on the parent it names, and that nothing was retagged over them; with --against, that a registry copy or a pack holds the same image. Exit status 0 when it holds, 1 when it does not.

Examples:
  devenv verify
  devenv verify --json
  devenv verify --against env.devenv.tar
  devenv verify --against registry.example.com/shop-env"
    )]
    Verify(VerifyArgs),
    /// Show what differs between two environments: inputs, files, packages.
    #[command(
        after_help = "A and B are each an image hash, an image reference, a pack file, or `.` (this project now).

Examples:
  devenv diff . 3f1c…
  devenv diff old.devenv.tar .
  devenv diff --json devenv/shop:3f1c… devenv/shop:9a0b…"
    )]
    Diff(DiffArgs),
    /// Write the environment's layer chain, lock and identity into one file.
    #[command(after_help = "Examples:
  devenv pack
  devenv pack -o /media/usb/shop.devenv.tar")]
    Pack(PackArgs),
    /// Load a file written by `devenv pack`, without registry or network.
    #[command(
        after_help = "The file is checked whole before the engine sees a byte: a truncated, altered or \
                      inconsistent one (metadata that its images do not back) is refused and loads \
                      nothing. Only devenv's own names are tagged.

Examples:
  devenv load shop.devenv.tar && devenv up --locked"
    )]
    Load(LoadArgs),
    /// Check the manifest and report every problem.
    #[command(after_help = "Examples:\n  devenv validate\n  devenv validate -f ci/devenv.toml")]
    Validate,
    /// Print the resolved manifest with every default filled in.
    #[command(after_help = "Examples:\n  devenv config\n  devenv config --json")]
    Config(ConfigArgs),
    /// Write the environment for tools that don't know devenv (Dockerfile, devcontainer.json).
    #[command(subcommand)]
    Export(ExportCommand),
    /// Write devenv.toml from another tool's configuration (devcontainer.json).
    #[command(subcommand)]
    Import(ImportCommand),
    /// Keep the environment current while you work; run `[[watch]]` rules.
    #[command(
        after_help = "Changes to devenv.toml, devenv.lock or a step's inputs rebuild what changed \
and recreate the container; `[[watch]]` rules run their command, restart or rebuild. \
Ctrl-C stops watching and leaves the environment running.\n\nExamples:\n  devenv watch\n  \
devenv watch --debounce 300 --on-busy restart\n  devenv watch --poll    # network filesystems"
    )]
    Watch(WatchArgs),
    /// Check the Docker engine and this machine.
    #[command(
        after_help = "Examples:\n  devenv doctor\n  DOCKER_HOST=tcp://127.0.0.1:2375 devenv doctor"
    )]
    Doctor,
    /// Write a devenv.toml for this project from a template.
    #[command(
        after_help = "Without flags, on a terminal, asks for the template, base image and \
ports, showing what it detected; otherwise it never asks.\n\nExamples:\n  devenv init\n  \
devenv init --yes\n  devenv init --template node --base node:20-bookworm-slim --ports 5173\n  \
devenv init --list"
    )]
    Init(InitArgs),
    /// Print a shell completion script.
    #[command(after_help = "Examples:\n  \
devenv completions bash > ~/.local/share/bash-completion/completions/devenv\n  \
devenv completions zsh > ~/.zfunc/_devenv\n  \
devenv completions fish > ~/.config/fish/completions/devenv.fish")]
    Completions(CompletionsArgs),
    /// Print the man page (roff).
    #[command(after_help = "Examples:\n  devenv man | man -l -\n  \
devenv man > /usr/local/share/man/man1/devenv.1")]
    Man,
}

#[derive(Debug, Args, Default)]
pub struct LockedArgs {
    /// Fail instead of writing devenv.lock (for CI).
    #[arg(long)]
    pub locked: bool,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub locked: LockedArgs,
    /// Print one JSON object on stdout: `changed`, `hash`, `actions` (and `error`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub locked: LockedArgs,
    /// Run the services as Docker Swarm services over the nodes of the swarm the engine
    /// manages (also DEVENV_SWARM=1); later commands find them there by themselves.
    #[arg(long)]
    pub swarm: bool,
    /// Keep watching afterwards, as `devenv watch` does.
    #[arg(long)]
    pub watch: bool,
    /// Print one JSON object on stdout: `changed`, `hash`, `actions` (and `error`).
    #[arg(long, conflicts_with = "watch")]
    pub json: bool,
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
pub struct LogsArgs {
    /// Services to show (`dev` is the dev container); all without arguments.
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Keep following new output (`-f` after `logs` means this).
    #[arg(long)]
    pub follow: bool,
    /// Only the last N lines of each source.
    #[arg(long, value_name = "N")]
    pub tail: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// `SERVICE=N`: run N replicas of the service (0 stops it).
    #[arg(required = true, value_name = "SERVICE=N", value_parser = scale_count)]
    pub counts: Vec<(String, u32)>,
}

/// `web=5` → (`web`, 5).
fn scale_count(s: &str) -> Result<(String, u32), String> {
    let (name, n) = s
        .split_once('=')
        .ok_or_else(|| format!("expected SERVICE=N, e.g. web=3, not `{s}`"))?;
    if name.is_empty() {
        return Err(format!("expected SERVICE=N, e.g. web=3, not `{s}`"));
    }
    let n = crate::manifest::limits::replica_count(n)?;
    Ok((name.to_owned(), n))
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Services to restart; all without arguments.
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Print one JSON object on stdout: `changed`, `hash`, `actions` (and `error`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Paths relative to the project.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
    /// Overwrite local files edited since the last sync (by default such a path is
    /// refused, naming them).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Also remove the project's named volumes.
    #[arg(long)]
    pub volumes: bool,
    /// Print one JSON object on stdout: `changed`, `hash`, `actions` (and `error`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Every project's devenv images and leftovers on this engine that nothing uses, not
    /// only this project's (still keeping this project's current chain).
    #[arg(long)]
    pub all: bool,
    /// Also remove this client's package caches (steps' `caches`), which prune keeps.
    #[arg(long)]
    pub caches: bool,
    /// Also this project's current image chain (needs `devenv down` first); layers other
    /// projects build on stay.
    #[arg(long)]
    pub current: bool,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub locked: LockedArgs,
    /// Also push every step layer, so other machines can reuse a shared prefix.
    #[arg(long)]
    pub steps: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Also check that this registry image (`host/repo[:tag]`) or pack file holds the same
    /// image.
    #[arg(long, value_name = "REF")]
    pub against: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The first environment: a hash, an image reference, a pack file or `.`.
    pub a: String,
    /// The second environment.
    pub b: String,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PackArgs {
    #[command(flatten)]
    pub locked: LockedArgs,
    /// The file to write (default `<name>-<first 12 hex of the hash>.devenv.tar`).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The pack file.
    #[arg(id = "pack", value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// JSON instead of TOML-like text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Template to use instead of the detected one (see --list).
    #[arg(long, short = 't', value_name = "NAME")]
    pub template: Option<String>,
    /// Base image instead of the template's.
    #[arg(long, value_name = "IMAGE")]
    pub base: Option<String>,
    /// Ports to publish instead of the template's: "3000", "8080:80", comma-separated; "" for none.
    #[arg(long, value_name = "LIST")]
    pub ports: Option<String>,
    /// Project name instead of the directory's.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Accept the detected and default answers without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Replace an existing manifest.
    #[arg(long)]
    pub force: bool,
    /// List the templates and exit.
    #[arg(long, exclusive = true)]
    pub list: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// A Dockerfile and build context from which plain `docker build` makes the same image.
    #[command(
        after_help = "Examples:\n  devenv export dockerfile\n  devenv export dockerfile -o ci/image && docker build ci/image\n  devenv export dockerfile --no-caches    # for the classic builder"
    )]
    Dockerfile(DockerfileArgs),
    /// A devcontainer.json that opens the built environment in editors.
    #[command(
        after_help = "Examples:\n  devenv export devcontainer\n  devenv export devcontainer -o -"
    )]
    Devcontainer(ExportArgs),
    /// A docker-compose.yml of the environment: the image by hash, the services with their
    /// healthchecks, volumes and the network.
    #[command(
        after_help = "Examples:\n  devenv export compose\n  devenv export compose -o - | docker-compose -f - config"
    )]
    Compose(ExportArgs),
    /// A Compose 3.8 stack file for `docker stack deploy`: the services with `deploy:`
    /// (replicas, placement, limits, restart policy, dnsrr) on an attachable overlay network.
    #[command(
        after_help = "Examples:\n  devenv export stack\n  devenv export stack -o stack.yml && docker stack deploy -c stack.yml shop"
    )]
    Stack(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Where to write: a directory for `dockerfile` (default .devenv/export), a file for
    /// `devcontainer` (default .devcontainer/devcontainer.json), `compose` (default
    /// docker-compose.yml) and `stack` (default docker-stack.yml); `-` for stdout.
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Overwrite files that devenv did not generate.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct DockerfileArgs {
    #[command(flatten)]
    pub export: ExportArgs,
    /// Leave the steps' caches out (no `RUN --mount=type=cache`), for the classic builder;
    /// the image is the same.
    #[arg(long)]
    pub no_caches: bool,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// devcontainer.json (image- or Dockerfile-based) to devenv.toml; prints a warning for
    /// every property it cannot carry over.
    #[command(
        after_help = "Examples:\n  devenv import devcontainer\n  devenv import devcontainer .devcontainer/python/devcontainer.json --force"
    )]
    Devcontainer(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The devcontainer.json (default: .devcontainer/devcontainer.json, .devcontainer.json,
    /// or the only .devcontainer/*/devcontainer.json).
    pub path: Option<PathBuf>,
    /// Overwrite an existing devenv.toml.
    #[arg(long)]
    pub force: bool,
}
