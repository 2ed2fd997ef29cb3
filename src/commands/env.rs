//! `devenv up`, `devenv shell`, `devenv run`: bring the environment up to date, then use it.
//!
//! The warm path (container running, current, hooks done) costs one list call plus the
//! exec itself: the hash comes from the lock and the stat cache without the engine, and a
//! running container whose labels carry that hash proves its image exists.

use std::path::Path;

use super::build::lock_mode;
use super::Ctx;
use crate::cli::{LockedArgs, RunArgs, ShellArgs, UpArgs};
use crate::engine::{ContainerInfo, Engine};
use crate::error::{ExitStatus, Result};
use crate::image;
use crate::ownership::ProjectId;
use crate::project::Project;
use crate::session::{self, ExecEnd, ExecRequest, RuntimeSettings, StalePolicy};
use crate::stack;
use crate::ui::BuildView;

pub async fn up(ctx: &Ctx, args: &UpArgs) -> Result<ExitStatus> {
    let (engine, project, running) = prepare(ctx, &args.locked, StalePolicy::Recreate).await?;
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

pub async fn shell(ctx: &Ctx, args: &ShellArgs) -> Result<ExitStatus> {
    let (engine, project, container) =
        prepare(ctx, &args.locked, StalePolicy::RecreateIfUnused).await?;
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
    let (engine, project, container) =
        prepare(ctx, &args.locked, StalePolicy::RecreateIfUnused).await?;
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

/// Bring the whole set up from a built image: the services in dependency order and ready,
/// the dev container (started, its user set up, on a remote engine its workspace synced),
/// then the hooks, which can use the services. On an engine that cannot see this machine's
/// files, services that run from the environment image share the dev container's synced
/// workspace, so there the dev container comes first.
pub(super) async fn up_all(
    engine: &Engine,
    project: &Project,
    built: &image::Built,
    policy: StalePolicy,
    mode: image::LockMode,
    events: &mut dyn session::Events,
) -> Result<session::Running> {
    let m = &project.manifest;
    let state_dir = &project.paths.dir;
    let settings = RuntimeSettings::new(m, &built.image, &built.hash)?;
    let workspace = if m.services.is_empty() {
        session::Workspace::Bind // decided, if need be, when the container is made
    } else {
        session::workspace_mode(engine, m, &built.image, state_dir).await?
    };
    let env = stack::EnvImage {
        image: &built.image,
        hash: &built.hash,
        workspace,
    };
    let shares_workspace = workspace == session::Workspace::Volume
        && m.services
            .values()
            .any(crate::manifest::Service::uses_environment_image);
    if crate::cluster::swarm::wanted(engine, m).await? {
        crate::cluster::swarm::require_manager(engine).await?;
        crate::cluster::swarm::ensure_network(engine, m).await?;
        let running =
            session::ensure_started(engine, m, &settings, policy, state_dir, events).await?;
        crate::cluster::swarm::up(engine, m, env, &project.paths, mode, events).await?;
        session::run_hooks(engine, m, &settings, &running, state_dir, events).await?;
        return Ok(running);
    }
    let running = if shares_workspace {
        stack::ensure_network(engine, m).await?;
        let running =
            session::ensure_started(engine, m, &settings, policy, state_dir, events).await?;
        stack::up(engine, m, env, &project.paths, mode, events).await?;
        running
    } else {
        stack::up(engine, m, env, &project.paths, mode, events).await?;
        session::ensure_started(engine, m, &settings, policy, state_dir, events).await?
    };
    session::run_hooks(engine, m, &settings, &running, state_dir, events).await?;
    Ok(running)
}

/// Load, build what is missing and make sure the container runs; returns it.
async fn prepare(
    ctx: &Ctx,
    locked: &LockedArgs,
    policy: StalePolicy,
) -> Result<(Engine, Project, ContainerInfo)> {
    let project = ctx.project()?;
    // A remote workspace is scanned while the engine connects and lists.
    let prescan = session::prescan(
        &project.manifest,
        &project.paths.dir,
        &crate::engine::endpoint(),
    );
    let engine = ctx.engine().await?;
    if let Some((c, services)) = warm(&engine, &project).await? {
        let m = &project.manifest;
        session::sync_if_remote(&engine, m, &c, &services, &project.paths.dir, prescan).await?;
        return Ok((engine, project, c));
    }
    let m = &project.manifest;
    let mut view = BuildView::new(ctx.printer);
    let built =
        image::ensure_image(&engine, m, &project.paths, lock_mode(locked), &mut view).await?;
    let running = up_all(
        &engine,
        &project,
        &built,
        policy,
        lock_mode(locked),
        &mut view,
    )
    .await?;
    if !m.services.is_empty() {
        let names: Vec<&str> = m.services.keys().map(String::as_str).collect();
        ctx.printer
            .info(&format!("services ready: {}", names.join(", ")));
    }
    Ok((engine, project, running.container))
}

/// The running, current container and its services when nothing needs doing, computed
/// without building.
async fn warm(
    engine: &Engine,
    project: &Project,
) -> Result<Option<(ContainerInfo, Vec<ContainerInfo>)>> {
    let m = &project.manifest;
    let Some(plan) = image::current_plan(m, &project.paths)? else {
        return Ok(None);
    };
    let hash = plan.hash();
    let image = image::image_name(m, hash);
    let settings = RuntimeSettings::new(m, &image, hash)?;
    // One list call finds the dev container and the services.
    let members = stack::Members::list(engine, &ProjectId::new(m)).await?;
    let Some(c) = members.dev.clone() else {
        return Ok(None);
    };
    let ready = c.running()
        && settings.diff(&c.labels).is_empty()
        && session::hooks_done(m, &project.paths.dir, &c.id);
    if !ready {
        return Ok(None);
    }
    if !m.services.is_empty() || !members.services.is_empty() {
        let lock = crate::manifest::LockFile::read(&project.paths.lock)
            .ok()
            .flatten();
        let mut cache = project.paths.stat_cache();
        let env = stack::EnvImage {
            image: &image,
            hash,
            workspace: session::Workspace::of(&c.labels),
        };
        if members.services.is_empty()
            && !m.services.is_empty()
            && crate::cluster::swarm::detect(engine, m).await?
        {
            if !crate::cluster::manage::warm(engine, m, &project.paths, env).await? {
                return Ok(None);
            }
            return Ok(Some((c, Vec::new())));
        }
        if !stack::all_current(m, &members, lock.as_ref(), &mut cache, env)? {
            return Ok(None);
        }
        // Current, but maybe not ready: starting, or restarted by the engine after a crash.
        stack::wait_listed(engine, m, &members).await?;
    }
    Ok(Some((c, members.services.into_values().collect())))
}
