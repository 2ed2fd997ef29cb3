//! `devenv down [--volumes]`: removes the project's services, dev container, network and
//! (asked) volumes, saying each as it goes, so a failure part-way (a volume another
//! container still uses) still reports what was removed, and the error says what is left.

use super::Ctx;
use crate::cli::DownArgs;
use crate::environment::Environment;
use crate::error::{ExitStatus, Result};

pub async fn run(ctx: &Ctx, args: &DownArgs) -> Result<ExitStatus> {
    let project = ctx.project()?;
    let engine = ctx.engine().await?;
    let say = |removed: Vec<String>| {
        let any = !removed.is_empty();
        for r in removed {
            ctx.printer.info(&format!("removed {r}"));
        }
        any
    };
    let warn = |e: &str| ctx.printer.warn(e);
    let any = Environment::new(&engine, &project)
        .down(args.volumes, &mut { say }, &mut { warn })
        .await?;
    if !any {
        ctx.printer
            .info("nothing to remove: no environment container for this project");
    }
    Ok(ExitStatus::Success)
}
