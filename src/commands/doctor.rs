//! `devenv doctor`: the engine, its API version and storage, and socket access.

use super::Ctx;
use crate::engine::{self, Engine};
use crate::error::{ExitStatus, Result};

pub async fn run(ctx: &Ctx) -> Result<ExitStatus> {
    let p = &ctx.printer;
    let endpoint = engine::endpoint();
    p.data(&format!("endpoint:        {endpoint}"));
    p.data(&format!("socket access:   {}", socket_access(&endpoint)));
    let engine = Engine::connect().await?;
    let info = engine.info().await?;
    p.data(&format!("engine version:  {}", info.server_version));
    p.data(&format!(
        "API version:     {} (negotiated; engine minimum {})",
        info.api_version, info.min_api_version
    ));
    p.data(&format!("platform:        {}/{}", info.os, info.arch));
    p.data(&format!("storage driver:  {}", info.storage_driver));
    p.data(&format!("root dir:        {}", info.root_dir));
    p.data(&format!(
        "objects:         {} containers, {} images",
        info.containers, info.images
    ));
    p.data(&format!("swarm:           {}", swarm_line(&engine).await));
    match ctx.project() {
        Ok(project) => {
            p.data(&format!(
                "manifest:        {} (valid)",
                project.display_path.display()
            ));
            let mode = crate::session::remembered_workspace(&project.paths.dir, engine.endpoint());
            p.data(&format!(
                "workspace:       {}",
                match mode {
                    Some(crate::session::Workspace::Bind) =>
                        "bind mount (the engine sees this machine's files)",
                    Some(crate::session::Workspace::Volume) =>
                        "volume on the engine, synced before each command (binds do not reach it)",
                    None => "not probed yet (decided before the first container)",
                }
            ));
        }
        Err(e) => p.data(&format!("manifest:        {e}")),
    }
    Ok(ExitStatus::Success)
}

/// The engine's part in a swarm, and its nodes when it manages one.
async fn swarm_line(engine: &Engine) -> String {
    let Ok(status) = engine.swarm_status().await else {
        return "unknown (the engine did not say)".into();
    };
    if !status.is_manager() {
        return match status.state.as_str() {
            "inactive" => "not part of one (services run as plain containers)".into(),
            "active" => "a worker node (`up --swarm` needs a manager)".into(),
            other => format!("state `{other}`"),
        };
    }
    match engine.nodes().await {
        Ok(nodes) => format!(
            "manager (`devenv up --swarm` runs the services there); {}",
            super::swarm_status::nodes_line(&nodes)
        ),
        Err(e) => format!("manager; its nodes cannot be listed: {e}"),
    }
}

/// Whether this user may use a unix socket endpoint.
fn socket_access(endpoint: &str) -> String {
    let Some(path) = endpoint.strip_prefix("unix://") else {
        return "not a unix socket (network endpoint)".into();
    };
    match nix::unistd::access(
        path,
        nix::unistd::AccessFlags::R_OK | nix::unistd::AccessFlags::W_OK,
    ) {
        Ok(()) => format!("{path} readable and writable by this user"),
        Err(nix::errno::Errno::ENOENT) => format!("{path} does not exist (is the daemon running?)"),
        Err(e) => format!("{path}: {} (add your user to the `docker` group)", e.desc()),
    }
}
