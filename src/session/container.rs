//! Creating the environment container: its mounts (named volumes made on demand, mount
//! points made on the host first so the developer keeps owning them), its labels, and
//! replacing a half-created container that devenv left behind.

use std::path::Path;

use super::{real, ProjectId, RuntimeSettings, SessionError, Workspace};
use crate::engine::{labels, ContainerInfo, ContainerSpec, Engine, EngineError, Mount};
use crate::manifest::{Manifest, VolumeSpec};

pub(super) async fn create(
    engine: &Engine,
    manifest: &Manifest,
    settings: &RuntimeSettings,
    id: &ProjectId,
    mode: Workspace,
) -> Result<ContainerInfo, SessionError> {
    let vol_labels = id.labels("volume", None);
    // The workspace volume's identity (volume mode), for what was sent into it before.
    let mut nonce = None;
    let mut mounts = vec![match mode {
        Workspace::Bind => Mount::Bind {
            source: id.dir.clone(),
            target: manifest.shell.workdir.clone(),
            read_only: false,
        },
        // The engine cannot see the project: it lives in a volume, synced from here.
        Workspace::Volume => {
            let name = super::workspace::volume_name(id);
            let has = engine
                .ensure_volume(&name, super::binds::with_nonce(vol_labels.clone()))
                .await?;
            nonce = has.get(labels::NONCE).cloned();
            Mount::Synced {
                name,
                target: manifest.shell.workdir.clone(),
                read_only: false,
            }
        }
    }];
    precreate_mount_points(manifest);
    // The engine cannot see bind sources either: they become synced volumes or copies.
    let binds = match mode {
        Workspace::Bind => None,
        Workspace::Volume => Some(super::binds::plan(manifest)),
    };
    for v in &manifest.container.volumes {
        match v {
            VolumeSpec::Named {
                name,
                target,
                read_only,
            } => {
                let engine_name = id.volume_name(name);
                engine
                    .ensure_volume(&engine_name, vol_labels.clone())
                    .await?;
                mounts.push(Mount::Volume {
                    name: engine_name,
                    target: target.clone(),
                    read_only: *read_only,
                });
            }
            VolumeSpec::Bind {
                source,
                target,
                read_only,
            } if binds.is_none() => mounts.push(Mount::Bind {
                source: real(&manifest.root.join(source)),
                target: target.clone(),
                read_only: *read_only,
            }),
            VolumeSpec::Bind { .. } => {}
        }
    }
    let mut nonces = std::collections::BTreeMap::new();
    if let Some(binds) = &binds {
        let (bind_mounts, made) = super::binds::mounts(engine, id, binds, &vol_labels).await?;
        mounts.extend(bind_mounts);
        nonces = made;
    }
    let mut container_labels = id.labels("env", None);
    container_labels.extend(settings.labels());
    container_labels.insert(labels::WORKSPACE.to_owned(), mode.label().to_owned());
    if let Some(nonce) = nonce {
        container_labels.insert(labels::NONCE.to_owned(), nonce);
    }
    if let Some(binds) = binds.filter(|b| !b.is_empty()) {
        let record = super::binds::Record {
            image: settings.image.clone(),
            binds,
            nonces,
        };
        container_labels.insert(
            labels::BINDS.to_owned(),
            serde_json::to_string(&record).expect("bind record serialises"),
        );
    }
    let spec = ContainerSpec {
        name: Some(id.container_name.clone()),
        image: settings.image.clone(),
        cmd: vec!["/bin/sh".into()],
        env: settings.env_list(),
        workdir: Some(manifest.shell.workdir.clone()),
        labels: container_labels,
        mounts,
        ports: settings.port_bindings(),
        network: Some(settings.network.clone()),
        init: true,
        open_stdin: true,
        hostname: Some(settings.hostname_of(manifest)),
        ..ContainerSpec::default()
    };
    let cid = match engine.create_container(&spec).await {
        Ok(cid) => cid,
        // A container of that name that our labels did not find (left half-created, or
        // made by another devenv version): replace it, but only if devenv made it.
        Err(EngineError::Conflict { .. }) => {
            if !crate::ownership::made_by_devenv(engine, &id.container_name, "env").await? {
                return Err(SessionError::NameTaken {
                    name: id.container_name.clone(),
                });
            }
            engine.remove_container(&id.container_name).await?;
            engine.create_container(&spec).await?
        }
        Err(e) => return Err(e.into()),
    };
    Ok(ContainerInfo {
        id: cid,
        name: id.container_name.clone(),
        state: "created".into(),
        labels: spec.labels,
        // The image by name until the engine lists the container with its id (helpers
        // that write bind volumes run from it).
        image_id: settings.image.clone(),
        status: String::new(),
    })
}

/// Mount targets inside the mounted project (`target-cache:/workspace/target`) would be
/// created by the engine as root-owned directories in the host's project; create them first,
/// as the user running devenv, so the developer keeps owning their tree.
/// Missing bind sources are created the same way (the Mounts API refuses missing ones).
fn precreate_mount_points(manifest: &Manifest) {
    let workdir = Path::new(&manifest.shell.workdir);
    for v in &manifest.container.volumes {
        if let VolumeSpec::Bind { source, .. } = v {
            let _ = std::fs::create_dir_all(manifest.root.join(source));
        }
        let (VolumeSpec::Named { target, .. } | VolumeSpec::Bind { target, .. }) = v;
        if let Ok(rel) = Path::new(target).strip_prefix(workdir) {
            if !rel.as_os_str().is_empty() {
                let _ = std::fs::create_dir_all(manifest.root.join(rel));
            }
        }
    }
}

/// Where the project's named volumes are mounted: a fresh volume is root-owned, so the
/// user setup hands empty ones to the host user.
pub(super) fn named_volume_targets(manifest: &Manifest) -> Vec<String> {
    manifest
        .container
        .volumes
        .iter()
        .filter_map(|v| match v {
            VolumeSpec::Named { target, .. } => Some(target.clone()),
            VolumeSpec::Bind { .. } => None,
        })
        .collect()
}
