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
    let hash = image::current_plan(m, &project.paths)?.map(|p| p.hash().to_owned());
    let image = hash.as_deref().map(|h| image::image_name(m, h));
    let image_present = match &hash {
        Some(h) => engine.image(&layer_ref(h)).await?.is_some(),
        None => false,
    };
    let found = session::find(&engine, &ProjectId::new(m)).await?;
    let mode = match &found {
        Some(c) => Some(session::Workspace::of(&c.labels)),
        None => session::remembered_workspace(&project.paths.dir, engine.endpoint()),
    };
    let workspace = mode.map(session::Workspace::label);
    let container = match found {
        Some(c) => {
            let changes = match (&hash, &image) {
                (Some(h), Some(i)) => RuntimeSettings::new(m, i, h)?.diff(&c.labels),
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
    let nodes = match mode {
        crate::environment::Mode::Swarm => Some(engine.nodes().await?),
        crate::environment::Mode::Containers => None,
    };
    let status = Status {
        project: m.name.clone(),
        hash,
        image,
        image_present,
        container,
        services,
        workspace,
        mode,
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
    p.data(&format!(
        "image:     {} ({})",
        s.image.as_deref().unwrap_or("-"),
        if s.image_present {
            "built"
        } else {
            "not built"
        }
    ));
    match &s.container {
        None => p.data("container: none (run `devenv up`)"),
        Some(c) => {
            let fresh = if c.up_to_date {
                "up to date".to_owned()
            } else {
                format!("stale: {}", c.changes.join(", "))
            };
            p.data(&format!("container: {} {} ({fresh})", c.name, c.state));
        }
    }
    p.data(&format!("workspace: {}", workspace_line(s.workspace)));
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
