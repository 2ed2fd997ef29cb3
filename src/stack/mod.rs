//! The environment as a set of containers: the dev container plus the `[services]` it talks
//! to, on one network per project.
//!
//! This module owns the set: each member's identity (labels: project, role `service`,
//! service name) and diff (canonical settings stored on the container, see `member.rs`),
//! the start order (`depends_on` levels, each level started at once), readiness (`ready.rs`)
//! and supervision (restarting a member that stayed unhealthy past its grace, `health.rs`).
//! The dev container itself stays with `session`, which joins it to the network this
//! module makes; `environment` owns the set and calls both (this module is its
//! `Backend::Containers`, and calls neither `environment` nor `session` back: it uses
//! `session`'s pure helpers only, the settings diff, the env_file parser, exec markers).
//!
//! Everything here goes through [`Engine`] operations that any Docker-API endpoint offers,
//! local or remote; a cluster engine is another backend beside this one.

mod health;
mod member;
mod pin;
mod ready;
pub mod replicas;
mod start;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

pub use member::{ServiceSettings, HEALTH_INTERVAL, HEALTH_RETRIES};
pub use pin::locked_images;
pub use ready::{probe, PROBE_LIMIT};
pub use replicas::Counts;

use crate::engine::{labels, ContainerInfo, Engine, EngineError};
use crate::environment::Events;
use crate::fingerprint::{FingerprintError, StatCache};
use crate::image::LockMode;
use crate::manifest::lock::LockError;
use crate::manifest::Manifest;
use crate::ownership::{Owned, ProjectId};
use crate::sync::binds;
use crate::sync::workspace::{self, Workspace};

/// Log lines shown with a service that failed to start.
const FAILURE_LOG_LINES: u64 = 20;

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Fingerprint(#[from] FingerprintError),
    #[error("{0}")]
    Locking(String),
    /// Ctrl-C or SIGTERM ended a wait.
    #[error("interrupted while waiting for the services")]
    Interrupted,
    #[error(
        "service `{service}` is not ready after {seconds} s{}{}",
        section("last probe output", probe_output),
        section("last log lines", logs)
    )]
    NotReady {
        service: String,
        seconds: u64,
        probe_output: String,
        logs: String,
    },
    #[error(
        "service `{service}` exited while starting ({why}){}",
        section("last log lines", logs)
    )]
    Exited {
        service: String,
        why: String,
        logs: String,
    },
    #[error("{file} does not pin the image of service `{service}` ({reference})")]
    LockOutdated {
        file: String,
        service: String,
        reference: String,
    },
    #[error("the image of service `{service}` is not available: {reference}: {reason}")]
    ImageUnavailable {
        service: String,
        reference: String,
        reason: String,
        /// What fixes it, when the reason says (a failed pull's cause).
        fix: Option<String>,
    },
    #[error("cannot read env_file {path}: {message}")]
    EnvFile { path: String, message: String },
    #[error("a container named {name} exists and devenv did not make it")]
    NameTaken { name: String },
    #[error("no service named `{name}`")]
    UnknownService { name: String, known: Vec<String> },
    #[error("service `{service}` cannot start: {reason}")]
    CannotStart {
        service: String,
        image: String,
        reason: String,
    },
    #[error(
        "service `{service}` cannot run {count} replicas on one engine: it publishes host port \
         {port}, which only one container can bind"
    )]
    ReplicasWithPort {
        service: String,
        count: u32,
        port: String,
    },
    #[error(
        "service `{service}` cannot run {count} replicas on one engine: they would all write \
         the named volume `{volume}`"
    )]
    ReplicasShareVolume {
        service: String,
        count: u32,
        volume: String,
    },
    #[error("service `{service}` has not been set up on this engine: nothing to scale from")]
    NotUp { service: String },
    #[error("service `{service}`: {source}")]
    BindSync {
        service: String,
        source: Box<crate::session::SessionError>,
    },
}

fn section(title: &str, text: &str) -> String {
    let text = text.trim_end();
    if text.is_empty() {
        return String::new();
    }
    let body: Vec<String> = text.lines().map(|l| format!("    {l}")).collect();
    format!("\n  {title}:\n{}", body.join("\n"))
}

impl StackError {
    /// The exit code devenv ends with because of this error, as [`BuildError::exit_code`].
    pub fn exit_code(&self) -> i32 {
        match self {
            StackError::Engine(e) => e.exit_code(),
            StackError::BindSync { source, .. } => source.exit_code(),
            StackError::Interrupted => crate::error::EXIT_INTERRUPTED,
            _ => 1,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            StackError::NotReady { service, .. } => Some(format!(
                "check the `ready` probe and the service's logs (`devenv logs {service}`); \
                 raise `ready_timeout` if it only needs longer"
            )),
            StackError::Exited { service, why, .. } if why.contains("command not found") => {
                Some(format!(
                    "the shell of service `{service}` did not find its command: install it in the \
                 image, or fix `command` in [services.{service}], then run `devenv up` again"
                ))
            }
            StackError::Exited { service, .. } => Some(format!(
                "see `devenv logs {service}`; fix its command or image and run `devenv up` again"
            )),
            StackError::CannotStart {
                service,
                image,
                reason,
            } => Some(match start::missing_program(reason) {
                Some(program) if reason.contains("not found") => format!(
                    "`{program}` is not in the image {image} (not found in its PATH): install \
                     it there (or use an image that has it), or fix `command` in \
                     [services.{service}]"
                ),
                _ => format!(
                    "fix `command` (or the image) of [services.{service}] and run `devenv up` \
                     again"
                ),
            }),
            StackError::LockOutdated { file, .. } => Some(format!(
                "run `devenv up` or `devenv lock` without --locked, and commit {file}"
            )),
            StackError::ImageUnavailable { fix: Some(fix), .. } => Some(fix.clone()),
            StackError::ImageUnavailable { .. } => Some(
                "make the image available (`docker pull`, `docker load`), or move the lock on \
                 purpose with `devenv lock --update`"
                    .into(),
            ),
            StackError::NameTaken { name } => Some(format!(
                "rename or remove it (`docker rm {name}`); devenv never touches containers \
                 without its labels"
            )),
            StackError::UnknownService { known, .. } => Some(if known.is_empty() {
                "this manifest has no [services]".into()
            } else {
                format!("the services are: {}", known.join(", "))
            }),
            StackError::ReplicasWithPort { service, .. } => Some(format!(
                "remove `ports` from [services.{service}] (the dev container and the other \
                 services reach it by its name), or keep `replicas = 1`"
            )),
            StackError::ReplicasShareVolume {
                service, volume, ..
            } => Some(format!(
                "mount `{volume}` read-only (`:ro`) in [services.{service}], or keep \
                 `replicas = 1`"
            )),
            StackError::NotUp { .. } => {
                Some("run `devenv up` first; `devenv scale` changes the count of what runs".into())
            }
            StackError::Engine(e) => e.hint(),
            StackError::BindSync { source, .. } => source.hint(),
            _ => None,
        }
    }
}

/// The environment's image, which services without their own run, and where those find
/// the project: bind-mounted, or (remote engine) the dev container's synced volume.
#[derive(Debug, Clone, Copy)]
pub struct EnvImage<'a> {
    pub image: &'a str,
    pub hash: &'a str,
    pub workspace: Workspace,
}

/// Create the project network the dev container joins when there are services.
pub async fn ensure_network(engine: &Engine, manifest: &Manifest) -> Result<(), StackError> {
    if manifest.services.is_empty() {
        return Ok(());
    }
    let id = ProjectId::new(manifest);
    engine
        .ensure_network(&id.network(), id.labels("network", None))
        .await?;
    Ok(())
}

/// Members of the set, from one list call: what `ownership` says devenv made for this
/// project and checkout (a container derived from a member carries its labels, not its
/// name, and is no member). Services no longer in the manifest are among `services`.
#[derive(Debug, Default)]
pub struct Members {
    pub dev: Option<ContainerInfo>,
    /// Each service's containers, one per replica, by replica number.
    pub services: BTreeMap<String, Vec<Replica>>,
}

/// One container of a service.
#[derive(Debug, Clone)]
pub struct Replica {
    /// From 1.
    pub number: u32,
    pub container: ContainerInfo,
}

impl std::ops::Deref for Replica {
    type Target = ContainerInfo;
    fn deref(&self) -> &ContainerInfo {
        &self.container
    }
}

impl Members {
    pub async fn list(engine: &Engine, id: &ProjectId) -> Result<Members, EngineError> {
        let all = engine.list_containers(&id.selector()).await?;
        Ok(Members::from_list(id, all))
    }

    /// Sort a list into members (names are unique on an engine: one container each).
    pub fn from_list(id: &ProjectId, all: Vec<ContainerInfo>) -> Members {
        let mut m = Members::default();
        for c in all {
            match id.member(&c) {
                Some(Owned::Env) => m.dev = Some(c),
                Some(Owned::Service(name)) => {
                    let number = id.replica_of(&name, &c.name).unwrap_or(1);
                    m.services.entry(name).or_default().push(Replica {
                        number,
                        container: c,
                    });
                }
                Some(Owned::Sync) | None => {}
            }
        }
        for list in m.services.values_mut() {
            list.sort_by_key(|r| r.number);
        }
        m
    }

    /// Every service container.
    pub fn service_containers(self) -> Vec<ContainerInfo> {
        self.services
            .into_values()
            .flatten()
            .map(|r| r.container)
            .collect()
    }

    /// Whether the service runs exactly replicas 1 to `count`.
    fn has_replicas(&self, service: &str, count: u32) -> bool {
        let list = self.services.get(service).map_or(&[][..], Vec::as_slice);
        list.len() == count as usize && list.iter().zip(1..).all(|(r, n)| r.number == n)
    }
}

/// The settings every service should run with; a service whose image is not pinned yet is
/// missing from the result.
pub fn desired(
    manifest: &Manifest,
    images: &BTreeMap<String, String>,
    env: EnvImage<'_>,
) -> Result<BTreeMap<String, ServiceSettings>, StackError> {
    let id = ProjectId::new(manifest);
    let network = id.network();
    let workspace = (env.workspace == Workspace::Volume).then(|| workspace::volume_name(&id));
    let mut out = BTreeMap::new();
    for (name, service) in &manifest.services {
        let (image, hash) = if service.uses_environment_image() {
            (env.image, Some(env.hash))
        } else {
            match images.get(name) {
                Some(i) => (i.as_str(), None),
                None => continue,
            }
        };
        let settings = ServiceSettings::new(
            manifest,
            name,
            service,
            image,
            hash,
            &network,
            workspace.as_deref(),
        )?;
        out.insert(name.clone(), settings);
    }
    Ok(out)
}

/// Whether the services need nothing (the warm path's check, no engine call): each runs,
/// is current and not unhealthy, and no dropped service is left.
pub fn all_current(
    manifest: &Manifest,
    members: &Members,
    counts: &BTreeMap<String, u32>,
    lock: Option<&crate::manifest::LockFile>,
    cache: &mut StatCache,
    env: EnvImage<'_>,
) -> Result<bool, StackError> {
    if members
        .services
        .keys()
        .any(|k| !manifest.services.contains_key(k))
    {
        return Ok(false);
    }
    if manifest.services.is_empty() {
        return Ok(true);
    }
    let images = locked_images(manifest, lock, cache)?;
    let want = desired(manifest, &images, env)?;
    if want.len() != manifest.services.len() {
        return Ok(false);
    }
    Ok(want.iter().all(|(name, settings)| {
        members.has_replicas(name, counts.get(name).copied().unwrap_or(1))
            && members.services.get(name).into_iter().flatten().all(|c| {
                (c.running() || c.state == "restarting")
                    && !c.unhealthy()
                    && settings.diff(&c.labels).is_empty()
            })
    }))
}

/// Whether the list call shows a service ready: running and, with a probe, healthy by the
/// engine's healthcheck (the same probe). `None` when the list cannot tell (an engine that
/// runs no healthchecks, such as Podman): devenv's own probe decides.
fn listed_ready(c: &ContainerInfo, has_probe: bool) -> Option<bool> {
    if !c.running() {
        return Some(false);
    }
    if !has_probe || c.status.contains("(healthy)") {
        return Some(true);
    }
    if c.status.contains("(health: starting)") || c.unhealthy() {
        return Some(false);
    }
    None
}

/// The warm path's wait: every service the list does not show ready (starting, or being
/// restarted by the engine after a crash) is waited for, each up to its `ready_timeout`,
/// all at once. No engine call when the list shows every service ready.
pub async fn wait_listed(
    engine: &Engine,
    manifest: &Manifest,
    members: &Members,
) -> Result<(), StackError> {
    let replicas = manifest.services.iter().flat_map(|(name, service)| {
        let list = members.services.get(name).map_or(&[][..], Vec::as_slice);
        list.iter().map(move |c| (name, service, c))
    });
    let waits = replicas.filter_map(|(name, service, c)| {
        (listed_ready(c, service.ready.is_some()) != Some(true)).then_some(async move {
            let target = ready::Target {
                service: name,
                container: &c.id,
                ready: service.ready.as_deref(),
                timeout: Duration::from_secs(service.ready_timeout),
                restarts: ready::Restarts::Wait,
            };
            match ready::wait(engine, &target).await {
                Err(mut e) => {
                    if let StackError::NotReady { logs, .. } | StackError::Exited { logs, .. } =
                        &mut e
                    {
                        *logs = engine.last_log_lines(&c.id, FAILURE_LOG_LINES).await;
                    }
                    Err(e)
                }
                ok => ok,
            }
        })
    });
    let results = futures_util::future::join_all(waits).await;
    if results
        .iter()
        .any(|r| matches!(r, Err(StackError::Interrupted)))
    {
        return Err(StackError::Interrupted);
    }
    results.into_iter().collect()
}

/// Pin every service's image (writing the lock per `mode`) and make it available; what
/// each service with its own image runs.
pub async fn pinned_images(
    engine: &Engine,
    manifest: &Manifest,
    paths: &crate::image::StatePaths,
    mode: LockMode,
    events: &mut dyn Events,
) -> Result<BTreeMap<String, String>, StackError> {
    let mut cache = paths.stat_cache();
    let mut notes = Vec::new();
    let images = pin::ensure(engine, manifest, &paths.lock, mode, &mut cache, &mut notes).await;
    cache.save();
    for n in notes {
        events.info(&n);
    }
    images
}

/// Bring the services up to date: remove dropped ones, pin images, make the network, then
/// per dependency level create, recreate, start or restart (when unhealthy) what needs it
/// and wait until each is ready. A failing service is stopped and reported with its probe
/// output and logs; the others stay as they are. Each service runs as many replicas as
/// `counts` says (surplus ones go). Serialised per project.
pub async fn up(
    engine: &Engine,
    manifest: &Manifest,
    env: EnvImage<'_>,
    paths: &crate::image::StatePaths,
    mode: LockMode,
    counts: Counts,
    events: &mut dyn Events,
) -> Result<(), StackError> {
    let id = ProjectId::new(manifest);
    let want_counts = replicas::counts(manifest, &paths.dir, counts);
    for (name, service) in &manifest.services {
        replicas::refuse(name, service, want_counts[name])?;
    }
    let _lock = services_lock(&id).await?;
    let members = Members::list(engine, &id).await?;
    let dropped = members
        .services
        .iter()
        .filter(|(n, _)| !manifest.services.contains_key(*n));
    for (name, list) in dropped {
        for c in list {
            engine.remove_container(&c.id).await?;
            workspace::forget(&paths.dir, &c.id);
        }
        events.info(&format!(
            "removed service {name} (no longer in the manifest)"
        ));
    }
    if manifest.services.is_empty() {
        return Ok(());
    }
    let images = pinned_images(engine, manifest, paths, mode, events).await?;
    let want = desired(manifest, &images, env)?;
    ensure_network(engine, manifest).await?;
    for (name, list) in &members.services {
        if let Some(&count) = want_counts.get(name) {
            let scaled = (counts == Counts::Manifest)
                .then(|| replicas::scaled(&paths.dir, name))
                .flatten();
            let removed = remove_surplus(engine, list, count, &paths.dir).await?;
            if let Some(from) = scaled.filter(|&n| n != count) {
                events.info(&format!(
                    "service {name}: back to {count} replica{} as the manifest says \
                     (`devenv scale` had set {from})",
                    if count == 1 { "" } else { "s" }
                ));
            } else {
                for n in removed {
                    events.info(&format!(
                        "removed replica {n} of service {name} (the manifest asks for {count})"
                    ));
                }
            }
        }
    }
    for level in crate::manifest::start_levels(&manifest.services) {
        let work = level.iter().flat_map(|name| {
            let list = members.services.get(name).map_or(&[][..], Vec::as_slice);
            (1..=want_counts[name]).map(move |replica| {
                let existing = list.iter().find(|r| r.number == replica);
                (name, replica, existing.map(|r| &r.container))
            })
        });
        let work = work.map(|(name, replica, existing)| {
            ensure_member(
                engine,
                manifest,
                &id,
                Member {
                    name,
                    replica,
                    settings: &want[name],
                    existing,
                },
                env.image,
                &paths.dir,
            )
        });
        let results = futures_util::future::join_all(work).await;
        let mut failure = None;
        for (notes, result) in results {
            for n in notes {
                events.info(&n);
            }
            if let Err(e) = result {
                failure.get_or_insert(e);
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
    }
    if counts == Counts::Manifest {
        for name in manifest.services.keys() {
            replicas::forget_scale(&paths.dir, name);
        }
    }
    Ok(())
}

/// Per-project lock serialising changes to the services.
async fn services_lock(id: &ProjectId) -> Result<crate::image::NamedLock, StackError> {
    crate::image::NamedLock::acquire(&format!("{}-services", id.container_name))
        .await
        .map_err(|e| match e {
            crate::image::BuildError::Interrupted => StackError::Interrupted,
            e => StackError::Locking(e.to_string()),
        })
}

/// Remove the replicas of a service beyond `count`, highest first; returns their numbers.
async fn remove_surplus(
    engine: &Engine,
    list: &[Replica],
    count: u32,
    state_dir: &Path,
) -> Result<Vec<u32>, StackError> {
    let mut removed = Vec::new();
    for r in list.iter().rev().filter(|r| r.number > count) {
        engine.remove_container(&r.id).await?;
        workspace::forget(state_dir, &r.id);
        removed.push(r.number);
    }
    Ok(removed)
}

/// `devenv scale`: record each service's new count (it holds until the next `up`), remove
/// the replicas beyond it and create, start and wait for the missing ones from the settings
/// the manifest and the lock give (`env`: the environment image, when the lock says which).
/// Replicas that run are left as they are.
pub async fn scale(
    engine: &Engine,
    manifest: &Manifest,
    env: Option<EnvImage<'_>>,
    paths: &crate::image::StatePaths,
    counts: &BTreeMap<String, u32>,
    events: &mut dyn Events,
) -> Result<(), StackError> {
    for (name, &count) in counts {
        replicas::refuse(name, &manifest.services[name], count)?;
    }
    let id = ProjectId::new(manifest);
    let _lock = services_lock(&id).await?;
    let lock = crate::manifest::LockFile::read(&paths.lock).ok().flatten();
    let mut cache = paths.stat_cache();
    let images = locked_images(manifest, lock.as_ref(), &mut cache)?;
    cache.save();
    let want = match env {
        Some(env) => desired(manifest, &images, env)?,
        None => BTreeMap::new(),
    };
    let members = Members::list(engine, &id).await?;
    if let Some(name) = counts
        .iter()
        .find(|(n, &c)| c > 0 && (!want.contains_key(*n) || members.dev.is_none()))
        .map(|(n, _)| n)
    {
        return Err(StackError::NotUp {
            service: name.clone(),
        });
    }
    for (name, &count) in counts {
        replicas::record_scale(&paths.dir, name, count)?;
        let list = members.services.get(name).map_or(&[][..], Vec::as_slice);
        for n in remove_surplus(engine, list, count, &paths.dir).await? {
            events.info(&format!("removed replica {n} of service {name}"));
        }
        let missing = (1..=count).filter(|n| !list.iter().any(|r| r.number == *n));
        let work = missing.map(|replica| {
            ensure_member(
                engine,
                manifest,
                &id,
                Member {
                    name,
                    replica,
                    settings: &want[name],
                    existing: None,
                },
                env.map_or("", |e| e.image),
                &paths.dir,
            )
        });
        let results = futures_util::future::join_all(work).await;
        let mut failure = None;
        for (notes, result) in results {
            for n in notes {
                events.info(&n);
            }
            if let Err(e) = result {
                failure.get_or_insert(e);
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
    }
    Ok(())
}

/// One replica to make current: its service's name, its number (from 1), the settings it
/// should run with, its container.
struct Member<'a> {
    name: &'a str,
    replica: u32,
    settings: &'a ServiceSettings,
    existing: Option<&'a ContainerInfo>,
}

/// Make one member current, running and ready; its bind volumes on an engine that cannot
/// see this machine's files are brought up to date (through helpers from `env_image`)
/// before it starts. Returns progress lines (members of a level start concurrently, so
/// they are reported afterwards).
async fn ensure_member(
    engine: &Engine,
    manifest: &Manifest,
    id: &ProjectId,
    member: Member<'_>,
    env_image: &str,
    state_dir: &Path,
) -> (Vec<String>, Result<(), StackError>) {
    let Member {
        name,
        replica,
        settings,
        existing,
    } = member;
    let shown = replicas::member_name(name, replica);
    let mut notes = Vec::new();
    let result = async {
        let sync_binds = |cid: String, record: binds::Record| async move {
            let owner = binds::Owner {
                id: &cid,
                helper_image: env_image,
                direct: false,
            };
            binds::sync_binds(engine, manifest, &owner, &record, state_dir)
                .await
                .map_err(|e| StackError::BindSync {
                    service: name.to_owned(),
                    source: Box::new(e),
                })
        };
        // Whether devenv (re)starts it now: then a crash while starting fails at once and a
        // failure stops it again; a service that runs (or that the engine is restarting
        // after a crash) is only waited for.
        let (container, started) = match existing {
            Some(c) if settings.diff(&c.labels).is_empty() => {
                sync_binds(c.id.clone(), binds::of(&c.labels)).await?;
                let started = if !c.running() && c.state != "restarting" {
                    start::start(engine, manifest, (name, settings), &c.id).await?;
                    notes.push(format!("started service {shown}"));
                    true
                } else if c.unhealthy() {
                    restart_if_due(engine, &shown, settings, c, state_dir, &mut notes).await?
                } else {
                    false
                };
                (c.id.clone(), started)
            }
            other => {
                if let Some(c) = other {
                    let changes = settings.diff(&c.labels).join(", ");
                    notes.push(format!("recreating service {shown}: {changes}"));
                    engine.remove_container(&c.id).await?;
                    workspace::forget(state_dir, &c.id);
                }
                let placement = &manifest.services[name].placement;
                if replica == 1 && !placement.is_empty() {
                    notes.push(format!(
                        "service {name}: `placement` is for a swarm; one engine runs every \
                         replica, so it is ignored here"
                    ));
                }
                let (cid, record) = create(engine, manifest, id, name, replica, settings).await?;
                sync_binds(cid.clone(), record).await?;
                start::start(engine, manifest, (name, settings), &cid).await?;
                notes.push(format!("started service {shown}"));
                (cid, true)
            }
        };
        let target = ready::Target {
            service: name,
            container: &container,
            ready: settings.ready.as_deref(),
            timeout: Duration::from_secs(settings.ready_timeout),
            restarts: if started {
                ready::Restarts::Fail
            } else {
                ready::Restarts::Wait
            },
        };
        match ready::wait(engine, &target).await {
            Err(mut e) if !matches!(e, StackError::Interrupted) => {
                let tail = engine.last_log_lines(&container, FAILURE_LOG_LINES).await;
                if let StackError::NotReady { logs, .. } | StackError::Exited { logs, .. } = &mut e
                {
                    *logs = tail;
                }
                // Nothing half-started stays behind: stopped (kept for `devenv logs`), and
                // the next `up` starts it again. One that ran before is left running.
                if started {
                    let _ = engine.stop_container(&container, 2).await;
                }
                Err(e)
            }
            other => other,
        }
    }
    .await;
    // Every failure is kept for `status` (also one before the wait: a host port taken)
    // until the service is ready; an interrupted wait says nothing about the service.
    match &result {
        Ok(()) => {
            let _ = std::fs::remove_file(failure_file(state_dir, name));
            health::forget(state_dir, &shown);
        }
        Err(StackError::Interrupted) => {}
        Err(e) => record_failure(state_dir, name, e),
    }
    (notes, result)
}

/// An unhealthy service is restarted only when [`health`] says it is due; otherwise it is
/// waited for like a starting one (a slow recovery may end meanwhile). Whether it was
/// restarted.
async fn restart_if_due(
    engine: &Engine,
    name: &str,
    settings: &ServiceSettings,
    c: &ContainerInfo,
    state_dir: &Path,
    notes: &mut Vec<String>,
) -> Result<bool, StackError> {
    let streak = engine
        .member_state(&c.id)
        .await?
        .map_or(0, |s| s.failing_streak);
    let grace = Duration::from_secs(settings.ready_timeout);
    let verdict = health::judge(state_dir, name, grace, health::unhealthy_for(streak));
    if !verdict.restart_in.is_zero() {
        notes.push(format!(
            "service {name} is unhealthy ({}); waiting for it",
            unhealthy_note(&verdict)
        ));
        return Ok(false);
    }
    notes.push(format!(
        "restarting service {name}: unhealthy for {} s",
        verdict.unhealthy_for.as_secs()
    ));
    engine.restart_container(&c.id, 5).await?;
    health::record_restart(state_dir, name);
    Ok(true)
}

/// `unhealthy for 12 s, restart in 48 s`.
fn unhealthy_note(v: &health::Verdict) -> String {
    let mut s = format!(
        "unhealthy for {} s, devenv restarts it in {} s",
        v.unhealthy_for.as_secs(),
        v.restart_in.as_secs()
    );
    if v.restarts > 0 {
        let plural = if v.restarts == 1 { "" } else { "s" };
        s = format!("{s} ({} restart{plural} by devenv so far)", v.restarts);
    }
    s
}

/// Create the service's container (and its volumes); returns its id and, in volume mode,
/// the record of its bind volumes (also on the container's label).
async fn create(
    engine: &Engine,
    manifest: &Manifest,
    id: &ProjectId,
    name: &str,
    replica: u32,
    settings: &ServiceSettings,
) -> Result<(String, binds::Record), StackError> {
    let (mut spec, opts, volumes) = settings.container(manifest, id, name, replica);
    let mut record = binds::Record {
        image: String::new(), // helpers run from the environment image
        binds: settings.binds.clone(),
        nonces: BTreeMap::new(),
    };
    for (volume, labels) in volumes {
        let has = engine.ensure_volume(&volume, labels).await?;
        if let Some(nonce) = has.get(labels::NONCE) {
            record.nonces.insert(volume, nonce.clone());
        }
    }
    if !record.binds.is_empty() {
        spec.labels.insert(
            labels::BINDS.to_owned(),
            serde_json::to_string(&record).expect("bind record serialises"),
        );
    }
    let cid = create_container(engine, &spec, &opts).await?;
    Ok((cid, record))
}

async fn create_container(
    engine: &Engine,
    spec: &crate::engine::ContainerSpec,
    opts: &crate::engine::ServiceOptions,
) -> Result<String, StackError> {
    match engine.create_service_container(spec, opts).await {
        Ok(cid) => Ok(cid),
        // A container under the service's name that the project's list did not take for
        // it: replaced only if devenv made it.
        Err(EngineError::Conflict { .. }) => {
            let cname = spec.name.clone().unwrap_or_default();
            if !crate::ownership::made_by_devenv(engine, &cname, "service").await? {
                return Err(StackError::NameTaken { name: cname });
            }
            engine.remove_container(&cname).await?;
            Ok(engine.create_service_container(spec, opts).await?)
        }
        Err(e) => Err(e.into()),
    }
}

fn failure_file(state_dir: &Path, service: &str) -> PathBuf {
    state_dir
        .join("services")
        .join(format!("{service}.failure"))
}

/// The failure of the service's last start, kept until it starts and is ready.
pub fn last_failure(state_dir: &Path, service: &str) -> Option<String> {
    std::fs::read_to_string(failure_file(state_dir, service)).ok()
}

fn record_failure(state_dir: &Path, service: &str, e: &StackError) {
    let path = failure_file(state_dir, service);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(path, e.to_string());
}

/// Remove every service container and the project network; the dev container and volumes
/// are the environment's. Returns what was removed.
pub async fn remove_services(
    engine: &Engine,
    manifest: &Manifest,
    state_dir: &Path,
) -> Result<Vec<String>, StackError> {
    let id = ProjectId::new(manifest);
    let mut removed = Vec::new();
    let members = Members::list(engine, &id).await?;
    for c in members.services.values().flatten() {
        engine.remove_container(&c.id).await?;
        workspace::forget(state_dir, &c.id);
        removed.push(format!("container {}", c.name));
    }
    // A `devenv scale` count was for what ran: the next environment starts from the manifest.
    for name in members.services.keys().chain(manifest.services.keys()) {
        replicas::forget_scale(state_dir, name);
    }
    Ok(removed)
}

/// Remove the project network once nothing is attached (after the dev container).
pub async fn remove_network(
    engine: &Engine,
    manifest: &Manifest,
) -> Result<Option<String>, StackError> {
    let network = ProjectId::new(manifest).network();
    let removed = engine.remove_network(&network, labels::MANAGED).await?;
    Ok(removed.then(|| format!("network {network}")))
}

/// What `status` shows of one service.
#[derive(Debug, Serialize)]
pub struct ServiceStatus {
    pub id: Option<String>,
    pub name: Option<String>,
    pub image: Option<String>,
    /// `running`, `exited`, `restarting`, …; `missing` without a container.
    pub state: String,
    /// The engine's healthcheck: `starting`, `healthy`, `unhealthy`.
    pub health: Option<String>,
    /// `null` without a `ready` probe.
    pub ready: Option<bool>,
    pub restarts: i64,
    /// While the engine reports it unhealthy: for about how long, and in how many seconds
    /// devenv restarts it (after `ready_timeout`, with backoff; see `health`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unhealthy: Option<Unhealthy>,
    pub exit_code: Option<i64>,
    pub up_to_date: bool,
    pub changes: Vec<String>,
    /// Why devenv last failed to start it (or to see it ready), kept until it is ready.
    pub last_failure: Option<String>,
    /// How many replicas it should run: the manifest's, or the count `devenv scale` set.
    /// The fields above describe the first replica.
    pub replicas: u32,
    /// How many of them run and are ready.
    pub running: u32,
    /// Each replica (on a swarm: each current task).
    pub tasks: Vec<Task>,
}

/// One replica of a service as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Task {
    /// From 1 (on a swarm: the task's slot).
    pub replica: u32,
    /// The node that runs it (on one engine: the engine's host name).
    pub node: String,
    /// `running`, `exited`, `restarting`, … (on a swarm: the task's state).
    pub state: String,
    /// `null` without a `ready` probe.
    pub ready: Option<bool>,
    /// Its container's id, when it has one.
    pub container: Option<String>,
    pub restarts: i64,
    /// Why it is not running, when the engine says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// On a swarm: the nodes this replica ran on before, newest first, when it moved.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub moved_from: Vec<String>,
}

/// An unhealthy service as `status` shows it.
#[derive(Debug, Serialize)]
pub struct Unhealthy {
    pub seconds: u64,
    pub restart_in: u64,
    /// devenv's restarts of it since it was last ready.
    pub restarted: u32,
}

/// The state of every service in the manifest (and of leftovers of dropped ones).
pub async fn status(
    engine: &Engine,
    manifest: &Manifest,
    env: Option<EnvImage<'_>>,
    paths: &crate::image::StatePaths,
) -> Result<BTreeMap<String, ServiceStatus>, StackError> {
    let id = ProjectId::new(manifest);
    let members = Members::list(engine, &id).await?;
    let lock = crate::manifest::LockFile::read(&paths.lock).ok().flatten();
    let mut cache = paths.stat_cache();
    let images = locked_images(manifest, lock.as_ref(), &mut cache)?;
    cache.save();
    let want = match env {
        Some(env) => desired(manifest, &images, env)?,
        None => BTreeMap::new(),
    };
    let node = if members.services.is_empty() {
        String::new()
    } else {
        engine.info().await.map(|i| i.name).unwrap_or_default()
    };
    let counts = replicas::counts(manifest, &paths.dir, Counts::Scaled);
    let mut out = BTreeMap::new();
    for (name, service) in &manifest.services {
        let last_failure = std::fs::read_to_string(failure_file(&paths.dir, name)).ok();
        let list = members.services.get(name).map_or(&[][..], Vec::as_slice);
        let Some(c) = list.first() else {
            out.insert(
                name.clone(),
                ServiceStatus {
                    id: None,
                    name: None,
                    image: want.get(name).map(|s| s.image.clone()),
                    state: "missing".into(),
                    health: None,
                    ready: service.ready.as_ref().map(|_| false),
                    restarts: 0,
                    unhealthy: None,
                    exit_code: None,
                    up_to_date: false,
                    changes: vec!["not created".into()],
                    last_failure,
                    replicas: counts[name],
                    running: 0,
                    tasks: Vec::new(),
                },
            );
            continue;
        };
        let mut tasks = Vec::new();
        for r in list {
            let st = engine.member_state(&r.id).await?.unwrap_or_default();
            let ready = replica_ready(engine, service, &r.id, &st).await;
            tasks.push(Task {
                replica: r.number,
                node: node.clone(),
                state: st.status.clone(),
                ready,
                container: Some(r.id.clone()),
                restarts: st.restart_count,
                error: (!st.error.is_empty()).then(|| st.error.clone()),
                moved_from: Vec::new(),
            });
        }
        let running = tasks
            .iter()
            .filter(|t| t.state == "running" && t.ready != Some(false))
            .count();
        let changes = match want.get(name) {
            Some(s) => s.diff(&c.labels),
            None => vec!["image not pinned or environment not built".into()],
        };
        let st = engine.member_state(&c.id).await?.unwrap_or_default();
        let ready = tasks[0].ready;
        let unhealthy = (st.health.as_deref() == Some("unhealthy")).then(|| {
            let grace = Duration::from_secs(service.ready_timeout);
            let v = health::judge(
                &paths.dir,
                name,
                grace,
                health::unhealthy_for(st.failing_streak),
            );
            Unhealthy {
                seconds: v.unhealthy_for.as_secs(),
                restart_in: v.restart_in.as_secs(),
                restarted: v.restarts,
            }
        });
        let image = serde_json::from_str::<ServiceSettings>(
            c.labels.get(labels::SETTINGS).map_or("", String::as_str),
        )
        .map(|s| s.image)
        .ok();
        out.insert(
            name.clone(),
            ServiceStatus {
                id: Some(c.id.clone()),
                name: Some(c.name.clone()),
                image,
                exit_code: (st.status == "exited").then_some(st.exit_code),
                state: st.status,
                health: st.health,
                ready,
                restarts: st.restart_count,
                unhealthy,
                up_to_date: changes.is_empty(),
                changes,
                last_failure,
                replicas: counts[name],
                running: u32::try_from(running).unwrap_or(u32::MAX),
                tasks,
            },
        );
    }
    Ok(out)
}

/// Whether a replica is ready: `None` without a probe; the engine's healthcheck when it
/// has a verdict, else the probe run now.
async fn replica_ready(
    engine: &Engine,
    service: &crate::manifest::Service,
    container: &str,
    st: &crate::engine::MemberState,
) -> Option<bool> {
    match &service.ready {
        None => None,
        Some(_) if st.status != "running" => Some(false),
        Some(_) if st.health.as_deref() == Some("healthy") => Some(true),
        Some(_) if st.health.as_deref() == Some("unhealthy") => Some(false),
        Some(cmd) => Some(probe(engine, container, cmd, PROBE_LIMIT).await.code == 0),
    }
}

/// Restart the named services (all when `names` is empty) and wait until they are ready.
pub async fn restart(
    engine: &Engine,
    manifest: &Manifest,
    names: &[String],
    state_dir: &Path,
    events: &mut dyn Events,
) -> Result<(), StackError> {
    let known: Vec<String> = manifest.services.keys().cloned().collect();
    for n in names {
        if !manifest.services.contains_key(n) {
            return Err(StackError::UnknownService {
                name: n.clone(),
                known,
            });
        }
    }
    let id = ProjectId::new(manifest);
    let members = Members::list(engine, &id).await?;
    for level in crate::manifest::start_levels(&manifest.services) {
        for name in level {
            if !names.is_empty() && !names.contains(&name) {
                continue;
            }
            let list = members.services.get(&name).map_or(&[][..], Vec::as_slice);
            if list.is_empty() {
                events.info(&format!("service {name} is not created: run `devenv up`"));
                continue;
            }
            events.info(&format!("restarting service {name}"));
            let service = &manifest.services[&name];
            for c in list {
                engine.restart_container(&c.id, 5).await?;
                let target = ready::Target {
                    service: &name,
                    container: &c.id,
                    ready: service.ready.as_deref(),
                    timeout: Duration::from_secs(service.ready_timeout),
                    restarts: ready::Restarts::Fail,
                };
                if let Err(mut e) = ready::wait(engine, &target).await {
                    let tail = engine.last_log_lines(&c.id, FAILURE_LOG_LINES).await;
                    if let StackError::NotReady { logs, .. } | StackError::Exited { logs, .. } =
                        &mut e
                    {
                        *logs = tail;
                    }
                    if !matches!(e, StackError::Interrupted) {
                        record_failure(state_dir, &name, &e);
                    }
                    return Err(e);
                }
                health::forget(state_dir, &replicas::member_name(&name, c.number));
            }
            let _ = std::fs::remove_file(failure_file(state_dir, &name));
            events.restarted(&name);
        }
    }
    Ok(())
}

/// Restarts services the engine reports unhealthy, continuously (for `watch`), on the
/// schedule of [`health`] that `up` and `run` follow too: after the grace, with backoff.
#[derive(Debug, Default)]
pub struct Supervisor {}

/// How often `watch` looks at the services' health.
pub const SUPERVISE_EVERY: Duration = Duration::from_secs(1);

impl Supervisor {
    /// One round: one list call, and for each unhealthy service an inspect and a restart
    /// when one is due. Returns the services restarted.
    #[allow(clippy::unused_self)] // one value per `watch`, whatever it keeps
    pub async fn tick(
        &mut self,
        engine: &Engine,
        manifest: &Manifest,
        state_dir: &Path,
    ) -> Result<Vec<String>, StackError> {
        if manifest.services.is_empty() {
            return Ok(Vec::new());
        }
        let members = Members::list(engine, &ProjectId::new(manifest)).await?;
        let mut restarted = Vec::new();
        let all = members
            .services
            .iter()
            .flat_map(|(name, list)| list.iter().map(move |c| (name, c)));
        for (name, c) in all {
            let Some(service) = manifest.services.get(name) else {
                continue;
            };
            let shown = replicas::member_name(name, c.number);
            if !(c.running() && c.unhealthy()) {
                if c.status.contains("(healthy)") {
                    health::forget(state_dir, &shown);
                }
                continue;
            }
            let streak = engine
                .member_state(&c.id)
                .await?
                .map_or(0, |s| s.failing_streak);
            let grace = Duration::from_secs(service.ready_timeout);
            let verdict = health::judge(state_dir, &shown, grace, health::unhealthy_for(streak));
            if verdict.restart_in.is_zero() {
                engine.restart_container(&c.id, 5).await?;
                health::record_restart(state_dir, &shown);
                restarted.push(shown);
            }
        }
        Ok(restarted)
    }
}

#[cfg(test)]
mod tests {
    use super::listed_ready;
    use crate::engine::ContainerInfo;

    fn listed(state: &str, status: &str) -> ContainerInfo {
        ContainerInfo {
            id: "id".into(),
            name: "name".into(),
            state: state.into(),
            labels: std::collections::HashMap::new(),
            image_id: String::new(),
            status: status.into(),
        }
    }

    #[test]
    fn the_list_tells_ready_from_starting_and_restarting() {
        let healthy = listed("running", "Up 3 minutes (healthy)");
        assert_eq!(listed_ready(&healthy, true), Some(true));
        // Restarted by the engine after a crash: running again, probe not passed yet.
        let starting = listed("running", "Up 1 second (health: starting)");
        assert_eq!(listed_ready(&starting, true), Some(false));
        let restarting = listed("restarting", "Restarting (137) 1 second ago");
        assert_eq!(listed_ready(&restarting, true), Some(false));
        assert_eq!(listed_ready(&restarting, false), Some(false));
        let unhealthy = listed("running", "Up 2 minutes (unhealthy)");
        assert_eq!(listed_ready(&unhealthy, true), Some(false));
        // No probe: ready once it runs.
        assert_eq!(
            listed_ready(&listed("running", "Up 1 second"), false),
            Some(true)
        );
        // An engine that runs no healthchecks (Podman): devenv's own probe decides.
        assert_eq!(listed_ready(&listed("running", "Up 1 second"), true), None);
    }
}
