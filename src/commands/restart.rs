//! `devenv restart [SERVICE…]`: restart services and wait until they are ready again.

use super::outcome::{self, Snapshot, Tally};
use super::Ctx;
use crate::cli::RestartArgs;
use crate::environment::Environment;
use crate::error::{Error, ExitStatus, Result};
use crate::ui::BuildView;

pub async fn run(ctx: &Ctx, args: &RestartArgs) -> Result<ExitStatus> {
    let mut tally = Tally::new(BuildView::new(ctx.printer));
    let mut before = None;
    let result = restart(ctx, args, &mut tally, &mut before).await;
    if !args.json {
        return result;
    }
    let mut actions = Vec::new();
    let mut hash = None;
    if let Some((before, engine, project)) = &before {
        if let Ok(after) = Snapshot::take(engine, project).await {
            actions = outcome::container_actions(before, &after, &tally.restarted);
            hash = after.hash();
        }
    }
    let hash = hash.or_else(|| outcome::planned_hash(ctx));
    outcome::finish("restart", hash.as_deref(), &actions, result, ctx)
}

async fn restart(
    ctx: &Ctx,
    args: &RestartArgs,
    view: &mut Tally,
    before: &mut Option<(Snapshot, crate::engine::Engine, crate::project::Project)>,
) -> Result<ExitStatus> {
    let project = ctx.project()?;
    let m = &project.manifest;
    if m.services.is_empty() {
        return Err(Error::other(
            "this manifest has no [services] to restart",
            Some("`devenv up` recreates the dev container when its settings change".into()),
        ));
    }
    let engine = ctx.engine().await?;
    let snapshot = Snapshot::take(&engine, &project).await?;
    let (_, engine, project) = before.insert((snapshot, engine, project));
    Environment::new(engine, project)
        .restart(&args.services, view)
        .await?;
    ctx.printer
        .info("restarted; every restarted service is ready");
    Ok(ExitStatus::Success)
}
