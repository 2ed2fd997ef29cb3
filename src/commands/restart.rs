//! `devenv restart [SERVICE…]`: restart services and wait until they are ready again.

use super::Ctx;
use crate::cli::RestartArgs;
use crate::environment::Environment;
use crate::error::{Error, ExitStatus, Result};
use crate::ui::BuildView;

pub async fn run(ctx: &Ctx, args: &RestartArgs) -> Result<ExitStatus> {
    let project = ctx.project()?;
    let m = &project.manifest;
    if m.services.is_empty() {
        return Err(Error::other(
            "this manifest has no [services] to restart",
            Some("`devenv up` recreates the dev container when its settings change".into()),
        ));
    }
    let engine = ctx.engine().await?;
    let mut view = BuildView::new(ctx.printer);
    Environment::new(&engine, &project)
        .restart(&args.services, &mut view)
        .await?;
    ctx.printer
        .info("restarted; every restarted service is ready");
    Ok(ExitStatus::Success)
}
