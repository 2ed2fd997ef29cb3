//! `devenv up`, `devenv shell`, `devenv run`: bring the environment up to date, then use it.
//!
//! The warm path (container running, current, hooks done) costs one list call plus the
//! exec itself: the hash comes from the lock and the stat cache without the engine, and a
//! running container whose labels carry that hash proves its image exists.

use std::path::Path;

use super::build::lock_mode;
use super::outcome::{self, Snapshot, Tally};
use super::Ctx;
use crate::cli::{LockedArgs, RunArgs, ShellArgs, UpArgs};
use crate::engine::{ContainerInfo, Engine};
use crate::environment::{Counts, Environment, Events};
use crate::error::{ExitStatus, Result};
use crate::image;
use crate::project::Project;
use crate::session::{self, ExecEnd, ExecRequest, StalePolicy};
use crate::ui::BuildView;

pub async fn up(ctx: &Ctx, args: &UpArgs) -> Result<ExitStatus> {
    if args.json {
        return up_json(ctx, args).await;
    }
    let counts = Counts::Manifest;
    let (engine, project, running) =
        prepare_with(ctx, &args.locked, StalePolicy::Recreate, counts, args.swarm).await?;
    ctx.printer.info(&format!(
        "environment ready: container {} — `devenv shell` to enter, `devenv run -- CMD` to run",
        running.name
    ));
    project.paths.ensure_dir();
    if args.watch {
        let mode = lock_mode(&args.locked);
        return super::watch::after_up(ctx, engine, project, running, mode, &args.watch_options)
            .await;
    }
    Ok(ExitStatus::Success)
}

/// `up --json`: the containers before and after, the steps built, as one object.
async fn up_json(ctx: &Ctx, args: &UpArgs) -> Result<ExitStatus> {
    let fail = |e| {
        outcome::finish(
            "up",
            outcome::planned_hash(ctx).as_deref(),
            &[],
            Err(e),
            ctx,
        )
    };
    let (project, prescan, engine) = match connect(ctx).await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let before = match Snapshot::take(&engine, &project).await {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let mut tally = Tally::new(BuildView::new(ctx.printer));
    let up = Up {
        locked: &args.locked,
        policy: StalePolicy::Recreate,
        counts: Counts::Manifest,
        swarm: args.swarm,
    };
    let result = bring_up(ctx, &engine, &project, prescan, &up, &mut tally)
        .await
        .map(|_| {
            project.paths.ensure_dir();
            ExitStatus::Success
        });
    let mut actions = outcome::built(&tally.built);
    let mut hash = None;
    if let Ok(after) = Snapshot::take(&engine, &project).await {
        actions.extend(outcome::container_actions(&before, &after, &[]));
        hash = after.hash();
    }
    let hash = hash.or_else(|| outcome::planned_hash(ctx));
    outcome::finish("up", hash.as_deref(), &actions, result, ctx)
}

pub async fn shell(ctx: &Ctx, args: &ShellArgs) -> Result<ExitStatus> {
    let (engine, project, container) = prepare(
        ctx,
        &args.locked,
        StalePolicy::RecreateIfUnused,
        Counts::Scaled,
    )
    .await?;
    // `shell.command` may carry arguments (`bash -l`); without one: bash when the image has
    // it, else sh, decided inside at no extra round trip.
    let script = match &project.manifest.shell.command {
        Some(c) => format!("exec {c} \"$@\""),
        None => "if [ -x /bin/bash ]; then exec /bin/bash \"$@\"; else exec /bin/sh \"$@\"; fi"
            .to_owned(),
    };
    let mut cmd: Vec<String> = vec!["/bin/sh".into(), "-c".into(), script, "sh".into()];
    cmd.extend(args.args.iter().cloned());
    exec(ctx, &engine, &project, &container, cmd).await
}

pub async fn run(ctx: &Ctx, args: &RunArgs) -> Result<ExitStatus> {
    let (engine, project, container) = prepare(
        ctx,
        &args.locked,
        StalePolicy::RecreateIfUnused,
        Counts::Scaled,
    )
    .await?;
    let status = exec(ctx, &engine, &project, &container, args.command.clone()).await;
    // Test reports matter most after a failure: `[sync] fetch` whatever the status.
    super::fetch::after_run(ctx, &engine, &project, &container).await;
    status
}

async fn exec(
    ctx: &Ctx,
    engine: &Engine,
    project: &Project,
    container: &ContainerInfo,
    cmd: Vec<String>,
) -> Result<ExitStatus> {
    let m = &project.manifest;
    let settings_user = session::RuntimeSettings::exec_user_of(m);
    let req = ExecRequest {
        container: container.id.clone(),
        cmd,
        user: settings_user,
        workdir: container_cwd(&m.root, &m.shell.workdir),
        env: Vec::new(),
        tty: None,
    };
    match session::exec_command(engine, &req).await? {
        ExecEnd::Exited(code) => Ok(ExitStatus::Code(code)),
        ExecEnd::NotStarted { code, message } => {
            ctx.printer.error(&message, None);
            Ok(ExitStatus::Code(code))
        }
    }
}

/// The container directory matching the current directory when it is inside the project.
fn container_cwd(root: &Path, workdir: &str) -> String {
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|c| c.canonicalize().ok());
    match cwd.as_deref().and_then(|c| c.strip_prefix(root).ok()) {
        Some(rel) if !rel.as_os_str().is_empty() => {
            format!("{}/{}", workdir.trim_end_matches('/'), rel.display())
        }
        _ => workdir.to_owned(),
    }
}

/// Load, build what is missing and make sure the container runs; returns it.
async fn prepare(
    ctx: &Ctx,
    locked: &LockedArgs,
    policy: StalePolicy,
    counts: Counts,
) -> Result<(Engine, Project, ContainerInfo)> {
    prepare_with(ctx, locked, policy, counts, false).await
}

/// [`prepare`], with the services on the engine's swarm when `swarm` (`up --swarm`).
async fn prepare_with(
    ctx: &Ctx,
    locked: &LockedArgs,
    policy: StalePolicy,
    counts: Counts,
    swarm: bool,
) -> Result<(Engine, Project, ContainerInfo)> {
    let (project, prescan, engine) = connect(ctx).await?;
    let mut view = BuildView::new(ctx.printer);
    let up = Up {
        locked,
        policy,
        counts,
        swarm,
    };
    let c = bring_up(ctx, &engine, &project, prescan, &up, &mut view).await?;
    Ok((engine, project, c))
}

/// How `up`, `shell` and `run` bring the environment up.
struct Up<'a> {
    locked: &'a LockedArgs,
    policy: StalePolicy,
    counts: Counts,
    /// The services on the engine's swarm (`up --swarm`).
    swarm: bool,
}

/// Load the project and connect to the engine. The engine connects (and negotiates its
/// API version) while the project loads: the warm path pays for the longer of the two, not
/// both.
async fn connect(ctx: &Ctx) -> Result<(Project, Option<session::Prescan>, Engine)> {
    let connecting = tokio::spawn(Engine::connect());
    let project = ctx.project()?;
    // A remote workspace is scanned while the engine connects and lists.
    let prescan = session::prescan(
        &project.manifest,
        &project.paths.dir,
        &crate::engine::endpoint(),
    );
    let engine = match connecting.await {
        Ok(connected) => connected?,
        Err(_) => ctx.engine().await?,
    };
    Ok((project, prescan, engine))
}

/// Build what is missing and make sure the environment runs (nothing to do on the warm
/// path: [`Environment::ready`]); returns the dev container.
async fn bring_up<V: image::Reporter + Events>(
    ctx: &Ctx,
    engine: &Engine,
    project: &Project,
    prescan: Option<session::Prescan>,
    up: &Up<'_>,
    view: &mut V,
) -> Result<ContainerInfo> {
    let (locked, policy, counts) = (up.locked, up.policy, up.counts);
    let environment = Environment::new(engine, project).with_swarm(up.swarm);
    if let Some(c) = environment.ready(counts, prescan).await? {
        return Ok(c);
    }
    environment.preflight().await?;
    let m = &project.manifest;
    let built = image::ensure_image(engine, m, &project.paths, lock_mode(locked), view).await?;
    let running = environment
        .up(&built, policy, lock_mode(locked), counts, view)
        .await?;
    if !m.services.is_empty() {
        let names: Vec<&str> = m.services.keys().map(String::as_str).collect();
        ctx.printer
            .info(&format!("services ready: {}", names.join(", ")));
    }
    Ok(running.container)
}
