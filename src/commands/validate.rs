//! `devenv validate`: check the manifest, report every problem.

use super::Ctx;
use crate::error::{ExitStatus, Result};

pub fn run(ctx: &Ctx) -> Result<ExitStatus> {
    let project = ctx.project()?;
    let m = &project.manifest;
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    ctx.printer.info(&format!(
        "{} is valid: project `{}`, {}, {}",
        project.display_path.display(),
        m.name,
        plural(m.steps.len(), "step"),
        plural(m.watch.len(), "watch rule"),
    ));
    Ok(ExitStatus::Success)
}
