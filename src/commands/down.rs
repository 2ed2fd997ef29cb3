//! `devenv down [--volumes]`.

use super::Ctx;
use crate::cli::DownArgs;
use crate::error::{ExitStatus, Result};
use crate::{session, stack};

pub async fn run(ctx: &Ctx, args: &DownArgs) -> Result<ExitStatus> {
    let project = ctx.project()?;
    let engine = ctx.engine().await?;
    let m = &project.manifest;
    // Services first (their volumes can only go once no container uses them), then the
    // dev container and the volumes, then the network nothing is attached to any more.
    let mut removed = stack::remove_services(&engine, m, &project.paths.dir).await?;
    removed.extend(session::down(&engine, m, args.volumes, &project.paths.dir).await?);
    removed.extend(stack::remove_network(&engine, m).await?);
    if removed.is_empty() {
        ctx.printer
            .info("nothing to remove: no environment container for this project");
    }
    for r in removed {
        ctx.printer.info(&format!("removed {r}"));
    }
    Ok(ExitStatus::Success)
}
