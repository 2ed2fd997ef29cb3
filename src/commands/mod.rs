//! One module per subcommand; the only layer that wires the domain modules together.

mod build;
mod completions;
mod config;
mod diff;
mod doctor;
mod down;
mod env;
mod fetch;
mod init;
mod interop;
mod logs;
mod outcome;
mod restart;
mod scale;
mod status;
mod swarm_status;
mod validate;
mod verify;
mod watch;

use std::path::PathBuf;

use crate::cli::{Cli, Command};
use crate::engine::Engine;
use crate::error::{Error, ExitStatus, Result, EXIT_OWN_FAILURE};
use crate::project::{self, Project};
use crate::ui::Printer;

/// What every command gets: output settings and where to find the project.
pub struct Ctx {
    pub printer: Printer,
    pub file: Option<PathBuf>,
    pub directory: Option<PathBuf>,
    /// `--cache`: overrides the manifest's `[cache] registry`.
    pub cache: Option<String>,
    /// `--platform` / `DOCKER_DEFAULT_PLATFORM`: overrides the engine's platform.
    pub platform: Option<String>,
}

impl Ctx {
    pub fn project(&self) -> Result<Project> {
        let mut project = project::load(self.file.as_deref(), self.directory.as_deref())?;
        // Before anything else writes into `.devenv/`: its absence tells a new checkout.
        crate::ownership::checkout::ensure_for(&project.manifest, &project.paths.dir)
            .map_err(|e| crate::error::Error::other(e.to_string(), e.hint()))?;
        if let Some(registry) = &self.cache {
            project.manifest.cache = Some(crate::manifest::Cache {
                registry: registry.clone(),
            });
        }
        apply_platform(&mut project.manifest, self.platform.as_deref())?;
        Ok(project)
    }

    /// The platform the project is built for here: `--platform` / `[base] platform`, else the
    /// engine's (connecting to `engine`, or trying to); `None` when no engine answers (then
    /// the lock's own platform applies, see `image::current_plan`).
    pub async fn platform(
        &self,
        project: &Project,
        engine: Option<&Engine>,
    ) -> Result<Option<crate::manifest::Platform>> {
        if let Some(p) = &project.manifest.base.platform {
            return Ok(Some(p.clone()));
        }
        let connected;
        let engine = match engine {
            Some(e) => e,
            None => match Engine::connect().await {
                Ok(e) => {
                    connected = e;
                    &connected
                }
                Err(_) => return Ok(None),
            },
        };
        let p = crate::image::base::target_platform(engine, &project.manifest).await?;
        Ok(Some(p))
    }

    pub async fn engine(&self) -> Result<Engine> {
        Ok(Engine::connect().await?)
    }
}

/// `--platform` / `DOCKER_DEFAULT_PLATFORM` into the manifest's `base.platform`: it overrides
/// the engine's platform, but a rootfs tarball is the platform it is declared as.
fn apply_platform(manifest: &mut crate::manifest::Manifest, requested: Option<&str>) -> Result<()> {
    use crate::manifest::{BaseSource, Platform};
    let Some(text) = requested.filter(|t| !t.trim().is_empty()) else {
        return Ok(());
    };
    let requested = Platform::parse(text).map_err(|e| {
        Error::other(
            format!("invalid --platform (or DOCKER_DEFAULT_PLATFORM): {e}"),
            None,
        )
    })?;
    match (&manifest.base.source, &manifest.base.platform) {
        (BaseSource::Rootfs(rel), Some(declared)) if *declared != requested => Err(Error::other(
            format!(
                "the rootfs base {rel} is {declared} (`[base] platform`), and {requested} was \
                 asked for"
            ),
            Some(format!(
                "build it for {declared} (drop --platform / DOCKER_DEFAULT_PLATFORM), or point \
                 `[base] rootfs` at a {requested} tarball"
            )),
        )),
        _ => {
            manifest.base.platform = Some(requested);
            Ok(())
        }
    }
}

/// Run the parsed command line and report errors; returns how to exit.
pub async fn dispatch(cli: Cli) -> ExitStatus {
    let printer = Printer::new(cli.global.quiet, cli.global.verbose, cli.global.color);
    let ctx = Ctx {
        printer,
        file: cli.global.file,
        directory: cli.global.directory,
        cache: cli.global.cache,
        platform: cli.global.platform,
    };
    let own_failure_code = matches!(cli.command, Command::Run(_) | Command::Shell(_));
    // Every wait listens to `cancel`; the backstop ends a command whose waits did not.
    let work = async {
        match cli.command {
            Command::Validate => validate::run(&ctx),
            Command::Config(args) => config::run(&ctx, &args),
            Command::Doctor => doctor::run(&ctx).await,
            Command::Build(args) => build::build(&ctx, &args).await,
            Command::Hash(args) => build::hash(&ctx, &args).await,
            Command::Lock(args) => build::lock(&ctx, &args).await,
            Command::Prune(args) => build::prune(&ctx, &args).await,
            Command::Push(args) => build::push(&ctx, &args).await,
            Command::Up(args) => env::up(&ctx, &args).await,
            Command::Shell(args) => env::shell(&ctx, &args).await,
            Command::Run(args) => env::run(&ctx, &args).await,
            Command::Down(args) => down::run(&ctx, &args).await,
            Command::Fetch(args) => fetch::run(&ctx, &args).await,
            Command::Status(args) => status::run(&ctx, &args).await,
            Command::Logs(args) => logs::run(&ctx, &args).await,
            Command::Restart(args) => restart::run(&ctx, &args).await,
            Command::Scale(args) => scale::run(&ctx, &args).await,
            Command::Init(args) => init::run(&ctx, &args),
            Command::Completions(args) => completions::completions(&args),
            Command::Man => completions::man(),
            Command::Export(cmd) => interop::export(&ctx, &cmd).await,
            Command::Import(cmd) => interop::import(&ctx, &cmd),
            Command::Watch(args) => watch::run(&ctx, &args).await,
            Command::Verify(args) => verify::verify(&ctx, &args).await,
            Command::Diff(args) => verify::diff(&ctx, &args).await,
            Command::Pack(args) => verify::pack(&ctx, &args).await,
            Command::Load(args) => verify::load(&ctx, &args).await,
        }
    };
    let result = tokio::select! {
        r = work => r,
        () = crate::cancel::interrupted() => Err(Error::Interrupted),
    };
    match result {
        Ok(status) => status,
        Err(err) => {
            report(ctx.printer, &err);
            if own_failure_code {
                ExitStatus::Code(EXIT_OWN_FAILURE)
            } else {
                ExitStatus::Code(err.exit_code())
            }
        }
    }
}

/// Print an error the way users should see it.
pub fn report(printer: Printer, err: &Error) {
    if let Error::Manifest(m) = err {
        crate::ui::err_write(&m.render(printer.color));
        return;
    }
    printer.error(&err.to_string(), err.hint().as_deref());
}
