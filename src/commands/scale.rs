//! `devenv scale SERVICE=N…`: change how many replicas of services run, at once. The count
//! holds for `run`, `shell` and `watch` until the next `devenv up`, which goes back to the
//! manifest's and says so.

use std::collections::BTreeMap;

use super::Ctx;
use crate::cli::ScaleArgs;
use crate::environment::Environment;
use crate::error::{ExitStatus, Result};
use crate::stack::StackError;
use crate::ui::BuildView;

pub async fn run(ctx: &Ctx, args: &ScaleArgs) -> Result<ExitStatus> {
    let project = ctx.project()?;
    let m = &project.manifest;
    let known: Vec<String> = m.services.keys().cloned().collect();
    let mut counts = BTreeMap::new();
    for (name, n) in &args.counts {
        if !m.services.contains_key(name) {
            return Err(StackError::UnknownService {
                name: name.clone(),
                known,
            }
            .into());
        }
        counts.insert(name.clone(), *n);
    }
    let engine = ctx.engine().await?;
    let mut view = BuildView::new(ctx.printer);
    Environment::new(&engine, &project)
        .scale(&counts, &mut view)
        .await?;
    let said: Vec<String> = counts
        .iter()
        .map(|(name, n)| format!("{name}={n}"))
        .collect();
    ctx.printer.info(&format!(
        "scaled {}; every replica is ready (the next `devenv up` goes back to the manifest's counts)",
        said.join(" ")
    ));
    Ok(ExitStatus::Success)
}
