//! The seam between the environment and what runs its services: [`Backend`].
//!
//! Every operation on the services as a set goes through here, so the commands and
//! [`Environment`](super::Environment) never name a backend's calls. `Containers` is plain
//! containers on the engine devenv talks to, local or remote (the difference, a bound or a
//! synced workspace, is the dev container's and is decided by `sync::workspace`): that is
//! `stack`. A cluster engine (Docker Swarm, on paper Kubernetes: docs/cluster.md) is another
//! variant whose arms call its own module, which returns the same types.

use std::collections::BTreeMap;
use std::path::Path;

use crate::cluster;
use crate::engine::{ContainerInfo, Engine, LogStream};
use crate::error::Result;
use crate::fingerprint::StatCache;
use crate::image::{LockMode, StatePaths};
use crate::manifest::{LockFile, Manifest};
use crate::stack::{self, Counts, EnvImage, Members, ServiceStatus};

use super::Events;

/// How the services run, as `status --json` names it (`mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Plain containers on one engine.
    Containers,
    /// Swarm services on a swarm manager.
    Swarm,
}

/// What runs the services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// One container per service replica on the engine devenv talks to (`stack`).
    Containers,
    /// One swarm service per service, through the swarm manager devenv talks to
    /// (`cluster::swarm`, `cluster::manage`).
    Swarm,
}

/// `DEVENV_SWARM=1`: `up` runs the services on the swarm, as `--swarm` does.
pub fn swarm_asked() -> bool {
    std::env::var("DEVENV_SWARM").is_ok_and(|v| v == "1")
}

/// One source of `devenv logs`: a name to prefix lines with and what to read.
#[derive(Debug, Clone)]
pub struct LogSource {
    /// `dev`, the service's name (with its replica when it has several).
    pub name: String,
    pub target: LogTarget,
}

/// What a log source reads.
#[derive(Debug, Clone)]
pub enum LogTarget {
    /// A container's logs, by id.
    Container(String),
    /// A swarm task's logs (read through the manager), by id.
    Task(String),
}

impl LogSource {
    pub fn container(name: &str, id: &str) -> LogSource {
        LogSource {
            name: name.to_owned(),
            target: LogTarget::Container(id.to_owned()),
        }
    }

    /// The source's output, as it arrives (`follow`) or up to now, from the last `tail`
    /// lines.
    pub fn stream(&self, engine: &Engine, follow: bool, tail: Option<u64>) -> LogStream {
        match &self.target {
            LogTarget::Container(id) => engine.container_logs(id, follow, tail),
            LogTarget::Task(id) => engine.task_logs(id, follow, tail),
        }
    }
}

impl Backend {
    /// The backend of the project's services. No engine call.
    pub fn detect(_engine: &Engine, _manifest: &Manifest) -> Backend {
        Backend::Containers
    }

    /// The backend of the project's services: the swarm when asked (the engine must
    /// manage one) or when the engine's swarm has the project's services; else plain
    /// containers. A project without services never asks the engine.
    pub async fn resolve(engine: &Engine, manifest: &Manifest, asked: bool) -> Result<Backend> {
        if asked {
            cluster::swarm::require_manager(engine).await?;
            return Ok(Backend::Swarm);
        }
        if !manifest.services.is_empty() && cluster::swarm::detect(engine, manifest).await? {
            return Ok(Backend::Swarm);
        }
        Ok(Backend::Containers)
    }

    pub fn mode(&self) -> Mode {
        match self {
            Backend::Containers => Mode::Containers,
            Backend::Swarm => Mode::Swarm,
        }
    }

    /// What must hold before `up` makes anything (on a swarm: a manager, and a way for the
    /// images only this engine has to reach the other nodes).
    pub async fn preflight(&self, engine: &Engine, manifest: &Manifest) -> Result<()> {
        match self {
            Backend::Containers => Ok(()),
            Backend::Swarm => Ok(cluster::swarm::preflight(engine, manifest).await?),
        }
    }

    /// What `up` says once per project about the backend: on a swarm manager without
    /// `--swarm`, that the services could run on the swarm.
    pub async fn note(&self, engine: &Engine, state_dir: &Path) -> Option<String> {
        let marker = state_dir.join("swarm-noted");
        if *self != Backend::Containers || marker.exists() {
            return None;
        }
        let manager = engine.swarm_status().await.ok()?.is_manager();
        if !manager {
            return None;
        }
        std::fs::create_dir_all(state_dir).ok()?;
        std::fs::write(&marker, b"").ok()?;
        Some(
            "this engine manages a Docker Swarm: `devenv up --swarm` (or DEVENV_SWARM=1) runs              the services as swarm services over its nodes; now they run as plain containers              here"
                .into(),
        )
    }

    /// Named volumes `down --volumes` cannot remove from here (on other nodes), each with
    /// its node and the command to run there.
    pub async fn volumes_elsewhere(
        &self,
        engine: &Engine,
        manifest: &Manifest,
    ) -> Result<Vec<String>> {
        match self {
            Backend::Containers => Ok(Vec::new()),
            Backend::Swarm => Ok(cluster::manage::volumes_elsewhere(engine, manifest).await?),
        }
    }

    /// Make the project network the dev container and the services join (when there are
    /// services).
    pub async fn ensure_network(&self, engine: &Engine, manifest: &Manifest) -> Result<()> {
        match self {
            Backend::Containers => Ok(stack::ensure_network(engine, manifest).await?),
            Backend::Swarm => Ok(cluster::swarm::ensure_network(engine, manifest).await?),
        }
    }

    /// Bring the services up to date (the network included), in dependency order, each
    /// ready before the next level starts, each with as many replicas as `counts` says;
    /// services no longer in the manifest go.
    #[allow(clippy::too_many_arguments)] // the seam passes each input on, named
    pub async fn up(
        &self,
        engine: &Engine,
        manifest: &Manifest,
        env: EnvImage<'_>,
        paths: &StatePaths,
        mode: LockMode,
        counts: Counts,
        events: &mut dyn Events,
    ) -> Result<()> {
        match self {
            Backend::Containers => {
                Ok(stack::up(engine, manifest, env, paths, mode, counts, events).await?)
            }
            // `up` goes back to the manifest's counts; `run`, `shell` and `watch` keep a
            // `devenv scale` count (the service's own).
            Backend::Swarm => Ok(cluster::swarm::up(
                engine,
                manifest,
                env,
                paths,
                mode,
                counts == Counts::Manifest,
                events,
            )
            .await?),
        }
    }

    /// The warm path: `Some(service containers whose bind volumes a remote engine syncs)`
    /// when every service runs, is current and ready (waiting for those only starting);
    /// `None` when `up` has work. `members` is the environment's one list call.
    pub async fn warm(
        &self,
        engine: &Engine,
        manifest: &Manifest,
        members: Members,
        paths: &StatePaths,
        env: EnvImage<'_>,
        counts: Counts,
    ) -> Result<Option<Vec<ContainerInfo>>> {
        match self {
            Backend::Containers => {
                if !manifest.services.is_empty() || !members.services.is_empty() {
                    let lock = LockFile::read(&paths.lock).ok().flatten();
                    let mut cache: StatCache = paths.stat_cache();
                    let counts = stack::replicas::counts(manifest, &paths.dir, counts);
                    let current = stack::all_current(
                        manifest,
                        &members,
                        &counts,
                        lock.as_ref(),
                        &mut cache,
                        env,
                    )?;
                    if !current {
                        return Ok(None);
                    }
                    // Current, but maybe not ready: starting, or restarted by the engine
                    // after a crash.
                    stack::wait_listed(engine, manifest, &members).await?;
                }
                if counts == Counts::Manifest {
                    // The manifest's counts run: a `devenv scale` count is spent.
                    for name in manifest.services.keys() {
                        stack::replicas::forget_scale(&paths.dir, name);
                    }
                }
                Ok(Some(members.service_containers()))
            }
            Backend::Swarm => {
                let to_manifest = counts == Counts::Manifest;
                let warm = cluster::manage::warm(engine, manifest, paths, env, to_manifest);
                Ok(warm.await?.then(Vec::new))
            }
        }
    }

    /// Remove every service (the dev container and the volumes are the environment's);
    /// returns what was removed.
    pub async fn remove(
        &self,
        engine: &Engine,
        manifest: &Manifest,
        state_dir: &Path,
    ) -> Result<Vec<String>> {
        match self {
            Backend::Containers => Ok(stack::remove_services(engine, manifest, state_dir).await?),
            Backend::Swarm => Ok(cluster::manage::remove(engine, manifest).await?),
        }
    }

    /// Remove the project network once nothing is attached.
    pub async fn remove_network(
        &self,
        engine: &Engine,
        manifest: &Manifest,
    ) -> Result<Option<String>> {
        match self {
            Backend::Containers => Ok(stack::remove_network(engine, manifest).await?),
            Backend::Swarm => Ok(cluster::manage::remove_network(engine, manifest).await?),
        }
    }

    /// The state of every service in the manifest (and of leftovers of dropped ones).
    pub async fn status(
        &self,
        engine: &Engine,
        manifest: &Manifest,
        env: Option<EnvImage<'_>>,
        paths: &StatePaths,
    ) -> Result<BTreeMap<String, ServiceStatus>> {
        match self {
            Backend::Containers => Ok(stack::status(engine, manifest, env, paths).await?),
            Backend::Swarm => {
                let view = cluster::manage::status(engine, manifest, env, paths).await?;
                Ok(cluster::manage::as_service_status(manifest, view.services))
            }
        }
    }

    /// Restart the named services (all when empty) and wait until they are ready.
    pub async fn restart(
        &self,
        engine: &Engine,
        manifest: &Manifest,
        names: &[String],
        state_dir: &Path,
        events: &mut dyn Events,
    ) -> Result<()> {
        match self {
            Backend::Containers => {
                Ok(stack::restart(engine, manifest, names, state_dir, events).await?)
            }
            Backend::Swarm => Ok(cluster::manage::restart(engine, manifest, names, events).await?),
        }
    }

    /// `devenv scale`: run `counts` replicas of the named services at once (waiting until
    /// the new ones are ready); the counts hold until the next `up` with [`Counts::Manifest`].
    pub async fn scale(
        &self,
        engine: &Engine,
        manifest: &Manifest,
        env: Option<EnvImage<'_>>,
        paths: &StatePaths,
        counts: &BTreeMap<String, u32>,
        events: &mut dyn Events,
    ) -> Result<()> {
        match self {
            Backend::Containers => {
                Ok(stack::scale(engine, manifest, env, paths, counts, events).await?)
            }
            Backend::Swarm => {
                let counts: Vec<(String, u64)> = counts
                    .iter()
                    .map(|(n, c)| (n.clone(), u64::from(*c)))
                    .collect();
                Ok(cluster::manage::scale(engine, manifest, &counts, events).await?)
            }
        }
    }

    /// The log sources of the named services (all when `names` is empty).
    pub async fn log_sources(
        &self,
        engine: &Engine,
        manifest: &Manifest,
        members: Members,
        names: &[String],
    ) -> Result<Vec<LogSource>> {
        match self {
            Backend::Containers => Ok(members
                .services
                .iter()
                .filter(|(name, _)| names.is_empty() || names.contains(name))
                .flat_map(|(name, list)| {
                    list.iter().map(|c| {
                        LogSource::container(&stack::replicas::member_name(name, c.number), &c.id)
                    })
                })
                .collect()),
            Backend::Swarm => Ok(cluster::manage::log_sources(engine, manifest, names)
                .await?
                .into_iter()
                .map(|t| LogSource {
                    name: t.name,
                    target: LogTarget::Task(t.task),
                })
                .collect()),
        }
    }
}
