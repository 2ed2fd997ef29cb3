//! `devenv down [--volumes]`.

use super::Ctx;
use crate::cli::DownArgs;
use crate::error::{ExitStatus, Result};
use crate::session;

pub async fn run(ctx: &Ctx, args: &DownArgs) -> Result<ExitStatus> {
    let project = ctx.project()?;
    let engine = ctx.engine().await?;
    let removed = session::down(&engine, &project.manifest, args.volumes, &project.paths.dir).await?;
    if removed.is_empty() {
        ctx.printer.info("nothing to remove: no environment container for this project");
    }
    for r in removed {
        ctx.printer.info(&format!("removed {r}"));
    }
    Ok(ExitStatus::Success)
}
