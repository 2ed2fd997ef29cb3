//! One service as a member of the set: its canonical settings (stored on its container as a
//! label, so a diff names what changed and only that member is recreated) and the container
//! made from them.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::StackError;
use crate::engine::{labels, ContainerSpec, HealthCheck, Mount, PortBinding, ServiceOptions};
use crate::manifest::{Manifest, PortSpec, Service, VolumeSpec};
use crate::ownership::ProjectId;
use crate::session::settings::{changed_fields, recorded, OTHER_VERSION};
use crate::sync::binds::{self, Bind};

/// How often the engine's healthcheck runs the probe once the service is up.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(2);
/// Failed healthchecks in a row before the engine calls a service unhealthy.
pub const HEALTH_RETRIES: i64 = 3;

/// A named volume to create (engine name, labels) before the container.
pub(super) type NamedVolume = (String, HashMap<String, String>);

/// Everything a service container is created from, in canonical form.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServiceSettings {
    /// What the container runs: a pinned reference, a local image id, or the environment's
    /// image (`devenv/<project>:<hash>`).
    pub image: String,
    /// The environment hash, for services that run from the environment image.
    pub hash: Option<String>,
    pub command: Option<Vec<String>>,
    /// Stands for the resolved env (values stay out of labels).
    pub env_sha256: String,
    #[serde(skip)]
    pub env: BTreeMap<String, String>,
    pub ports: Vec<PortSpec>,
    pub volumes: Vec<VolumeSpec>,
    pub ready: Option<String>,
    pub ready_timeout: u64,
    pub restart: String,
    pub user: Option<String>,
    /// Where the project is mounted (services from the environment image only).
    pub workdir: Option<String>,
    /// On an engine that cannot see this machine's files: the volume holding the synced
    /// project, mounted at `workdir` instead of the project directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// On such an engine: the bind volumes, each a volume on the engine kept a copy of its
    /// source (a directory or a file, as the source was when the container was made).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binds: Vec<Bind>,
    pub network: String,
    /// Memory limit in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    /// CPU limit in billionths of a CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nano_cpus: Option<u64>,
}

impl ServiceSettings {
    /// `image`: what the lock pinned for the service, or the environment image for a
    /// service without its own (then `env_hash` is the environment's hash).
    pub fn new(
        manifest: &Manifest,
        name: &str,
        service: &Service,
        image: &str,
        env_hash: Option<&str>,
        network: &str,
        workspace: Option<&str>,
    ) -> Result<ServiceSettings, StackError> {
        let mut env = resolve_env(manifest, service)?;
        // The docker CLI's proxies, as `docker run` gives them, unless the service sets
        // them (a changed proxy is a changed env). A broken config was reported already by
        // the environment's own settings.
        let proxies = crate::hostnet::HostNetwork::load(&crate::engine::endpoint())
            .map(|n| n.proxy_env)
            .unwrap_or_default();
        for kv in proxies {
            if let Some((k, v)) = kv.split_once('=') {
                env.entry(k.to_owned()).or_insert_with(|| v.to_owned());
            }
        }
        let mut h = crate::fingerprint::Hasher::new("service-env");
        for (k, v) in &env {
            h.field(k, v.as_bytes());
        }
        let own = service.uses_environment_image();
        let user = match (&service.user, own) {
            (Some(u), _) => Some(u.clone()),
            (None, true) => Some(crate::session::RuntimeSettings::exec_user_of(manifest)),
            (None, false) => None,
        };
        Ok(ServiceSettings {
            image: image.to_owned(),
            hash: env_hash.filter(|_| own).map(str::to_owned),
            command: service
                .command
                .as_ref()
                .map(crate::manifest::ServiceCommand::argv),
            env_sha256: h.finish(),
            env,
            ports: service.ports.clone(),
            volumes: service.volumes.clone(),
            ready: service.ready.clone(),
            ready_timeout: service.ready_timeout,
            restart: service.restart.as_str().to_owned(),
            user,
            workdir: own.then(|| manifest.shell.workdir.clone()),
            workspace: workspace.filter(|_| own).map(str::to_owned),
            binds: if workspace.is_some() {
                binds::plan_of(&manifest.root, &service.volumes, Some(name))
            } else {
                Vec::new()
            },
            network: network.to_owned(),
            memory: service.memory,
            nano_cpus: service.nano_cpus,
        })
    }

    /// What differs from the settings recorded on a container; empty when it is current.
    pub fn diff(&self, container_labels: &HashMap<String, String>) -> Vec<String> {
        let Some(old) = recorded::<ServiceSettings>(container_labels) else {
            return vec![OTHER_VERSION.into()];
        };
        let fields: [(&str, bool); 14] = [
            ("image", old.image != self.image || old.hash != self.hash),
            ("command", old.command != self.command),
            ("env", old.env_sha256 != self.env_sha256),
            ("ports", old.ports != self.ports),
            (
                "volumes",
                old.volumes != self.volumes || old.binds != self.binds,
            ),
            ("ready", old.ready != self.ready),
            ("ready_timeout", old.ready_timeout != self.ready_timeout),
            ("restart", old.restart != self.restart),
            ("user", old.user != self.user),
            ("shell.workdir", old.workdir != self.workdir),
            ("workspace", old.workspace != self.workspace),
            ("network", old.network != self.network),
            ("memory", old.memory != self.memory),
            ("cpus", old.nano_cpus != self.nano_cpus),
        ];
        changed_fields(&fields).collect()
    }

    /// The container spec and the service options replica `replica` (from 1) is created
    /// with. Every replica answers to the service's name on the network (DNS round robin).
    pub(crate) fn container(
        &self,
        manifest: &Manifest,
        id: &ProjectId,
        name: &str,
        replica: u32,
    ) -> (ContainerSpec, ServiceOptions, Vec<NamedVolume>) {
        let mut mounts = Vec::new();
        let mut volumes = Vec::new();
        if let Some(workdir) = &self.workdir {
            mounts.push(match &self.workspace {
                // Made and filled by the dev container, which starts first.
                Some(volume) => Mount::Synced {
                    name: volume.clone(),
                    target: workdir.clone(),
                    read_only: false,
                },
                None => Mount::Bind {
                    source: id.dir.clone(),
                    target: workdir.clone(),
                    read_only: false,
                },
            });
        }
        for v in &self.volumes {
            mounts.push(match v {
                VolumeSpec::Named {
                    name: vol,
                    target,
                    read_only,
                } => {
                    let engine_name = id.volume_name(vol);
                    volumes.push((engine_name.clone(), id.labels("volume", None)));
                    Mount::Volume {
                        name: engine_name,
                        target: target.clone(),
                        read_only: *read_only,
                    }
                }
                // Volumes the engine has (below).
                VolumeSpec::Bind { .. } if !self.binds.is_empty() => continue,
                VolumeSpec::Bind {
                    source,
                    target,
                    read_only,
                } => {
                    let path = manifest.root.join(source);
                    let _ = std::fs::create_dir_all(&path);
                    Mount::Bind {
                        source: path.canonicalize().unwrap_or(path).display().to_string(),
                        target: target.clone(),
                        read_only: *read_only,
                    }
                }
            });
        }
        // Bind volumes get a nonce: what was sent into one is kept under it (see
        // `sync::binds`); `stack::create` records the nonces the volumes have.
        for m in binds::volume_mounts(id, &self.binds, false) {
            if let Mount::Synced { name, .. } = &m {
                volumes.push((name.clone(), binds::with_nonce(id.labels("volume", None))));
            }
            mounts.push(m);
        }
        let mut container_labels = id.labels("service", Some(name));
        if replica > 1 {
            container_labels.insert(labels::REPLICA.to_owned(), replica.to_string());
        }
        container_labels.insert(
            labels::HASH.to_owned(),
            self.hash.clone().unwrap_or_default(),
        );
        container_labels.insert(
            labels::SETTINGS.to_owned(),
            serde_json::to_string(self).expect("settings serialise"),
        );
        let spec = ContainerSpec {
            name: Some(id.replica_container(name, replica)),
            image: self.image.clone(),
            cmd: self.command.clone().unwrap_or_default(),
            env: self.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            workdir: self.workdir.clone(),
            labels: container_labels,
            mounts,
            ports: self
                .ports
                .iter()
                .map(|p| PortBinding {
                    host_ip: p.host_ip.clone(),
                    host_port: p.host_port,
                    container_port: p.container_port,
                    protocol: p.protocol.clone(),
                })
                .collect(),
            network: Some(self.network.clone()),
            init: self.workdir.is_some(),
            open_stdin: false,
            stdin_once: false,
            hostname: Some(if replica > 1 {
                format!("{name}-{replica}")
            } else {
                name.to_owned()
            }),
            user: None,
        };
        let opts = ServiceOptions {
            network: self.network.clone(),
            aliases: vec![name.to_owned()],
            health: self.ready.as_ref().map(|command| HealthCheck {
                command: command.clone(),
                interval: HEALTH_INTERVAL,
                timeout: Duration::from_secs(30),
                retries: HEALTH_RETRIES,
                start_period: Duration::from_secs(self.ready_timeout),
            }),
            restart: self.restart.clone(),
            user: self.user.clone(),
            image_entrypoint: self.workdir.is_none(),
            memory: self.memory,
            nano_cpus: self.nano_cpus,
        };
        (spec, opts, volumes)
    }
}

/// `env_file` first, `env` over it.
fn resolve_env(
    manifest: &Manifest,
    service: &Service,
) -> Result<BTreeMap<String, String>, StackError> {
    let mut env = BTreeMap::new();
    if let Some(file) = &service.env_file {
        // The same literal syntax as `[container] env_file`: never expanded from devenv's
        // own environment.
        let bytes = std::fs::read(manifest.root.join(file)).map_err(|e| StackError::EnvFile {
            path: file.clone(),
            message: e.to_string(),
        })?;
        env = crate::session::env_file::parse(&bytes).map_err(|e| StackError::EnvFile {
            path: file.clone(),
            message: format!("line {}: {}", e.line, e.message),
        })?;
    }
    env.extend(service.env.clone());
    Ok(env)
}
