//! `devenv status [--json]`: the image hash, whether the image exists, and the container.

use serde::Serialize;

use super::Ctx;
use crate::cli::StatusArgs;
use crate::environment::Environment;
use crate::error::{ExitStatus, Result};
use crate::image::{self, base, layer_ref};
use crate::ownership::ProjectId;
use crate::session::{self, RuntimeSettings};

#[derive(Debug, Serialize)]
struct Status {
    project: String,
    /// `null` when the base is not locked yet (run `devenv lock`).
    hash: Option<String>,
    image: Option<String>,
    image_present: bool,
    /// The platform the environment is built for (`linux/arm64`).
    platform: Option<String>,
    /// The image's tags were removed (`docker rmi`), but the container still runs the
    /// image of the current hash: it exists, untagged, for as long as the container does.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    image_untagged: bool,
    container: Option<ContainerStatus>,
    /// Keyed by service name; empty without `[services]`.
    services: std::collections::BTreeMap<String, crate::stack::ServiceStatus>,
    /// How the project reaches the container: `bind` (the engine sees this machine's
    /// files), `volume` (a remote engine: synced), or `null` when not known yet.
    workspace: Option<&'static str>,
    /// How the services run: `containers` (one engine) or `swarm`.
    mode: crate::environment::Mode,
    /// On a swarm: its nodes (host name, role, state, availability, labels).
    #[serde(skip_serializing_if = "Option::is_none")]
    nodes: Option<Vec<crate::engine::NodeInfo>>,
    /// The steps' package caches (volumes on the engine) and their sizes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    caches: Vec<CacheStatus>,
}

#[derive(Debug, Serialize)]
struct CacheStatus {
    id: String,
    target: String,
    volume: String,
    /// Whether the volume exists (a step using it ran).
    present: bool,
    /// Bytes in the cache; `null` when absent or not measurable.
    bytes: Option<u64>,
}

#[derive(Debug, Serialize)]
struct ContainerStatus {
    id: String,
    name: String,
    state: String,
    up_to_date: bool,
    /// What differs from the manifest when not up to date.
    changes: Vec<String>,
}

pub async fn run(ctx: &Ctx, args: &StatusArgs) -> Result<ExitStatus> {
    let project = ctx.project()?;
    let engine = ctx.engine().await?;
    let m = &project.manifest;
    let platform = ctx.platform(&project, Some(&engine)).await?;
    let hash =
        image::current_plan(m, &project.paths, platform.as_ref())?.map(|p| p.hash().to_owned());
    let image = hash.as_deref().map(|h| image::image_name(m, h));
    let image_present = match &hash {
        Some(h) => engine.image(&layer_ref(h)).await?.is_some(),
        None => false,
    };
    let found = session::find(&engine, &ProjectId::new(m)).await?;
    let mut image_untagged = false;
    let mode = match &found {
        Some(c) => Some(session::Workspace::of(&c.labels)),
        None => session::remembered_workspace(&project.paths.dir, engine.endpoint()),
    };
    let workspace = mode.map(session::Workspace::label);
    let container = match found {
        Some(c) => {
            let changes = match (&hash, &image) {
                (Some(h), Some(i)) => {
                    let settings = RuntimeSettings::new(m, i, h)?;
                    let changes = settings.diff(&c.labels);
                    let runs_hash = c.labels.get(crate::engine::labels::HASH) == Some(h);
                    image_untagged =
                        !image_present && runs_hash && engine.image(&c.image_id).await?.is_some();
                    session::explain_image(&project.paths.dir, &c.labels, &settings, changes)
                }
                _ => vec![format!(
                    "{} is missing or stale",
                    base::file_name(&project.paths.lock)
                )],
            };
            Some(ContainerStatus {
                up_to_date: changes.is_empty(),
                id: c.id,
                name: c.name,
                state: c.state,
                changes,
            })
        }
        None => None,
    };
    let env = match (&hash, &image) {
        (Some(h), Some(i)) => Some(crate::environment::EnvImage {
            image: i,
            hash: h,
            workspace: mode.unwrap_or(session::Workspace::Bind),
        }),
        _ => None,
    };
    let environment = Environment::new(&engine, &project);
    let services = environment.services_status(env).await?;
    let mode = environment.backend().mode();
    let caches = cache_status(&engine, m).await?;
    let nodes = match mode {
        crate::environment::Mode::Swarm => Some(engine.nodes().await?),
        crate::environment::Mode::Containers => None,
    };
    let status = Status {
        project: m.name.clone(),
        hash,
        image,
        image_present,
        platform: platform.as_ref().map(ToString::to_string),
        image_untagged,
        container,
        services,
        workspace,
        mode,
        caches,
        nodes,
    };
    if args.json {
        ctx.printer
            .data(&serde_json::to_string_pretty(&status).expect("status serialises"));
    } else {
        print_human(ctx, &status);
    }
    Ok(ExitStatus::Success)
}

fn print_human(ctx: &Ctx, s: &Status) {
    let p = &ctx.printer;
    p.data(&format!("project:   {}", s.project));
    p.data(&format!(
        "hash:      {}",
        s.hash
            .as_deref()
            .unwrap_or("(base not locked: run `devenv lock`)")
    ));
    if let Some(platform) = &s.platform {
        p.data(&format!("platform:  {platform}"));
    }
    p.data(&format!(
        "image:     {} ({})",
        s.image.as_deref().unwrap_or("-"),
        if s.image_present {
            "built"
        } else if s.image_untagged {
            "its tags were removed; the container below still runs it — `devenv build` makes \
             it again"
        } else {
            "not built"
        }
    ));
    match &s.container {
        None => p.data("container: none (run `devenv up`)"),
        Some(c) => {
            let fresh = if c.up_to_date && s.image_untagged {
                "up to date, from the untagged image".to_owned()
            } else if c.up_to_date && !s.image_present {
                "runs the current hash, but its image is gone: `devenv up` builds it again"
                    .to_owned()
            } else if c.up_to_date {
                "up to date".to_owned()
            } else {
                format!("stale: {}", c.changes.join(", "))
            };
            p.data(&format!("container: {} {} ({fresh})", c.name, c.state));
        }
    }
    p.data(&format!("workspace: {}", workspace_line(s.workspace)));
    for c in &s.caches {
        p.data(&format!("cache {}", cache_line(c)));
    }
    if let Some(nodes) = &s.nodes {
        p.data(&format!(
            "mode:      swarm, {}",
            super::swarm_status::nodes_line(nodes)
        ));
    }
    for (name, svc) in &s.services {
        p.data(&format!("service {name}: {}", service_line(svc)));
        if s.nodes.is_some() {
            for line in super::swarm_status::task_lines(svc) {
                p.data(&format!("    {line}"));
            }
        }
        if let Some(e) = &svc.last_failure {
            for line in e.lines() {
                p.data(&format!("    {line}"));
            }
        }
    }
}

async fn cache_status(
    engine: &crate::engine::Engine,
    m: &crate::manifest::Manifest,
) -> Result<Vec<CacheStatus>> {
    use crate::image::caches;
    let client = crate::ownership::client::id();
    let wanted = caches::manifest_volumes(m, &client);
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = wanted.iter().map(|(n, _)| n.clone()).collect();
    let found = caches::list(engine, &client, &names, true)
        .await
        .map_err(|e| crate::error::Error::from(image::BuildError::from(e)))?;
    Ok(wanted
        .into_iter()
        .map(|(volume, c)| {
            let v = found.iter().find(|v| v.name == volume);
            CacheStatus {
                id: c.id,
                target: c.target,
                present: v.is_some(),
                bytes: v.and_then(|v| v.bytes),
                volume,
            }
        })
        .collect())
}

pub(super) fn megabytes(bytes: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let b = bytes as f64;
    b / 1_000_000.0
}

fn cache_line(c: &CacheStatus) -> String {
    let size = match (c.present, c.bytes) {
        (false, _) => "not made yet".to_owned(),
        (true, Some(b)) => format!("{:.1} MB", megabytes(b)),
        (true, None) => "size unknown".to_owned(),
    };
    if c.id == c.target {
        format!("{}: {size} (volume {})", c.target, c.volume)
    } else {
        format!("{} (id {}): {size} (volume {})", c.target, c.id, c.volume)
    }
}

/// `running, ready, 2 restarts (stale: env changed)`.
fn service_line(s: &crate::stack::ServiceStatus) -> String {
    let mut parts = vec![match s.exit_code {
        Some(code) => format!("{} ({code})", s.state),
        None => s.state.clone(),
    }];
    match s.ready {
        Some(true) => parts.push("ready".into()),
        Some(false) => parts.push("not ready".into()),
        None => {}
    }
    if let Some(u) = &s.unhealthy {
        let mut text = format!(
            "unhealthy for {} s, devenv restarts it in {} s",
            u.seconds, u.restart_in
        );
        if u.restarted > 0 {
            text = format!("{text} (restarted {} times so far)", u.restarted);
        }
        parts.push(text);
    } else if s.health.as_deref() == Some("unhealthy") {
        parts.push("unhealthy".into());
    }
    if s.replicas != 1 || s.tasks.len() > 1 {
        parts.push(format!(
            "{} of {} replica{} running and ready",
            s.running,
            s.replicas,
            if s.replicas == 1 { "" } else { "s" }
        ));
    }
    if s.restarts > 0 {
        parts.push(format!(
            "{} restart{}",
            s.restarts,
            if s.restarts == 1 { "" } else { "s" }
        ));
    }
    let mut line = parts.join(", ");
    if !s.up_to_date {
        line = format!("{line} (stale: {})", s.changes.join(", "));
    }
    if s.last_failure.is_some() {
        line.push_str(" — last failure:");
    }
    line
}

fn workspace_line(mode: Option<&str>) -> &'static str {
    match mode {
        Some("bind") => "bind mount (the engine sees this machine's files)",
        Some("volume") => "volume on the engine, synced before each command (remote engine)",
        _ => "not known yet (decided before the first container)",
    }
}
