//! The services as Docker Swarm services, through a manager: `up` (create or update each
//! service in dependency order and wait until all its replicas run and are ready), the
//! warm path's check, `status` (each replica's node and state, moves and restarts, why a
//! pinned service is down), `scale`, `restart`, the replicas' logs and `down`.
//!
//! A project's services are found by their labels (the project's selector) and their names
//! (`ProjectId::service_container`), as its containers are: later commands know the project
//! runs on the swarm because the manager has such services.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::{images, spec, ClusterError};
use crate::engine::{
    labels, task_problem, Engine, NodeInfo, Replicas, ServiceInfo, SwarmStatus, TaskInfo,
};
use crate::image::{LockMode, StatePaths};
use crate::manifest::Manifest;
use crate::ownership::ProjectId;
use crate::session::Events;
use crate::stack::{self, EnvImage, ServiceSettings};

/// Log lines shown with a service that did not become ready.
const FAILURE_LOG_LINES: u64 = 20;
/// How often `up` looks at the tasks while it waits.
const POLL: Duration = Duration::from_millis(250);
/// Besides `ready_timeout`: the time nodes may take to pull an image.
const PULL_ALLOWANCE: Duration = Duration::from_secs(30);
/// A task held pending by the scheduler with a reason ("no suitable node") for this long
/// fails `up`: waiting longer changes nothing unless the cluster does.
const PENDING_LIMIT: Duration = Duration::from_secs(5);
/// Failed runs of one replica while `up` waits that make it a crash loop, not a start.
const CRASH_LOOP: usize = 3;

/// The engine's swarm state when it is a manager; otherwise why `--swarm` cannot be used.
pub async fn require_manager(engine: &Engine) -> Result<SwarmStatus, ClusterError> {
    let status = engine.swarm_status().await?;
    if status.is_manager() {
        return Ok(status);
    }
    let what = match status.state.as_str() {
        "inactive" => "not part of a swarm".to_owned(),
        "active" => "a worker of its swarm (only managers can create services)".to_owned(),
        other if status.error.is_empty() => format!("in swarm state `{other}`"),
        other => format!("in swarm state `{other}` ({})", status.error),
    };
    Err(ClusterError::NotManager {
        endpoint: engine.endpoint().to_owned(),
        what,
    })
}

/// Whether `up` runs the services on the swarm: asked (`DEVENV_SWARM=1`), or they run
/// there already.
pub async fn wanted(engine: &Engine, manifest: &Manifest) -> Result<bool, ClusterError> {
    if std::env::var("DEVENV_SWARM").is_ok_and(|v| v == "1") {
        return Ok(true);
    }
    if manifest.services.is_empty() {
        return Ok(false);
    }
    detect(engine, manifest).await
}

/// Whether the project's services run on the swarm of `engine`: it manages a swarm that
/// has services of this project. One `info` call on an engine that is no manager.
pub async fn detect(engine: &Engine, manifest: &Manifest) -> Result<bool, ClusterError> {
    if !engine.swarm_status().await?.is_manager() {
        return Ok(false);
    }
    let id = ProjectId::new(manifest);
    Ok(!owned(engine, &id).await?.is_empty())
}

/// The project's swarm services by manifest service name.
pub(super) async fn owned(
    engine: &Engine,
    id: &ProjectId,
) -> Result<BTreeMap<String, ServiceInfo>, ClusterError> {
    let list = engine.services(&id.role_selector("service")).await?;
    Ok(list
        .into_iter()
        .filter_map(|s| {
            let name = s.labels.get(labels::SERVICE)?.clone();
            (s.name == id.service_container(&name)).then_some((name, s))
        })
        .collect())
}

/// Make the project's attachable overlay network (the dev container joins it too).
pub async fn ensure_network(engine: &Engine, manifest: &Manifest) -> Result<(), ClusterError> {
    let id = ProjectId::new(manifest);
    engine
        .ensure_overlay_network(&id.network(), id.labels("network", None))
        .await?;
    Ok(())
}

/// What `up --swarm` checks before it makes anything, the dev container included: the
/// engine manages a swarm, and the images only this engine has (the environment image, a
/// `rootfs` base) can reach the other nodes. Registry and local images are checked again
/// once pinned.
pub async fn preflight(engine: &Engine, manifest: &Manifest) -> Result<(), ClusterError> {
    require_manager(engine).await?;
    let local: BTreeMap<String, String> = manifest
        .services
        .iter()
        .filter(|(_, s)| s.image.is_none())
        .map(|(n, _)| {
            (
                n.clone(),
                format!("{}:local", crate::image::base::ROOTFS_REPO),
            )
        })
        .collect();
    let registry = manifest.cache.as_ref().map(|c| c.registry.as_str());
    if registry.is_none() && !local.is_empty() {
        let nodes = engine.nodes().await?.len();
        images::plan(&local, registry, nodes)?;
    }
    Ok(())
}

/// One service's work in `up`.
struct Work {
    name: String,
    settings: ServiceSettings,
    existing: Option<ServiceInfo>,
    /// Create or update (else: current; at most scaled back).
    changes: Option<Vec<String>>,
}

/// Bring the services up to date on the swarm: remove dropped ones, pin the images, push
/// those only this engine has (refusing on a multi-node swarm without a registry before
/// anything is made), make the network, then per dependency level create or update what
/// changed and wait until every replica runs and is ready. `to_manifest`: a service scaled
/// by hand goes back to the manifest's count (`devenv up`), else keeps its own. Serialised
/// per project.
pub async fn up(
    engine: &Engine,
    manifest: &Manifest,
    env: EnvImage<'_>,
    paths: &StatePaths,
    mode: LockMode,
    to_manifest: bool,
    events: &mut dyn Events,
) -> Result<(), ClusterError> {
    let status = require_manager(engine).await?;
    let id = ProjectId::new(manifest);
    let _lock = crate::image::NamedLock::acquire(&format!("{}-services", id.container_name))
        .await
        .map_err(|e| match e {
            crate::image::BuildError::Interrupted => ClusterError::Interrupted,
            e => ClusterError::Stack(stack::StackError::Locking(e.to_string())),
        })?;
    let existing = owned(engine, &id).await?;
    for (name, s) in existing
        .iter()
        .filter(|(n, _)| !manifest.services.contains_key(*n))
    {
        engine.remove_service(&s.id).await?;
        events.info(&format!(
            "removed service {name} (no longer in the manifest)"
        ));
    }
    if manifest.services.is_empty() {
        return Ok(());
    }
    let nodes = engine.nodes().await?;
    let pinned = stack::pinned_images(engine, manifest, paths, mode, events).await?;
    let want = stack::desired(manifest, &pinned, env)?;
    let work: Vec<Work> = want
        .into_iter()
        .map(|(name, settings)| {
            let existing = existing.get(&name).cloned();
            let changes = match &existing {
                None => Some(Vec::new()),
                Some(s) => {
                    let mut c = settings.diff(&s.labels);
                    let deploy = spec::DeployRecord::of(&spec::deploy(&manifest.services[&name]));
                    if spec::DeployRecord::from_labels(&s.labels).as_ref() != Some(&deploy) {
                        c.push("deploy".into());
                    }
                    (!c.is_empty()).then_some(c)
                }
            };
            Work {
                name,
                settings,
                existing,
                changes,
            }
        })
        .collect();
    refuse_bind_volumes(manifest, &work)?;
    // Images first: a refusal leaves everything as it was.
    let to_push: BTreeMap<String, String> = work
        .iter()
        .filter(|w| w.changes.is_some())
        .map(|w| (w.name.clone(), w.settings.image.clone()))
        .collect();
    let registry = manifest.cache.as_ref().map(|c| c.registry.as_str());
    let plan = images::plan(&to_push, registry, nodes.len())?;
    let mut refs = match registry {
        Some(r) if !plan.is_empty() => {
            events.info(&format!("pushing images to {r} for the swarm's nodes"));
            images::publish(engine, r, &plan).await?
        }
        _ => BTreeMap::new(),
    };
    for (name, image) in &to_push {
        refs.entry(name.clone()).or_insert_with(|| image.clone());
    }
    ensure_network(engine, manifest).await?;
    let dev_node = nodes
        .iter()
        .find(|n| n.id == status.node_id)
        .cloned()
        .unwrap_or_else(|| NodeInfo {
            id: status.node_id.clone(),
            ..NodeInfo::default()
        });
    let mut pins: BTreeMap<String, usize> = BTreeMap::new();
    for s in existing.values() {
        if let Some(p) = spec::Pin::from_labels(&s.labels) {
            *pins.entry(p.node_id).or_default() += 1;
        }
    }
    let by_name: BTreeMap<&str, &Work> = work.iter().map(|w| (w.name.as_str(), w)).collect();
    for level in crate::manifest::start_levels(&manifest.services) {
        let mut waits = Vec::new();
        for name in &level {
            let Some(w) = by_name.get(name.as_str()) else {
                continue;
            };
            let ctx = Ctx {
                engine,
                manifest,
                id: &id,
                nodes: &nodes,
                dev_node: &dev_node,
                to_manifest,
            };
            let service = apply(&ctx, w, refs.get(&w.name), &mut pins, events).await?;
            waits.push((w.name.clone(), service, w.settings.ready_timeout));
        }
        let results =
            futures_util::future::join_all(waits.iter().map(|(name, service, timeout)| {
                wait_ready(engine, name, service, *timeout, &nodes)
            }))
            .await;
        for r in results {
            r?;
        }
    }
    Ok(())
}

struct Ctx<'a> {
    engine: &'a Engine,
    manifest: &'a Manifest,
    id: &'a ProjectId,
    nodes: &'a [NodeInfo],
    dev_node: &'a NodeInfo,
    to_manifest: bool,
}

/// Create, update or scale back one service; returns its swarm name.
async fn apply(
    ctx: &Ctx<'_>,
    w: &Work,
    image: Option<&String>,
    pins: &mut BTreeMap<String, usize>,
    events: &mut dyn Events,
) -> Result<String, ClusterError> {
    let service = &ctx.manifest.services[&w.name];
    let mut deploy = spec::deploy(service);
    let record = spec::DeployRecord::of(&deploy);
    let kept_count = w.existing.as_ref().and_then(|s| s.replicas);
    let Some(changes) = &w.changes else {
        let s = w.existing.as_ref().expect("a current service exists");
        if ctx.to_manifest && s.replicas != Some(deploy.replicas) {
            ctx.engine.scale_service(&s.id, deploy.replicas).await?;
            events.info(&format!(
                "service {}: back to the manifest's {} replicas (it had {})",
                w.name,
                deploy.replicas,
                s.replicas.unwrap_or_default()
            ));
        }
        return Ok(s.name.clone());
    };
    if let (false, Some(n)) = (ctx.to_manifest, kept_count) {
        deploy.replicas = n;
    }
    let (container, options, _) = w.settings.container(ctx.manifest, ctx.id, &w.name, 1);
    let kept = w
        .existing
        .as_ref()
        .and_then(|s| spec::Pin::from_labels(&s.labels));
    let (constraints, pin) =
        spec::placement(&container, &deploy.constraints, ctx.dev_node, kept, || {
            spec::choose_node(ctx.nodes, pins)
        });
    if let Some(p) = &pin {
        *pins.entry(p.node_id.clone()).or_default() += 1;
    }
    let deploy = crate::engine::Deploy {
        constraints,
        ..deploy
    };
    let image = image.cloned().unwrap_or_else(|| w.settings.image.clone());
    let s = spec::swarm_service(
        &w.name,
        container,
        options,
        &image,
        deploy,
        &record,
        pin.as_ref(),
        ctx.id.labels("volume", None),
    );
    let pinned = pin
        .map(|p| format!(" ({})", p.describe()))
        .unwrap_or_default();
    if w.existing.is_some() {
        ctx.engine.update_service(&s).await?;
        events.info(&format!(
            "updating swarm service {}: {}{pinned}",
            w.name,
            changes.join(", ")
        ));
    } else {
        ctx.engine.create_service(&s).await?;
        events.info(&format!("created swarm service {}{pinned}", w.name));
    }
    Ok(s.name)
}

/// Bind volumes are host paths of this machine: no other node has them.
fn refuse_bind_volumes(manifest: &Manifest, work: &[Work]) -> Result<(), ClusterError> {
    for w in work.iter().filter(|w| w.changes.is_some()) {
        let paths: Vec<String> = manifest.services[&w.name]
            .volumes
            .iter()
            .filter_map(|v| match v {
                crate::manifest::VolumeSpec::Bind { source, .. } => Some(source.clone()),
                crate::manifest::VolumeSpec::Named { .. } => None,
            })
            .collect();
        if !paths.is_empty() {
            return Err(ClusterError::BindVolumes {
                service: w.name.clone(),
                paths: paths.join(", "),
            });
        }
    }
    Ok(())
}

/// Wait until every replica of `service` runs and is ready; fail early on a crash loop or
/// on a task the scheduler cannot place, naming swarm's reason and the last log lines.
pub(super) async fn wait_ready(
    engine: &Engine,
    name: &str,
    service: &str,
    ready_timeout: u64,
    nodes: &[NodeInfo],
) -> Result<(), ClusterError> {
    let t0 = Instant::now();
    let started = now_rfc3339_floor();
    let limit = Duration::from_secs(ready_timeout) + PULL_ALLOWANCE;
    let mut pending_since: Option<Instant> = None;
    loop {
        let desired = engine
            .service(service)
            .await?
            .and_then(|s| s.replicas)
            .unwrap_or(0);
        let tasks = engine.tasks(service, nodes).await?;
        let r = Replicas::of(desired, &tasks);
        if r.complete() {
            return Ok(());
        }
        let recent: Vec<&TaskInfo> = tasks.iter().filter(|t| t.since >= started).collect();
        let crash_loop = recent
            .iter()
            .fold(BTreeMap::<i64, usize>::new(), |mut m, t| {
                if matches!(t.state.as_str(), "failed" | "rejected") {
                    *m.entry(t.slot).or_default() += 1;
                }
                m
            })
            .values()
            .any(|n| *n >= CRASH_LOOP);
        let stuck = r
            .current
            .iter()
            .any(|t| t.state == "pending" && !t.error.is_empty());
        pending_since = if stuck {
            pending_since.or(Some(Instant::now()))
        } else {
            None
        };
        let stuck_long = pending_since.is_some_and(|p| p.elapsed() >= PENDING_LIMIT);
        if crash_loop || stuck_long || t0.elapsed() >= limit {
            return Err(not_ready(engine, name, &r, &tasks, t0.elapsed()).await);
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = crate::cancel::cancelled() => return Err(ClusterError::Interrupted),
        }
    }
}

/// The error for a service that did not become ready: swarm's reason and the newest
/// replica's last lines.
async fn not_ready(
    engine: &Engine,
    name: &str,
    r: &Replicas,
    tasks: &[TaskInfo],
    waited: Duration,
) -> ClusterError {
    let problem = task_problem(tasks).unwrap_or_else(|| {
        let states: Vec<String> = r
            .current
            .iter()
            .map(|t| {
                let on = if t.node.is_empty() {
                    String::new()
                } else {
                    format!(" on {}", t.node)
                };
                format!("replica {}{on}: {}", t.slot, t.state)
            })
            .collect();
        if states.is_empty() {
            "no replica was scheduled".to_owned()
        } else {
            format!("{} (the `ready` probe has not passed)", states.join("; "))
        }
    });
    let newest = tasks
        .iter()
        .filter(|t| !t.container_id.is_empty())
        .max_by(|a, b| a.since.cmp(&b.since));
    let logs = match newest {
        Some(t) => engine.last_task_lines(&t.id, FAILURE_LOG_LINES).await,
        None => String::new(),
    };
    ClusterError::NotReady {
        service: name.to_owned(),
        running: r.running,
        desired: r.desired,
        seconds: waited.as_secs(),
        problem,
        logs,
    }
}

/// The current time as the engine writes task timestamps, less a second for clock skew
/// between this machine and the manager (only compared with task times, as strings).
fn now_rfc3339_floor() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .saturating_sub(1);
    rfc3339(secs)
}

/// `2026-01-02T03:04:05` (UTC) for unix seconds `secs`: no zone letter, so that an engine
/// time in the same second (`…:05.25Z`) compares greater as a string.
fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_the_engine_writes_them() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00");
        assert_eq!(rfc3339(1_798_761_600 + 3_723), "2027-01-01T01:02:03");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00");
        // Engine times carry fractions and a zone letter: the same second compares greater,
        // the second before less.
        let t = rfc3339(1_798_761_600 + 3_723);
        assert!("2027-01-01T01:02:03.5Z" > t.as_str());
        assert!("2027-01-01T01:02:03Z" > t.as_str());
        assert!("2027-01-01T01:02:02.9Z" < t.as_str());
    }
}
