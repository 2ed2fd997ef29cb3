//! The environment container's lifecycle (up/down/status) and execs into it (run/shell).
//!
//! A project's container is the one `ownership` says is its dev container (the project's
//! labels, role `env`, and the name devenv gives it). It records the image hash and the canonical
//! runtime settings it was created with; when either differs from the manifest's, the
//! container is stale and is recreated (by `up`), never reused silently.

mod container;
pub mod env_file;
mod exec;
mod runner;
pub(crate) mod settings;
mod user;

use std::path::{Path, PathBuf};

pub use exec::{exec_command, new_marker, signal_marked, ExecEnd, ExecRequest};
pub(crate) use exec::{unique_id, Forward, Signals};
pub use fetch::{after_run_paths, fetch, FetchError, Fetched};
pub use runner::{Runner, RunnerEvent};
pub use settings::RuntimeSettings;
pub(crate) use user::ROOT_PATH;
// The engine side of sync lives in `sync/`; re-exported under their old paths.
pub(crate) use crate::sync::{binds, fetch, workspace};
pub use workspace::{
    decide as workspace_mode, forget as forget_synced, prescan, remembered as remembered_workspace,
    volume_name as workspace_volume, Prescan, Workspace,
};

use self::container::{create, named_volume_targets};
use crate::engine::{labels, ContainerInfo, Engine, EngineError, ExecSpec};
use crate::image::BuildError;
use crate::manifest::Manifest;
use crate::ownership::Owned;
// The project's identity lives in `ownership`; `binds` and `workspace` name it from here.
pub(crate) use crate::ownership::ProjectId;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("the environment is stale ({changes}) and {shells} other shell{} still use{} it", if *shells == 1 { "" } else { "s" }, if *shells == 1 { "s" } else { "" })]
    StaleInUse { changes: String, shells: usize },
    #[error("hook `{hook}` failed with exit status {status}")]
    HookFailed { hook: String, status: i64 },
    #[error("cannot read env_file {path}: {message}")]
    EnvFile { path: String, message: String },
    #[error("env_file {path}:{line}: {message}")]
    EnvFileLine {
        path: String,
        line: usize,
        message: String,
    },
    #[error("{what}: {message}")]
    Io { what: String, message: String },
    #[error("setting up the user in the container failed: {0}")]
    UserSetup(String),
    #[error("interrupted")]
    Interrupted,
    #[error("a container named {name} exists and devenv did not make it")]
    NameTaken { name: String },
    #[error("the bind volume source `{path}` was {was} when the environment was created and is {now} now")]
    BindKindChanged {
        path: String,
        was: &'static str,
        now: &'static str,
    },
}

impl SessionError {
    /// The exit code devenv ends with because of this error, as [`BuildError::exit_code`].
    pub fn exit_code(&self) -> i32 {
        match self {
            SessionError::Interrupted => crate::error::EXIT_INTERRUPTED,
            SessionError::Engine(e) => e.exit_code(),
            SessionError::Build(e) => e.exit_code(),
            _ => 1,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            SessionError::StaleInUse { .. } => Some(
                "exit the other shells and run again, or run `devenv up` to recreate the \
                 environment now (it ends those shells)"
                    .into(),
            ),
            SessionError::HookFailed { .. } => {
                Some("fix the hook; the next `devenv up` runs it again".into())
            }
            SessionError::EnvFileLine { .. } => Some(
                "env_file holds KEY=VALUE lines, read literally as `docker run --env-file` \
                 reads them (see docs/manifest.md)"
                    .into(),
            ),
            SessionError::NameTaken { name } => Some(format!(
                "rename or remove it (`docker rm {name}`) if it is not needed; devenv never \
                 touches containers without its labels"
            )),
            SessionError::BindKindChanged { .. } => {
                Some("run `devenv down` and `devenv up` to recreate the environment with it".into())
            }
            SessionError::Build(e) => e.hint(),
            SessionError::Engine(e) => e.hint(),
            _ => None,
        }
    }
}

// Progress lines are the environment's (the set's) reporter trait.
pub use crate::environment::Events;

pub(crate) fn real(p: &Path) -> String {
    p.canonicalize()
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// The project's environment container, if any (the newest when several exist: the engine
/// lists newest first).
pub async fn find(engine: &Engine, id: &ProjectId) -> Result<Option<ContainerInfo>, SessionError> {
    Ok(ours(engine, id).await?.into_iter().next())
}

/// The project's environment container, as `ownership` tells it: labels select, the name
/// decides (a container run from a `docker commit` of the environment carries the labels).
async fn ours(engine: &Engine, id: &ProjectId) -> Result<Vec<ContainerInfo>, SessionError> {
    let mut list = engine.list_containers(&id.role_selector("env")).await?;
    list.retain(|c| id.member(c) == Some(Owned::Env));
    Ok(list)
}

/// How `ensure_running` treats a stale container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StalePolicy {
    /// Recreate it (`up`).
    Recreate,
    /// Recreate only when no other exec uses it; otherwise fail with `StaleInUse`.
    RecreateIfUnused,
}

/// What `ensure_running` did.
#[derive(Debug, Clone)]
pub struct Running {
    pub container: ContainerInfo,
    pub created: bool,
    pub started: bool,
}

/// Make sure the container for `settings` exists and runs: reuse, start, or (re)create it,
/// running hooks. Serialised per project so concurrent calls end with one container.
pub async fn ensure_running(
    engine: &Engine,
    manifest: &Manifest,
    settings: &RuntimeSettings,
    policy: StalePolicy,
    state_dir: &Path,
    events: &mut dyn Events,
) -> Result<Running, SessionError> {
    let running = ensure_started(engine, manifest, settings, policy, state_dir, events).await?;
    run_hooks(engine, manifest, settings, &running, state_dir, events).await?;
    Ok(running)
}

/// [`ensure_running`] without the hooks: the container exists, runs, has its user and (on a
/// remote engine) the project. The services start after this and before [`run_hooks`], so
/// services that run from the environment image find the synced workspace and the hooks
/// find the services ready.
pub async fn ensure_started(
    engine: &Engine,
    manifest: &Manifest,
    settings: &RuntimeSettings,
    policy: StalePolicy,
    state_dir: &Path,
    events: &mut dyn Events,
) -> Result<Running, SessionError> {
    let id = ProjectId::new(manifest);
    let _lock = project_lock(&id).await?;
    let existing = find(engine, &id).await?;
    if let Some(c) = existing {
        let changes = settings.diff(&c.labels);
        if changes.is_empty() {
            let must_start = !c.running();
            let found = if must_start {
                Found::Stopped
            } else {
                Found::Running
            };
            prepare(engine, manifest, settings, &c, found, state_dir, events).await?;
            return Ok(Running {
                container: c,
                created: false,
                started: must_start,
            });
        }
        let summary = explain_image(state_dir, &c.labels, settings, changes).join(", ");
        if policy == StalePolicy::RecreateIfUnused && c.running() {
            let shells = engine.running_execs(&c.id).await?;
            if shells > 0 {
                return Err(SessionError::StaleInUse {
                    changes: summary,
                    shells,
                });
            }
        }
        events.info(&format!("recreating {}: {summary}", c.name));
        engine.remove_container(&c.id).await?;
        workspace::forget(state_dir, &c.id);
    }
    let mode = workspace::decide(engine, manifest, &settings.image, state_dir).await?;
    let container = create(engine, manifest, settings, &id, mode).await?;
    events.info(&format!("created {}", container.name));
    prepare(
        engine,
        manifest,
        settings,
        &container,
        Found::New,
        state_dir,
        events,
    )
    .await?;
    Ok(Running {
        container,
        created: true,
        started: true,
    })
}

/// The changes of a stale container, with the image's (`image A → B`) said in terms of
/// the manifest: which step, input or setting made the new image.
pub fn explain_image<S: std::hash::BuildHasher>(
    state_dir: &Path,
    labels: &std::collections::HashMap<String, String, S>,
    settings: &RuntimeSettings,
    changes: Vec<String>,
) -> Vec<String> {
    let old = labels.get(labels::HASH).map_or("", String::as_str);
    changes
        .into_iter()
        .map(|change| {
            if !change.starts_with("image ") || old.is_empty() {
                return change;
            }
            match crate::image::BuildRecord::what_changed(state_dir, old, &settings.hash) {
                Some(why) => format!("{change} ({why})"),
                None => change,
            }
        })
        .collect()
}

/// The container [`prepare`] is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Running,
    Stopped,
    /// Just created.
    New,
}

/// Start (unless running) and set up the user; bring a synced workspace up to date.
async fn prepare(
    engine: &Engine,
    manifest: &Manifest,
    settings: &RuntimeSettings,
    c: &ContainerInfo,
    found: Found,
    state_dir: &Path,
    events: &mut dyn Events,
) -> Result<(), SessionError> {
    let volume_mode = Workspace::of(&c.labels) == Workspace::Volume;
    if found != Found::Running {
        engine.start_container(&c.id).await?;
        let mut volumes = named_volume_targets(manifest);
        if volume_mode {
            volumes.push(manifest.shell.workdir.clone());
            volumes.extend(binds::writable_dir_targets(&binds::of(&c.labels).binds));
        }
        user::setup(engine, &c.id, &settings.user, &volumes).await?;
    }
    if let (Found::New, Some(ca)) = (found, &settings.host_network.ca) {
        crate::hostnet::ca::install(engine, &c.id, ca)
            .await?
            .map_err(|message| SessionError::Io {
                what: format!("container {}", c.name),
                message,
            })?;
    }
    if volume_mode {
        sync_workspace(engine, manifest, c, found == Found::New, state_dir, events).await?;
    }
    Ok(())
}

/// Run `on_create` once (marker written only after success) and `on_start` when `running`
/// was started. Serialised per project like [`ensure_started`], so two concurrent `up`s run
/// `on_create` once.
pub async fn run_hooks(
    engine: &Engine,
    manifest: &Manifest,
    settings: &RuntimeSettings,
    running: &Running,
    state_dir: &Path,
    events: &mut dyn Events,
) -> Result<(), SessionError> {
    if manifest.hooks.on_create.is_none() && manifest.hooks.on_start.is_none() {
        return Ok(());
    }
    let _lock = project_lock(&ProjectId::new(manifest)).await?;
    let c = &running.container;
    if let Some(hook) = &manifest.hooks.on_create {
        if !hook_done(state_dir, &c.id) {
            events.info("running on_create hook");
            run_hook(engine, manifest, settings, &c.id, hook, events).await?;
            mark_hook_done(state_dir, &c.id)?;
        }
    }
    if running.started {
        if let Some(hook) = &manifest.hooks.on_start {
            events.info("running on_start hook");
            run_hook(engine, manifest, settings, &c.id, hook, events).await?;
        }
    }
    Ok(())
}

/// Before a command in a ready container: bring its workspace and bind volumes, and the
/// bind volumes of the `services` running beside it, up to date when they are synced
/// volumes (remote engine); nothing for bind mounts. `prescan` is a scan started earlier
/// ([`prescan`]).
pub async fn sync_if_remote(
    engine: &Engine,
    manifest: &Manifest,
    container: &ContainerInfo,
    services: &[ContainerInfo],
    state_dir: &Path,
    prescan: Option<Prescan>,
) -> Result<(), SessionError> {
    if Workspace::of(&container.labels) == Workspace::Volume {
        workspace::sync(engine, manifest, container, state_dir, prescan).await?;
        binds::sync(engine, manifest, container, state_dir).await?;
        let helper_image = binds::helper_image(container);
        for s in services {
            let record = binds::of(&s.labels);
            let owner = binds::Owner {
                id: &s.id,
                helper_image: &helper_image,
                direct: false,
            };
            binds::sync_binds(engine, manifest, &owner, &record, state_dir).await?;
        }
    }
    Ok(())
}

/// The bind volume sources of `container` and of the manifest's services that are synced
/// directories (volume mode), for a watcher to watch whole: `.gitignore` does not hide them.
pub fn synced_bind_dirs(manifest: &Manifest, container: &ContainerInfo) -> Vec<PathBuf> {
    if Workspace::of(&container.labels) != Workspace::Volume {
        return Vec::new();
    }
    let services = manifest
        .services
        .iter()
        .flat_map(|(name, s)| binds::plan_of(&manifest.root, &s.volumes, Some(name)));
    let mut dirs: Vec<PathBuf> = binds::of(&container.labels)
        .binds
        .into_iter()
        .chain(services)
        .filter(|b| b.kind == binds::BindKind::Dir)
        .map(|b| {
            let p = manifest.root.join(&b.source);
            p.canonicalize().unwrap_or(p)
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

/// Bring the remote workspace and bind volumes up to date with the project (volume mode);
/// `new`: the container was just created.
async fn sync_workspace(
    engine: &Engine,
    manifest: &Manifest,
    c: &ContainerInfo,
    new: bool,
    state_dir: &Path,
    events: &mut dyn Events,
) -> Result<(), SessionError> {
    let first = !workspace::synced_before(state_dir, c);
    let delta = workspace::sync(engine, manifest, c, state_dir, None).await?;
    binds::sync(engine, manifest, c, state_dir).await?;
    if first {
        events.info(&format!(
            "uploaded the project to the engine ({} entries; it cannot see this machine's files)",
            delta.changed.len()
        ));
    } else if new {
        events.info(&format!(
            "synced the project into its workspace volume on the engine ({} changed, {} \
             deleted since the last container)",
            delta.changed.len(),
            delta.deleted.len()
        ));
    }
    Ok(())
}

async fn run_hook(
    engine: &Engine,
    manifest: &Manifest,
    settings: &RuntimeSettings,
    container: &str,
    hook: &str,
    events: &mut dyn Events,
) -> Result<(), SessionError> {
    use futures_util::StreamExt;
    let marker = exec::new_marker();
    let spec = ExecSpec {
        cmd: vec!["/bin/sh".into(), "-c".into(), hook.to_owned()],
        env: vec![marker.clone()],
        user: Some(settings.user.exec_user()),
        workdir: Some(manifest.shell.workdir.clone()),
        ..ExecSpec::default()
    };
    let mut sigs = exec::Signals::new()?;
    let mut io = engine.start_exec(container, &spec).await?;
    loop {
        let chunk = tokio::select! {
            chunk = io.output.next() => chunk,
            sig = sigs.next() => {
                if matches!(sig, exec::Forward::Resize) {
                    continue;
                }
                // The engine does not stop an exec whose client leaves: stop the hook too.
                exec::signal_marked(engine, container, &marker, "TERM").await;
                return Err(SessionError::Interrupted);
            }
        };
        let Some(chunk) = chunk else { break };
        match chunk? {
            crate::engine::ExecOutput::Stdout(b) | crate::engine::ExecOutput::Stderr(b) => {
                events.hook_output(&b);
            }
        }
    }
    let status = engine.exec_exit_code(&io.id).await?;
    if status == 0 {
        Ok(())
    } else {
        Err(SessionError::HookFailed {
            hook: hook.to_owned(),
            status,
        })
    }
}

fn marker(state_dir: &Path, container: &str) -> PathBuf {
    state_dir
        .join("hooks")
        .join(format!("{container}.on_create"))
}

/// Whether the container has no `on_create` hook pending.
pub fn hooks_done(manifest: &Manifest, state_dir: &Path, container: &str) -> bool {
    manifest.hooks.on_create.is_none() || hook_done(state_dir, container)
}

fn hook_done(state_dir: &Path, container: &str) -> bool {
    marker(state_dir, container).exists()
}

fn mark_hook_done(state_dir: &Path, container: &str) -> Result<(), SessionError> {
    let path = marker(state_dir, container);
    let io = |e: std::io::Error| SessionError::Io {
        what: path.display().to_string(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(path.parent().expect("marker has a parent")).map_err(io)?;
    std::fs::write(&path, b"").map_err(io)
}

/// Remove the project's container (and its named volumes); returns what was removed.
pub async fn down(
    engine: &Engine,
    manifest: &Manifest,
    volumes: bool,
    state_dir: &Path,
) -> Result<Vec<String>, SessionError> {
    let id = ProjectId::new(manifest);
    let _lock = project_lock(&id).await?;
    let mut removed = Vec::new();
    for c in ours(engine, &id).await? {
        engine.remove_container(&c.id).await?;
        let _ = std::fs::remove_file(marker(state_dir, &c.id));
        workspace::forget(state_dir, &c.id);
        removed.push(format!("container {}", c.name));
    }
    // A bind volume helper left by an interrupted sync would hold its volume.
    let helpers = engine.list_containers(&id.role_selector("sync")).await?;
    for h in helpers.iter().filter(|h| id.member(h) == Some(Owned::Sync)) {
        engine.remove_container(&h.id).await?;
        removed.push(format!("container {}", h.name));
    }
    if volumes {
        // Another checkout's volumes carry the same project labels: the names decide.
        let owned = |name: &str| id.owns_volume(name);
        let vols = engine
            .remove_volumes(&id.role_selector("volume"), &owned)
            .await?;
        for (name, volume_labels) in vols {
            if let Some(nonce) = volume_labels.get(labels::NONCE) {
                workspace::forget_volume(state_dir, nonce);
            }
            removed.push(format!("volume {name}"));
        }
    }
    Ok(removed)
}

/// Per-project lock serialising container creation and removal.
async fn project_lock(id: &ProjectId) -> Result<crate::image::NamedLock, SessionError> {
    Ok(crate::image::NamedLock::acquire(&id.container_name).await?)
}
