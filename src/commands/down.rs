//! `devenv down [--volumes]`: removes the project's services, dev container, network and
//! (asked) volumes, saying each as it goes, so a failure part-way (a volume another
//! container still uses) still reports what was removed, and the error says what is left.

use std::cell::RefCell;

use super::outcome::{self, Action};
use super::Ctx;
use crate::cli::DownArgs;
use crate::engine::EngineError;
use crate::error::{ExitStatus, Result};
use crate::session::SessionError;
use crate::{session, stack};

pub async fn run(ctx: &Ctx, args: &DownArgs) -> Result<ExitStatus> {
    let actions = RefCell::new(Vec::new());
    let result = remove_all(ctx, args, &actions).await;
    if !args.json {
        return result;
    }
    let hash = outcome::planned_hash(ctx);
    let actions = actions.into_inner();
    outcome::finish("down", hash.as_deref(), &actions, result, ctx)
}

async fn remove_all(
    ctx: &Ctx,
    args: &DownArgs,
    actions: &RefCell<Vec<Action>>,
) -> Result<ExitStatus> {
    let project = ctx.project()?;
    let engine = ctx.engine().await?;
    let m = &project.manifest;
    let say = |removed: Vec<String>| {
        let any = !removed.is_empty();
        for r in removed {
            ctx.printer.info(&format!("removed {r}"));
            actions.borrow_mut().push(outcome::removed(&r));
        }
        any
    };
    // Services first (their volumes can only go once no container uses them), then the
    // dev container, the network nothing is attached to any more, and last the volumes.
    let mut any = say(stack::remove_services(&engine, m, &project.paths.dir).await?);
    any |= say(session::down(&engine, m, false, &project.paths.dir).await?);
    // A network another container is attached to stays; the volumes still go, then its
    // error is the command's.
    let network = stack::remove_network(&engine, m).await;
    if let Ok(removed) = &network {
        any |= say(removed.iter().cloned().collect());
    }
    if args.volumes {
        match session::down(&engine, m, true, &project.paths.dir).await {
            Ok(removed) => any |= say(removed),
            Err(SessionError::Engine(EngineError::VolumesLeft { removed, left })) => {
                say(removed.iter().map(|v| format!("volume {v}")).collect());
                if let Err(e) = &network {
                    ctx.printer.warn(&e.to_string());
                }
                return Err(EngineError::VolumesLeft { removed, left }.into());
            }
            Err(e) => return Err(e.into()),
        }
    }
    network?;
    if !any {
        ctx.printer
            .info("nothing to remove: no environment container for this project");
    }
    Ok(ExitStatus::Success)
}
