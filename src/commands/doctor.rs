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
    if info.podman {
        p.data(&format!(
            "engine:          Podman {} (its Docker-compatible API)",
            info.server_version
        ));
        p.data(&format!("init process:    {}", podman_init(&endpoint)));
    } else {
        p.data("engine:          Docker Engine");
    }
    p.data(&format!("engine version:  {}", info.server_version));
    p.data(&format!(
        "API version:     {} (negotiated; engine minimum {})",
        info.api_version, info.min_api_version
    ));
    let native = crate::manifest::Platform::normalise(&info.os, &info.arch, "");
    p.data(&format!("platform:        {native}"));
    p.data(&format!("storage driver:  {}", info.storage_driver));
    p.data(&format!("root dir:        {}", info.root_dir));
    p.data(&format!(
        "objects:         {} containers, {} images",
        info.containers, info.images
    ));
    // Proxies and a CA bundle change what containers see: say when they are in use.
    match crate::hostnet::HostNetwork::load(engine.endpoint()) {
        Ok(net) => {
            for line in net.describe() {
                p.data(&line);
            }
        }
        Err(e) => p.data(&format!("host network:    {e}")),
    }
    p.data(&format!("swarm:           {}", swarm_line(&engine).await));
    match ctx.project() {
        Ok(project) => {
            p.data(&format!(
                "manifest:        {} (valid)",
                project.display_path.display()
            ));
            let target = project.manifest.base.platform.as_ref().unwrap_or(&native);
            p.data(&format!(
                "env platform:    {target}{}",
                if target.native_on(&native) {
                    String::new()
                } else {
                    format!(
                        " (not the engine's: runs under emulation, which the engine must \
                         provide for {}, e.g. qemu-user-static through binfmt_misc)",
                        target.arch
                    )
                }
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
    p.data(&format!("package caches:  {}", caches_line(&engine).await));
    Ok(ExitStatus::Success)
}

/// This client's cache volumes on the engine and what they hold.
async fn caches_line(engine: &Engine) -> String {
    let client = crate::ownership::client::id();
    match crate::image::caches::list(engine, &client, &[], true).await {
        Ok(list) if list.is_empty() => format!("none (client {client})"),
        Ok(list) => {
            let measured: Vec<u64> = list.iter().filter_map(|v| v.bytes).collect();
            let size = if measured.len() == list.len() {
                format!("{:.1} MB", super::status::megabytes(measured.iter().sum()))
            } else {
                "size unknown".to_owned()
            };
            format!(
                "{} volume{}, {size} (client {client}; `devenv prune --caches` removes them)",
                list.len(),
                if list.len() == 1 { "" } else { "s" }
            )
        }
        Err(e) => format!("cannot list: {e}"),
    }
}

/// Where Podman looks for catatonit, the init process devenv's containers run (`init`):
/// its helper directories, then PATH's usual places.
const CATATONIT: &[&str] = &[
    "/usr/libexec/podman/catatonit",
    "/usr/local/libexec/podman/catatonit",
    "/usr/lib/podman/catatonit",
    "/usr/local/lib/podman/catatonit",
    "/usr/bin/catatonit",
    "/usr/local/bin/catatonit",
];

/// Whether Podman on this machine has its init binary; on another machine it cannot be
/// seen from here.
fn podman_init(endpoint: &str) -> String {
    if !endpoint.starts_with("unix://") {
        return "not checked (the engine runs elsewhere); Podman needs catatonit there".into();
    }
    match CATATONIT.iter().find(|p| std::path::Path::new(p).exists()) {
        Some(path) => format!("catatonit ({path})"),
        None => "catatonit missing: containers with an init process (every devenv environment) \
                 fail to start with \"container-init binary not found on the host\"; install \
                 it: apt-get install catatonit (Debian, Ubuntu) or dnf install catatonit (Fedora, \
                 RHEL)"
            .into(),
    }
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
