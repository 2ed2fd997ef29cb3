//! `devenv fetch PATH...`: copy files from the environment's workspace back into the
//! project, and the same for the manifest's `[sync] fetch` paths after every `devenv run`.
//! With a remote engine the workspace is a synced copy, so what commands make there (test
//! reports, generated code) stays there until fetched. The copying is `sync::fetch`'s.

use super::Ctx;
use crate::cli::FetchArgs;
use crate::engine::{ContainerInfo, Engine};
use crate::error::{Error, ExitStatus, Result, EXIT_INTERRUPTED, EXIT_USAGE};
use crate::manifest;
use crate::ownership::ProjectId;
use crate::project::Project;
use crate::session::{self, FetchError, Fetched};

pub async fn run(ctx: &Ctx, args: &FetchArgs) -> Result<ExitStatus> {
    let project = ctx.project()?;
    for path in &args.paths {
        // A path that can never be fetched is a usage error, like a bad argument.
        if let Err(d) = manifest::check_fetch_path(path) {
            ctx.printer.error(&d.message, d.hint.as_deref());
            return Ok(ExitStatus::Code(EXIT_USAGE));
        }
    }
    let engine = ctx.engine().await?;
    let m = &project.manifest;
    let Some(c) = session::find(&engine, &ProjectId::new(m)).await? else {
        return Err(Error::other(
            "no environment container for this project",
            Some("run `devenv up` (or a `devenv run`) first".into()),
        ));
    };
    let outcomes =
        session::fetch(&engine, m, &c, &project.paths.dir, &args.paths, args.force).await;
    let mut status = ExitStatus::Success;
    for (path, result) in outcomes {
        match result {
            Ok(Fetched::Missing) => {
                ctx.printer
                    .error(&format!("{path}: not in the workspace"), None);
                status = ExitStatus::Failure;
            }
            Ok(_) => ctx.printer.info(&format!("fetched {path}")),
            Err(FetchError::Interrupted) => {
                ctx.printer
                    .error(&format!("{path}: interrupted; left as it was"), None);
                return Ok(ExitStatus::Code(EXIT_INTERRUPTED));
            }
            Err(e) => {
                ctx.printer
                    .error(&format!("{path}: {e}"), e.hint().as_deref());
                status = ExitStatus::Failure;
            }
        }
    }
    Ok(status)
}

/// After a `devenv run`: bring the `[sync] fetch` paths back, whatever the command's exit
/// status. Nothing here changes that status: problems are warnings, a missing path a note.
pub async fn after_run(ctx: &Ctx, engine: &Engine, project: &Project, container: &ContainerInfo) {
    let m = &project.manifest;
    let paths = session::after_run_paths(m, container);
    if paths.is_empty() {
        return;
    }
    let outcomes = session::fetch(engine, m, container, &project.paths.dir, &paths, false).await;
    for (path, result) in outcomes {
        match result {
            Ok(Fetched::Missing) => ctx
                .printer
                .info(&format!("{path} is not in the workspace; nothing to fetch")),
            Ok(_) => ctx.printer.info(&format!("fetched {path}")),
            Err(FetchError::Interrupted) => ctx.printer.warn(&format!(
                "fetching {path} interrupted; the local copy is left as it was"
            )),
            Err(e) => {
                let hint = e.hint().map(|h| format!(" ({h})")).unwrap_or_default();
                ctx.printer
                    .warn(&format!("could not fetch {path}: {e}{hint}"));
            }
        }
    }
}
