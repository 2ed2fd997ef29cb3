//! The environment: one set of members on one engine — the dev container and the
//! `[services]` — and the one module the commands talk to about the set as a whole (`up`,
//! the warm path, `down`, `status`, `restart`, the members' logs).
//!
//! The dev container is a member with concerns of its own, which stay with it in `session`:
//! its workspace (bound, or synced on a remote engine), its user, its hooks and the execs
//! into it. It is a plain container on the engine devenv talks to in every mode. Where and
//! how the services run is behind [`Backend`] (`backend.rs`): plain containers on that
//! engine, local or remote (`stack`), or a cluster engine. The trip through `up` goes down
//! from here: this module decides the order (network, dev container, services, hooks) and
//! calls `session` and the backend; neither calls back up, nor each other.

mod backend;

use std::collections::BTreeMap;

pub use crate::stack::{Counts, EnvImage};
pub use backend::{Backend, LogSource, Mode};

use crate::engine::{ContainerInfo, Engine, EngineError};
use crate::error::Result;
use crate::image::{self, LockMode};
use crate::ownership::ProjectId;
use crate::project::Project;
use crate::session::{self, RuntimeSettings, SessionError, StalePolicy, Workspace};
use crate::stack::{self, ServiceStatus};

/// Progress lines from the set's operations (the CLI renders them).
pub trait Events {
    fn info(&mut self, message: &str);
    /// Output of a hook, streamed.
    fn hook_output(&mut self, chunk: &[u8]);
    /// A service was restarted and is ready again (`devenv restart`).
    fn restarted(&mut self, _service: &str) {}
}

/// One project's environment on one engine.
pub struct Environment<'a> {
    engine: &'a Engine,
    project: &'a Project,
    /// Decided on first use ([`Backend::resolve`]); the containers warm path never asks.
    backend: std::sync::OnceLock<Backend>,
    /// `up --swarm` or `DEVENV_SWARM=1`.
    swarm: bool,
}

impl<'a> Environment<'a> {
    /// The project's environment on `engine`, with the backend that runs its services.
    /// Makes no engine call: the warm path stays at one list call.
    pub fn new(engine: &'a Engine, project: &'a Project) -> Environment<'a> {
        Environment {
            engine,
            project,
            backend: std::sync::OnceLock::new(),
            swarm: backend::swarm_asked(),
        }
    }

    /// Run the services on the engine's swarm (`up --swarm`); the engine must manage one.
    #[must_use]
    pub fn with_swarm(mut self, asked: bool) -> Environment<'a> {
        self.swarm |= asked;
        self
    }

    /// What must hold before `up` builds or makes anything for its backend (on a swarm: a
    /// manager, and a registry when images only this engine has must reach other nodes).
    pub async fn preflight(&self) -> Result<()> {
        let m = &self.project.manifest;
        self.resolved().await?.preflight(self.engine, m).await
    }

    /// The backend, once decided (plain containers before).
    pub fn backend(&self) -> &Backend {
        self.backend.get().unwrap_or(&Backend::Containers)
    }

    /// The backend of the project's services: asked for, or found on the engine.
    async fn resolved(&self) -> Result<&Backend> {
        if let Some(b) = self.backend.get() {
            return Ok(b);
        }
        let b = Backend::resolve(self.engine, &self.project.manifest, self.swarm).await?;
        Ok(self.backend.get_or_init(|| b))
    }

    pub fn engine(&self) -> &'a Engine {
        self.engine
    }

    fn id(&self) -> ProjectId {
        ProjectId::new(&self.project.manifest)
    }

    /// The dev container and the service containers, from one list call.
    pub async fn members(&self) -> Result<stack::Members> {
        Ok(stack::Members::list(self.engine, &self.id()).await?)
    }

    /// Bring the whole set up from a built image: the services in dependency order and
    /// ready, the dev container (started, its user set up, on a remote engine its workspace
    /// synced), then the hooks, which can use the services. On an engine that cannot see
    /// this machine's files, services that run from the environment image share the dev
    /// container's synced workspace, so there the dev container comes first. `counts`:
    /// whether a `devenv scale` count holds, or the manifest's replicas (`devenv up`).
    pub async fn up(
        &self,
        built: &image::Built,
        policy: StalePolicy,
        mode: LockMode,
        counts: Counts,
        events: &mut dyn Events,
    ) -> Result<session::Running> {
        let (engine, m) = (self.engine, &self.project.manifest);
        let state_dir = &self.project.paths.dir;
        let settings =
            RuntimeSettings::new(m, &built.image, &built.hash)?.built_for(m, &built.platform);
        let workspace = if m.services.is_empty() {
            Workspace::Bind // decided, if need be, when the container is made
        } else {
            session::workspace_mode(engine, m, &built.image, state_dir).await?
        };
        let env = EnvImage {
            image: &built.image,
            hash: &built.hash,
            workspace,
        };
        let shares_workspace = workspace == Workspace::Volume
            && m.services
                .values()
                .any(crate::manifest::Service::uses_environment_image);
        let backend = self.resolved().await?;
        if let Some(note) = backend.note(engine, &self.project.paths.dir).await {
            events.info(&note);
        }
        // On a swarm the dev container comes first too: it is on the engine devenv talks
        // to, and services from the environment image are pinned with its workspace.
        let first = shares_workspace || backend.mode() == Mode::Swarm;
        let running = if first {
            backend.ensure_network(engine, m).await?;
            let running =
                session::ensure_started(engine, m, &settings, policy, state_dir, events).await?;
            backend
                .up(engine, m, env, &self.project.paths, mode, counts, events)
                .await?;
            running
        } else {
            backend
                .up(engine, m, env, &self.project.paths, mode, counts, events)
                .await?;
            session::ensure_started(engine, m, &settings, policy, state_dir, events).await?
        };
        session::run_hooks(engine, m, &settings, &running, state_dir, events).await?;
        Ok(running)
    }

    /// The warm path: the running, current dev container when nothing needs doing
    /// (computed without building; services only starting are waited for), its workspace
    /// and the bind volumes of it and its services brought up to date on an engine that
    /// cannot see this machine's files (`prescan`: a scan started earlier). `None`: `up`
    /// has work.
    pub async fn ready(
        &self,
        counts: Counts,
        prescan: Option<session::Prescan>,
    ) -> Result<Option<ContainerInfo>> {
        let Some((c, services)) = self.warm(counts).await? else {
            return Ok(None);
        };
        let (m, dir) = (&self.project.manifest, &self.project.paths.dir);
        session::sync_if_remote(self.engine, m, &c, &services, dir, prescan).await?;
        Ok(Some(c))
    }

    /// [`Environment::ready`]'s check: the dev container and the service containers whose
    /// bind volumes a remote engine syncs.
    async fn warm(&self, counts: Counts) -> Result<Option<(ContainerInfo, Vec<ContainerInfo>)>> {
        let (m, paths) = (&self.project.manifest, &self.project.paths);
        // One list call finds the dev container and the services.
        let members = self.members().await?;
        let Some(c) = members.dev.clone() else {
            return Ok(None);
        };
        // The platform is part of the hash: the requested one, else the engine's as the dev
        // container records it (asking the engine only when it does not).
        let platform = match RuntimeSettings::recorded_engine_platform(&c.labels) {
            Some(p) if m.base.platform.is_none() => p,
            _ => image::base::target_platform(self.engine, m).await?,
        };
        let Some(plan) = image::current_plan(m, paths, Some(&platform))? else {
            return Ok(None);
        };
        let hash = plan.hash();
        let image = image::image_name(m, hash);
        let settings = RuntimeSettings::new(m, &image, hash)?.built_for(m, &platform);
        let ready = c.running()
            && settings.diff(&c.labels).is_empty()
            && session::hooks_done(m, &paths.dir, &c.id);
        if !ready {
            return Ok(None);
        }
        let env = EnvImage {
            image: &image,
            hash,
            workspace: Workspace::of(&c.labels),
        };
        // Plain containers unless asked: a project whose service containers run needs no
        // more than the one list call; one without asks the engine whether it is a swarm's.
        let backend = if self.swarm || (members.services.is_empty() && !m.services.is_empty()) {
            self.resolved().await?
        } else {
            self.backend.get_or_init(|| Backend::Containers)
        };
        let services = backend
            .warm(self.engine, m, members, paths, env, counts)
            .await?;
        Ok(services.map(|s| (c, s)))
    }

    /// Remove the set: services first (their volumes can only go once no container uses
    /// them), then the dev container, the network nothing is attached to any more, and with
    /// `volumes` last the named volumes. Each removal is passed to `say` as it is done, so
    /// a failure part-way still reports what went; `warn` gets an error that a later one
    /// replaces. Whether anything was removed.
    pub async fn down(
        &self,
        volumes: bool,
        say: &mut dyn FnMut(Vec<String>) -> bool,
        warn: &mut dyn FnMut(&str),
    ) -> Result<bool> {
        let (engine, m) = (self.engine, &self.project.manifest);
        let state_dir = &self.project.paths.dir;
        let backend = self.resolved().await?;
        let left = if volumes {
            backend.volumes_elsewhere(engine, m).await?
        } else {
            Vec::new()
        };
        let mut any = say(backend.remove(engine, m, state_dir).await?);
        any |= say(session::down(engine, m, false, state_dir).await?);
        // A network another container is attached to stays; the volumes still go, then its
        // error is the command's.
        let network = backend.remove_network(engine, m).await;
        if let Ok(removed) = &network {
            any |= say(removed.iter().cloned().collect());
        }
        if volumes {
            match session::down(engine, m, true, state_dir).await {
                Ok(removed) => any |= say(removed),
                Err(SessionError::Engine(EngineError::VolumesLeft { removed, left })) => {
                    say(removed.iter().map(|v| format!("volume {v}")).collect());
                    if let Err(e) = &network {
                        warn(&e.to_string());
                    }
                    return Err(EngineError::VolumesLeft { removed, left }.into());
                }
                Err(e) => return Err(e.into()),
            }
            if !left.is_empty() {
                return Err(crate::cluster::ClusterError::VolumesElsewhere { left }.into());
            }
        }
        network?;
        Ok(any)
    }

    /// The state of every service in the manifest (and of leftovers of dropped ones);
    /// `env` is the environment image when the lock says which it is.
    pub async fn services_status(
        &self,
        env: Option<EnvImage<'_>>,
    ) -> Result<BTreeMap<String, ServiceStatus>> {
        let m = &self.project.manifest;
        self.resolved()
            .await?
            .status(self.engine, m, env, &self.project.paths)
            .await
    }

    /// Restart the named services (all when `names` is empty) and wait until they are
    /// ready.
    pub async fn restart(&self, names: &[String], events: &mut dyn Events) -> Result<()> {
        let m = &self.project.manifest;
        self.resolved()
            .await?
            .restart(self.engine, m, names, &self.project.paths.dir, events)
            .await
    }

    /// `devenv scale`: run `counts` replicas of the named services, at once; new replicas
    /// are made from what the manifest and the lock say (the environment image for services
    /// without their own).
    pub async fn scale(
        &self,
        counts: &BTreeMap<String, u32>,
        events: &mut dyn Events,
    ) -> Result<()> {
        let (m, paths) = (&self.project.manifest, &self.project.paths);
        let platform = image::base::target_platform(self.engine, m).await?;
        let hash = image::current_plan(m, paths, Some(&platform))?.map(|p| p.hash().to_owned());
        let image = hash.as_deref().map(|h| image::image_name(m, h));
        let dev = session::find(self.engine, &self.id()).await?;
        let workspace = dev.map_or(Workspace::Bind, |c| Workspace::of(&c.labels));
        let env = match (&hash, &image) {
            (Some(hash), Some(image)) => Some(EnvImage {
                image,
                hash,
                workspace,
            }),
            _ => None,
        };
        self.resolved()
            .await?
            .scale(self.engine, m, env, paths, counts, events)
            .await
    }

    /// What `logs` reads for the named sources (all when `names` is empty); the dev
    /// container is named `dev` unless a service is.
    pub async fn log_sources(&self, names: &[String]) -> Result<Vec<LogSource>> {
        let m = &self.project.manifest;
        let members = self.members().await?;
        let all = names.is_empty();
        let mut out = Vec::new();
        if let Some(dev) = &members.dev {
            let dev_named = names
                .iter()
                .any(|s| s == DEV && !m.services.contains_key(DEV));
            if all || dev_named {
                out.push(LogSource::container(DEV, &dev.id));
            }
        }
        out.extend(
            self.resolved()
                .await?
                .log_sources(self.engine, m, members, names)
                .await?,
        );
        Ok(out)
    }
}

/// The dev container's name as a log source.
pub const DEV: &str = "dev";
