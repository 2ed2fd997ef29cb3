//! The container's runtime settings in canonical form. They are stored on the container as
//! a label; comparing them with the manifest's tells whether (and what) changed.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::user::ExecUser;
use super::SessionError;
use crate::engine::{labels, PortBinding};
use crate::manifest::{Manifest, Network, PortSpec, VolumeSpec};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RuntimeSettings {
    /// The image reference (`devenv/<project>:<hash>`).
    pub image: String,
    pub hash: String,
    /// `[container] env` plus `env_file`, resolved. Not stored in the label (an env file
    /// holds passwords, and labels are shown by `docker ps`): `env_sha256` stands for it.
    #[serde(skip)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub env_sha256: String,
    pub ports: Vec<PortSpec>,
    pub volumes: Vec<VolumeSpec>,
    pub network: String,
    pub workdir: String,
    pub user: ExecUser,
    pub on_create: Option<String>,
    /// The dev container's host name when it is not the project's name: a service named
    /// like the project must resolve to the service, and a container's own host name
    /// resolves to itself inside it (`/etc/hosts`). Absent in the usual case, so existing
    /// containers stay current.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The user's proxies and CA bundle (not the environment's: never in the image), and
    /// their digest in the label, so a change of network recreates the container. Absent
    /// when none is in use, so existing containers stay current.
    #[serde(skip)]
    pub host_network: crate::hostnet::HostNetwork,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host_network_sha256: String,
    /// The engine's own platform (`linux/amd64`) when the environment was built for it, not
    /// for a requested one (`--platform`, `DOCKER_DEFAULT_PLATFORM`, `[base] platform`). The
    /// container lives on that engine, whose platform does not change, so the warm path reads
    /// it here instead of asking (`GET /version`: 7 to 30 ms on Docker 20.10). Not compared:
    /// the hash already covers the platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_platform: Option<String>,
}

impl RuntimeSettings {
    pub fn new(manifest: &Manifest, image: &str, hash: &str) -> Result<Self, SessionError> {
        let mut env = BTreeMap::new();
        if let Some(file) = &manifest.container.env_file {
            let bytes =
                std::fs::read(manifest.root.join(file)).map_err(|e| SessionError::EnvFile {
                    path: file.clone(),
                    message: e.to_string(),
                })?;
            env = super::env_file::parse(&bytes).map_err(|e| SessionError::EnvFileLine {
                path: file.clone(),
                line: e.line,
                message: e.message,
            })?;
        }
        env.extend(manifest.container.env.clone());
        let host_network = crate::hostnet::HostNetwork::load(&crate::engine::endpoint())
            .map_err(crate::image::BuildError::from)?;
        let mut h = crate::fingerprint::Hasher::new("container-env");
        for (k, v) in &env {
            h.field(k, v.as_bytes());
        }
        Ok(RuntimeSettings {
            image: image.to_owned(),
            hash: hash.to_owned(),
            env_sha256: h.finish(),
            env,
            ports: manifest.container.ports.clone(),
            volumes: manifest.container.volumes.clone(),
            // With services the dev container joins the project network (whose name is
            // the project's, so a moved project gets its own).
            network: crate::ownership::dev_network(manifest).unwrap_or_else(|| {
                match manifest.container.network {
                    Network::Bridge => "bridge",
                    Network::None => "none",
                    Network::Host => "host",
                }
                .to_owned()
            }),
            workdir: manifest.shell.workdir.clone(),
            user: ExecUser::resolve(&manifest.shell.user),
            on_create: manifest.hooks.on_create.clone(),
            hostname: other_hostname(manifest),
            host_network_sha256: host_network.fingerprint(),
            host_network,
            engine_platform: None,
        })
    }

    /// The dev container's host name: the project's name (at most 63 characters), unless a
    /// service is called that.
    pub fn hostname_of(&self, manifest: &Manifest) -> String {
        self.hostname
            .clone()
            .unwrap_or_else(|| manifest.name.chars().take(63).collect())
    }

    /// The exec `User` for the manifest's `shell.user`.
    pub fn exec_user_of(manifest: &Manifest) -> String {
        ExecUser::resolve(&manifest.shell.user).exec_user()
    }

    /// Labels recording these settings on the container.
    pub fn labels(&self) -> HashMap<String, String> {
        HashMap::from([
            (labels::HASH.to_owned(), self.hash.clone()),
            (
                labels::SETTINGS.to_owned(),
                serde_json::to_string(self).expect("settings serialise"),
            ),
        ])
    }

    /// What differs from the settings recorded in a container's labels, as short phrases;
    /// empty when the container is current.
    pub fn diff(&self, container_labels: &HashMap<String, String>) -> Vec<String> {
        let Some(old) = recorded::<RuntimeSettings>(container_labels) else {
            return vec![OTHER_VERSION.into()];
        };
        let mut changes = Vec::new();
        if old.hash != self.hash {
            changes.push(format!(
                "image {} → {}",
                old.hash.chars().take(12).collect::<String>(),
                self.hash.chars().take(12).collect::<String>()
            ));
        }
        let fields: [(&str, bool); 9] = [
            (
                "`env` (or `env_file`) in [container]",
                old.env_sha256 != self.env_sha256,
            ),
            ("`ports` in [container]", old.ports != self.ports),
            ("`volumes` in [container]", old.volumes != self.volumes),
            (
                "`network` in [container] (or the services)",
                old.network != self.network,
            ),
            ("`workdir` in [shell]", old.workdir != self.workdir),
            ("`user` in [shell]", old.user != self.user),
            ("`on_create` in [hooks]", old.on_create != self.on_create),
            ("host name", old.hostname != self.hostname),
            (
                "the proxies (docker config.json) or host CA bundle (DEVENV_TRUST_HOST_CA)",
                old.host_network_sha256 != self.host_network_sha256,
            ),
        ];
        changes.extend(changed_fields(&fields));
        if old.image != self.image && old.hash == self.hash {
            changes.push("image name changed".into());
        }
        changes
    }

    /// Record the platform the environment was built for when it is the engine's own.
    #[must_use]
    pub fn built_for(mut self, manifest: &Manifest, platform: &crate::manifest::Platform) -> Self {
        if manifest.base.platform.is_none() {
            self.engine_platform = Some(platform.to_string());
        }
        self
    }

    /// The engine's own platform as recorded on a container made by devenv (see
    /// [`RuntimeSettings::engine_platform`]).
    pub fn recorded_engine_platform(
        container_labels: &HashMap<String, String>,
    ) -> Option<crate::manifest::Platform> {
        let settings = recorded::<RuntimeSettings>(container_labels)?;
        crate::manifest::Platform::parse(settings.engine_platform.as_deref()?).ok()
    }

    /// The container's env: its own, then the proxies and CA variables it does not set.
    pub fn env_list(&self) -> Vec<String> {
        let mut env: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let extra = self.host_network.env_for(&env);
        env.extend(extra);
        env
    }

    pub fn port_bindings(&self) -> Vec<PortBinding> {
        self.ports
            .iter()
            .map(|p| PortBinding {
                host_ip: p.host_ip.clone(),
                host_port: p.host_port,
                container_port: p.container_port,
                protocol: p.protocol.clone(),
            })
            .collect()
    }
}

/// A host name for the dev container other than the project's, when a service has the
/// project's name: `<name>-dev` (then `-dev2`, … while a service has that one too).
fn other_hostname(manifest: &Manifest) -> Option<String> {
    let own: String = manifest.name.chars().take(63).collect();
    if !manifest.services.contains_key(&own) {
        return None;
    }
    (1..=manifest.services.len() + 1)
        .map(|i| {
            let suffix = if i == 1 {
                "-dev".to_owned()
            } else {
                format!("-dev{i}")
            };
            let base: String = manifest.name.chars().take(63 - suffix.len()).collect();
            format!("{base}{suffix}")
        })
        .find(|h| !manifest.services.contains_key(h))
}

/// What a diff says of a container whose settings label this devenv cannot read.
pub(crate) const OTHER_VERSION: &str = "created by another devenv version";

/// The settings a container was created with, from its settings label.
pub(crate) fn recorded<T: serde::de::DeserializeOwned>(
    container_labels: &HashMap<String, String>,
) -> Option<T> {
    container_labels
        .get(labels::SETTINGS)
        .and_then(|s| serde_json::from_str(s).ok())
}

/// `"<name> changed"` for each field that differs.
pub(crate) fn changed_fields<'a>(
    fields: &'a [(&'a str, bool)],
) -> impl Iterator<Item = String> + 'a {
    fields
        .iter()
        .filter(|(_, changed)| *changed)
        .map(|(name, _)| format!("{name} changed"))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn manifest(services: &[&str]) -> crate::manifest::Manifest {
        let mut text = "name = \"demo\"\n[base]\nimage = \"debian:12\"\n".to_owned();
        for s in services {
            text = format!("{text}[services.{s}]\nimage = \"redis:7\"\ncommand = \"x\"\n");
        }
        crate::manifest::parse_str(&text, Path::new("/p/devenv.toml"), Path::new("/p")).unwrap()
    }

    #[test]
    fn the_dev_host_name_moves_aside_for_a_service_named_like_the_project() {
        assert_eq!(super::other_hostname(&manifest(&[])), None);
        assert_eq!(super::other_hostname(&manifest(&["db"])), None);
        assert_eq!(
            super::other_hostname(&manifest(&["demo"])).as_deref(),
            Some("demo-dev")
        );
        assert_eq!(
            super::other_hostname(&manifest(&["demo", "demo-dev"])).as_deref(),
            Some("demo-dev2")
        );
    }
}
