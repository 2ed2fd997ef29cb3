//! `devenv config [--json]`: the resolved manifest with every default filled in.

use super::Ctx;
use crate::cli::ConfigArgs;
use crate::error::{Error, ExitStatus, Result};

pub fn run(ctx: &Ctx, args: &ConfigArgs) -> Result<ExitStatus> {
    let project = ctx.project()?;
    let text = if args.json {
        serde_json::to_string_pretty(&project.manifest)
            .map_err(|e| Error::other(format!("cannot render the manifest: {e}"), None))?
    } else {
        project.manifest.to_toml()
    };
    ctx.printer.data(text.trim_end());
    Ok(ExitStatus::Success)
}
