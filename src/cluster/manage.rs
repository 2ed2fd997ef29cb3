//! The project's swarm services after `up`: their status (each replica's node and state,
//! restarts and moves, why a pinned service is down), `scale`, `restart`, the warm path's
//! check, the replicas' logs and `down`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::swarm::{owned, wait_ready};
use super::{spec, ClusterError};
use crate::engine::{labels, Engine, EngineError, NodeInfo, Replicas, TaskInfo};
use crate::image::StatePaths;
use crate::manifest::Manifest;
use crate::ownership::ProjectId;
use crate::session::Events;
use crate::stack::{self, EnvImage};

/// How long `down` waits for the network once the services are gone (their tasks leave it
/// as each node stops them).
const NETWORK_GRACE: Duration = Duration::from_secs(15);

/// The swarm as `status` shows it.
#[derive(Debug, Serialize)]
pub struct SwarmView {
    pub nodes: Vec<NodeInfo>,
    pub services: BTreeMap<String, ServiceView>,
}

/// One service on the swarm.
#[derive(Debug, Serialize)]
pub struct ServiceView {
    /// The swarm service's name (`None`: not created).
    pub name: Option<String>,
    pub image: Option<String>,
    /// Desired replicas.
    pub replicas: u64,
    /// Replicas running and ready.
    pub running: u64,
    /// The current task of each replica.
    pub tasks: Vec<TaskView>,
    /// `pinned to node2, which holds volume …`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<String>,
    /// Why it has no running replica when that is not swarm's doing to fix: the node it is
    /// pinned to is down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub down_because: Option<String>,
    /// Swarm's reason when not every replica runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    pub up_to_date: bool,
    pub changes: Vec<String>,
}

/// One replica.
#[derive(Debug, Serialize)]
pub struct TaskView {
    pub slot: i64,
    pub node: String,
    pub state: String,
    /// Earlier runs of this replica (restarts by swarm, moves).
    pub restarts: usize,
    /// The nodes it ran on before, newest first, when it moved.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub moved_from: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    pub since: String,
}

/// The state of every service in the manifest on the swarm.
pub async fn status(
    engine: &Engine,
    manifest: &Manifest,
    env: Option<EnvImage<'_>>,
    paths: &StatePaths,
) -> Result<SwarmView, ClusterError> {
    let id = ProjectId::new(manifest);
    let nodes = engine.nodes().await?;
    let services = owned(engine, &id).await?;
    let lock = crate::manifest::LockFile::read(&paths.lock).ok().flatten();
    let mut cache = paths.stat_cache();
    let images = stack::locked_images(manifest, lock.as_ref(), &mut cache)?;
    cache.save();
    let want = match env {
        Some(env) => stack::desired(manifest, &images, env)?,
        None => BTreeMap::new(),
    };
    let mut out = BTreeMap::new();
    for name in manifest.services.keys() {
        let Some(s) = services.get(name) else {
            out.insert(
                name.clone(),
                ServiceView {
                    name: None,
                    image: want.get(name).map(|s| s.image.clone()),
                    replicas: 0,
                    running: 0,
                    tasks: Vec::new(),
                    pinned: None,
                    down_because: None,
                    problem: None,
                    up_to_date: false,
                    changes: vec!["not created".into()],
                },
            );
            continue;
        };
        let tasks = engine.tasks(&s.id, &nodes).await?;
        let desired = s.replicas.unwrap_or_default();
        let r = Replicas::of(desired, &tasks);
        let pin = spec::Pin::from_labels(&s.labels);
        let down_because = pin.as_ref().and_then(|p| {
            let node = nodes.iter().find(|n| n.id == p.node_id);
            let state = node.map_or("gone from the swarm", |n| n.state.as_str());
            (r.running == 0 && desired > 0 && state != "ready")
                .then(|| down_because(&p.node, state, p))
        });
        let changes = match want.get(name) {
            Some(settings) => settings.diff(&s.labels),
            None => vec!["image not pinned or environment not built".into()],
        };
        let image = serde_json::from_str::<stack::ServiceSettings>(
            s.labels.get(labels::SETTINGS).map_or("", String::as_str),
        )
        .map(|st| st.image)
        .ok();
        out.insert(
            name.clone(),
            ServiceView {
                name: Some(s.name.clone()),
                image,
                replicas: desired,
                running: r.running,
                tasks: task_views(&r),
                pinned: pin.map(|p| p.describe()),
                down_because,
                problem: (!r.complete())
                    .then(|| crate::engine::task_problem(&tasks))
                    .flatten(),
                up_to_date: changes.is_empty(),
                changes,
            },
        );
    }
    Ok(SwarmView {
        nodes,
        services: out,
    })
}

/// The swarm's view of the services in the shape `status` shows for any backend: the
/// service-wide fields summarise the replicas, `tasks` has each one with its node.
pub fn as_service_status(
    manifest: &Manifest,
    views: BTreeMap<String, ServiceView>,
) -> BTreeMap<String, stack::ServiceStatus> {
    views
        .into_iter()
        .map(|(name, v)| {
            let probe = manifest
                .services
                .get(&name)
                .is_some_and(|s| s.ready.is_some());
            let state = if v.name.is_none() {
                "missing".to_owned()
            } else if v.replicas > 0 && v.running >= v.replicas {
                "running".to_owned()
            } else if v.running > 0 {
                "degraded".to_owned()
            } else if v.down_because.is_some() {
                "down".to_owned()
            } else {
                v.tasks
                    .first()
                    .map_or_else(|| "no replicas".to_owned(), |t| t.state.clone())
            };
            let tasks: Vec<stack::Task> = v
                .tasks
                .iter()
                .map(|t| stack::Task {
                    replica: u32::try_from(t.slot).unwrap_or_default(),
                    node: t.node.clone(),
                    state: t.state.clone(),
                    ready: probe.then_some(t.state == "running"),
                    container: None,
                    restarts: i64::try_from(t.restarts).unwrap_or_default(),
                    error: (!t.error.is_empty()).then(|| t.error.clone()),
                    moved_from: t.moved_from.clone(),
                })
                .collect();
            let status = stack::ServiceStatus {
                id: None,
                name: v.name,
                image: v.image,
                ready: probe.then_some(v.replicas > 0 && v.running >= v.replicas),
                state,
                health: None,
                restarts: tasks.iter().map(|t| t.restarts).sum(),
                unhealthy: None,
                exit_code: None,
                up_to_date: v.up_to_date,
                changes: v.changes,
                last_failure: v.down_because.or(v.problem),
                replicas: u32::try_from(v.replicas).unwrap_or(u32::MAX),
                running: u32::try_from(v.running).unwrap_or(u32::MAX),
                tasks,
            };
            (name, status)
        })
        .collect()
}

/// Why a pinned service does not run while its node is not ready.
fn down_because(node: &str, state: &str, p: &spec::Pin) -> String {
    format!(
        "its node {node} is {state}, and it stays {}: devenv does not start it elsewhere \
         without its data",
        p.describe()
    )
}

fn task_views(r: &Replicas) -> Vec<TaskView> {
    r.current
        .iter()
        .map(|t: &TaskInfo| TaskView {
            slot: t.slot,
            node: t.node.clone(),
            state: t.state.clone(),
            restarts: r.restarts.get(&t.slot).copied().unwrap_or(0),
            moved_from: r.moved_from.get(&t.slot).cloned().unwrap_or_default(),
            error: t.error.clone(),
            since: t.since.clone(),
        })
        .collect()
}

/// The swarm names of the named services (all when `names` is empty), refusing unknown
/// names.
async fn select(
    engine: &Engine,
    manifest: &Manifest,
    names: &[String],
) -> Result<Vec<(String, String)>, ClusterError> {
    let id = ProjectId::new(manifest);
    let services = owned(engine, &id).await?;
    let mut out = Vec::new();
    for name in names {
        if !manifest.services.contains_key(name) && !services.contains_key(name) {
            return Err(ClusterError::UnknownService {
                name: name.clone(),
                known: manifest.services.keys().cloned().collect(),
            });
        }
    }
    for (name, s) in services {
        if names.is_empty() || names.contains(&name) {
            out.push((name, s.name));
        }
    }
    Ok(out)
}

/// Set the replica counts (`web=5`), then wait until each service has them running and
/// ready.
pub async fn scale(
    engine: &Engine,
    manifest: &Manifest,
    counts: &[(String, u64)],
    events: &mut dyn Events,
) -> Result<(), ClusterError> {
    let names: Vec<String> = counts.iter().map(|(n, _)| n.clone()).collect();
    let found = select(engine, manifest, &names).await?;
    let nodes = engine.nodes().await?;
    let mut waits = Vec::new();
    for (name, count) in counts {
        let Some((_, service)) = found.iter().find(|(n, _)| n == name) else {
            return Err(ClusterError::NotCreated { name: name.clone() });
        };
        engine.scale_service(service, *count).await?;
        events.info(&format!("service {name}: {count} replicas"));
        let timeout = manifest.services.get(name).map_or(60, |s| s.ready_timeout);
        waits.push((name, service, timeout));
    }
    let results = futures_util::future::join_all(
        waits
            .iter()
            .map(|(name, service, t)| wait_ready(engine, name, service, *t, &nodes)),
    )
    .await;
    results.into_iter().collect()
}

/// Replace every replica of the named services (all when empty) and wait until they are
/// ready again.
pub async fn restart(
    engine: &Engine,
    manifest: &Manifest,
    names: &[String],
    events: &mut dyn Events,
) -> Result<(), ClusterError> {
    let found = select(engine, manifest, names).await?;
    let nodes = engine.nodes().await?;
    for (name, service) in &found {
        engine.force_update_service(service).await?;
        events.info(&format!("restarting swarm service {name}"));
    }
    let results = futures_util::future::join_all(found.iter().map(|(name, service)| {
        let t = manifest.services.get(name).map_or(60, |s| s.ready_timeout);
        wait_ready(engine, name, service, t, &nodes)
    }))
    .await;
    results.into_iter().collect()
}

/// The warm path on a swarm: every service exists and is current, and has at least one
/// replica running and ready (waiting, up to its `ready_timeout`, for one that is being
/// replaced: right after a node died, say). `false`: `up` has work. A service scaled by
/// hand stays as it is unless `to_manifest` (`devenv up`, which brings it back).
pub async fn warm(
    engine: &Engine,
    manifest: &Manifest,
    paths: &StatePaths,
    env: EnvImage<'_>,
    to_manifest: bool,
) -> Result<bool, ClusterError> {
    let id = ProjectId::new(manifest);
    let services = owned(engine, &id).await?;
    if services.keys().any(|k| !manifest.services.contains_key(k)) {
        return Ok(false);
    }
    let lock = crate::manifest::LockFile::read(&paths.lock).ok().flatten();
    let mut cache = paths.stat_cache();
    let images = stack::locked_images(manifest, lock.as_ref(), &mut cache)?;
    let want = stack::desired(manifest, &images, env)?;
    if want.len() != manifest.services.len() {
        return Ok(false);
    }
    for (name, settings) in &want {
        let Some(s) = services.get(name) else {
            return Ok(false);
        };
        let wanted = spec::deploy(&manifest.services[name]);
        if to_manifest && s.replicas != Some(wanted.replicas) {
            return Ok(false);
        }
        let deploy = spec::DeployRecord::of(&wanted);
        if !settings.diff(&s.labels).is_empty()
            || spec::DeployRecord::from_labels(&s.labels).as_ref() != Some(&deploy)
        {
            return Ok(false);
        }
    }
    let nodes = engine.nodes().await?;
    let waits = services.iter().map(|(name, s)| {
        let timeout = Duration::from_secs(manifest.services[name].ready_timeout);
        let pin = spec::Pin::from_labels(&s.labels);
        one_running(engine, name, &s.id, timeout, &nodes, pin)
    });
    for r in futures_util::future::join_all(waits).await {
        r?;
    }
    Ok(true)
}

/// Wait until service `id` has a replica running and ready (when it wants any).
async fn one_running(
    engine: &Engine,
    name: &str,
    id: &str,
    limit: Duration,
    nodes: &[NodeInfo],
    pin: Option<spec::Pin>,
) -> Result<(), ClusterError> {
    let t0 = Instant::now();
    loop {
        let desired = engine
            .service(id)
            .await?
            .and_then(|s| s.replicas)
            .unwrap_or(0);
        let tasks = engine.tasks(id, nodes).await?;
        let r = Replicas::of(desired, &tasks);
        if desired == 0 || r.running > 0 {
            return Ok(());
        }
        // Pinned to a node that is down: nothing comes back until the node does.
        if let Some(p) = &pin {
            let now = engine.nodes().await?;
            let state = now
                .iter()
                .find(|n| n.id == p.node_id)
                .map_or("gone from the swarm", |n| n.state.as_str());
            if state != "ready" {
                return Err(ClusterError::NodeDown {
                    service: name.to_owned(),
                    why: down_because(&p.node, state, p),
                });
            }
        }
        if t0.elapsed() >= limit {
            let problem = crate::engine::task_problem(&tasks)
                .unwrap_or_else(|| "no replica is running".to_owned());
            return Err(ClusterError::NotReady {
                service: name.to_owned(),
                running: 0,
                desired,
                seconds: t0.elapsed().as_secs(),
                problem,
                logs: String::new(),
            });
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
            () = crate::cancel::cancelled() => return Err(ClusterError::Interrupted),
        }
    }
}

/// A replica whose output `logs` reads: `web.2@node3` and its task.
#[derive(Debug, Clone)]
pub struct TaskSource {
    pub name: String,
    pub task: String,
}

/// The current replicas of the named services (all when empty), by service and slot.
pub async fn log_sources(
    engine: &Engine,
    manifest: &Manifest,
    names: &[String],
) -> Result<Vec<TaskSource>, ClusterError> {
    let found = select(engine, manifest, names).await?;
    let nodes = engine.nodes().await?;
    let mut out = Vec::new();
    for (name, service) in found {
        let tasks = engine.tasks(&service, &nodes).await?;
        let desired = engine
            .service(&service)
            .await?
            .and_then(|s| s.replicas)
            .unwrap_or(0);
        let r = Replicas::of(desired, &tasks);
        let several = r.current.len() > 1;
        for t in &r.current {
            let label = if several {
                format!("{name}.{}@{}", t.slot, t.node)
            } else {
                format!("{name}@{}", t.node)
            };
            out.push(TaskSource {
                name: label,
                task: t.id.clone(),
            });
        }
    }
    Ok(out)
}

/// Remove every service of the project (their tasks stop on every node) and, once nothing
/// is attached, the overlay network (after the dev container is gone: `remove_network`).
/// Returns what was removed.
pub async fn remove(engine: &Engine, manifest: &Manifest) -> Result<Vec<String>, ClusterError> {
    let id = ProjectId::new(manifest);
    let mut removed = Vec::new();
    let mut gone = Vec::new();
    for (_, s) in owned(engine, &id).await? {
        if engine.remove_service(&s.id).await? {
            removed.push(format!("swarm service {}", s.name));
            gone.push(format!("{}.", s.name));
        }
    }
    // Each node removes the replicas' containers by itself, a moment later; those on this
    // engine are waited for, so that the dev container's workspace volume and the network
    // are free to go.
    let t0 = Instant::now();
    while !gone.is_empty() && t0.elapsed() < NETWORK_GRACE {
        let left = engine.list_containers(&id.role_selector("service")).await?;
        if !left
            .iter()
            .any(|c| gone.iter().any(|g| c.name.starts_with(g.as_str())))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(removed)
}

/// Remove the overlay network, waiting while the nodes still detach the removed services'
/// tasks from it.
pub async fn remove_network(
    engine: &Engine,
    manifest: &Manifest,
) -> Result<Option<String>, ClusterError> {
    let network = ProjectId::new(manifest).network();
    let t0 = Instant::now();
    loop {
        match engine.remove_network(&network, labels::MANAGED).await {
            Ok(removed) => {
                // Gone from the manager's view before the next `up` makes it again under
                // the same name (a lingering one would be taken for the new one).
                while removed
                    && t0.elapsed() < NETWORK_GRACE
                    && engine.network_exists(&network).await?
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                return Ok(removed.then(|| format!("network {network}")));
            }
            Err(EngineError::InUse { .. }) if t0.elapsed() < NETWORK_GRACE => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// What `down --volumes` cannot remove through the manager: named volumes on other nodes
/// (a swarm has no API for another node's volumes). Each entry names the volume, its node
/// and the command to run there.
pub async fn volumes_elsewhere(
    engine: &Engine,
    manifest: &Manifest,
) -> Result<Vec<String>, ClusterError> {
    let id = ProjectId::new(manifest);
    let status = engine.swarm_status().await?;
    let mut left = Vec::new();
    for (_, s) in owned(engine, &id).await? {
        let Some(pin) = spec::Pin::from_labels(&s.labels) else {
            continue;
        };
        if pin.node_id == status.node_id {
            continue;
        }
        if let spec::PinReason::Volumes { volumes } = &pin.why {
            for v in volumes {
                left.push(format!(
                    "volume {v} on {} (`docker volume rm {v}` there)",
                    pin.node
                ));
            }
        }
    }
    Ok(left)
}
