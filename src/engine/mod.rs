//! The only module that talks to Docker. It offers small typed operations in devenv's own
//! terms (images by reference, containers by label, execs with an exit code) so that the
//! modules above never see bollard's types.

mod archive;
mod containers;
mod exec;
mod files;
mod images;
mod inspect;
mod registry;
mod stack;
mod transport;

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;

pub use containers::{
    ContainerInfo, ContainerSpec, ContainerState, Mount, PortBinding, StdinLease,
};
pub use exec::{next_poll_delay, ExecIo, ExecOutput, ExecSpec, ExecState};
pub use images::{CommitSpec, ImageInfo};
pub use inspect::{HistoryEntry, ImageDetail};
pub use stack::{HealthCheck, LogStream, MemberState, ServiceOptions};
pub use transport::{Endpoint, TlsFiles};

/// Label keys devenv puts on everything it creates; cleanup acts on these alone.
pub mod labels {
    /// Present (value `true`) on every container, image and volume devenv makes.
    pub const MANAGED: &str = "dev.devenv.managed";
    /// `build` (step container), `env` (the environment container), `service`, `network`,
    /// `volume`, `layer`, `base`, `sync` (writes a read-only bind volume, never runs long).
    pub const ROLE: &str = "dev.devenv.role";
    pub const PROJECT: &str = "dev.devenv.project";
    /// Real path of the project directory: identifies the project's container.
    pub const PROJECT_DIR: &str = "dev.devenv.project-dir";
    pub const MANIFEST: &str = "dev.devenv.manifest";
    /// The checkout id (`ownership::checkout`) of what devenv made for a project: tells
    /// which checkout's it is (the names decide, see `ownership`).
    pub const CHECKOUT: &str = "dev.devenv.checkout";
    /// The step key of a layer image / build container.
    pub const KEY: &str = "dev.devenv.key";
    /// The key of the layer a layer was built on (empty for the base config layer).
    pub const PARENT: &str = "dev.devenv.parent";
    /// The image hash an environment container runs / a final image carries.
    pub const HASH: &str = "dev.devenv.hash";
    /// Canonical JSON of the container's runtime settings.
    pub const SETTINGS: &str = "dev.devenv.settings";
    pub const VERSION: &str = "dev.devenv.version";
    /// Project identity (16 hex over the real project directory and manifest paths) of the
    /// project that built a layer first / runs a build container.
    pub const PROJECT_ID: &str = "dev.devenv.project-id";
    /// Build containers: the id of the lock directory of the devenv running the build
    /// (`image::lock::scope`); empty on layers (a commit would copy it otherwise).
    pub const OWNER: &str = "dev.devenv.owner";
    /// The service a service container (role `service`) runs.
    pub const SERVICE: &str = "dev.devenv.service";
    /// The image id of the layer (or base image) a layer was committed on: binds the chain,
    /// since a layer's labels are part of the config its own id is the digest of.
    pub const PARENT_ID: &str = "dev.devenv.parent-id";
    /// What went into a layer's key (JSON, no secret or env values), for `devenv diff`.
    pub const INPUTS: &str = "dev.devenv.inputs";
    /// How the project reaches an environment container: `bind` or `volume` (synced).
    pub const WORKSPACE: &str = "dev.devenv.workspace";
    /// Volume mode: how the manifest's bind volumes reach the container (JSON).
    pub const BINDS: &str = "dev.devenv.binds";
    /// A random value set on a volume when devenv creates it (an existing volume keeps its
    /// own), and on the environment container the workspace volume it mounts: tells a
    /// workspace volume apart from one removed and made again under the same name.
    pub const NONCE: &str = "dev.devenv.nonce";
}

/// How long a first contact with the engine may take before we call it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(900);
/// The same for an ssh endpoint, which logs in first.
const SSH_CONNECT_TIMEOUT: Duration = Duration::from_secs(8);

/// Client-side limit of every other request: none. bollard's default (120 s until the
/// response headers) cuts a commit of a large layer, a big upload or import, or a slow
/// remote engine while the engine is still working; tokio treats this as "no deadline".
/// Connecting and pinging keep [`CONNECT_TIMEOUT`], and every long wait is interruptible.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(u64::MAX);

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot reach the Docker engine at {endpoint}: {reason}")]
    Unreachable { endpoint: String, reason: String },
    #[error("no such {what}: {name}")]
    NotFound { what: &'static str, name: String },
    #[error("{name} already exists")]
    Conflict { name: String },
    #[error("Docker engine error while trying to {action}: {message}")]
    Api { action: String, message: String },
}

impl EngineError {
    pub fn hint(&self) -> Option<String> {
        match self {
            EngineError::Unreachable { endpoint, .. } if !endpoint.starts_with("unix://") => {
                Some(format!(
                    "check that the engine at {endpoint} is up and reachable from here; for \
                     TLS, that DOCKER_CERT_PATH (or the context) holds ca.pem, cert.pem and \
                     key.pem for it; for ssh, that `ssh` logs in without a prompt and the \
                     remote has a docker CLI"
                ))
            }
            EngineError::Unreachable { endpoint, .. } => Some(format!(
                "is the Docker daemon running? start it (e.g. `sudo systemctl start docker`), \
                 check DOCKER_HOST (now {endpoint}), and that your user may use the socket \
                 (member of the `docker` group)"
            )),
            _ => None,
        }
    }

    /// Wrap a bollard error that happened while doing `action`.
    fn api(action: impl Into<String>, err: bollard::errors::Error) -> Self {
        use bollard::errors::Error as E;
        let action = action.into();
        match err {
            E::DockerResponseServerError {
                status_code: 404,
                message,
            } => EngineError::NotFound {
                what: "object",
                name: message,
            },
            E::DockerResponseServerError {
                status_code: 409,
                message,
            } => EngineError::Conflict { name: message },
            E::DockerResponseServerError { message, .. } => EngineError::Api { action, message },
            E::DockerStreamError { error } => EngineError::Api {
                action,
                message: error,
            },
            other => EngineError::Api {
                action,
                message: other.to_string(),
            },
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, EngineError::NotFound { .. })
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// A connected, version-negotiated Docker engine.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    endpoint: String,
    /// Host of the registry cache: the only one the `DEVENV_REGISTRY_*` credentials go to.
    cache_host: Option<String>,
}

/// What `devenv doctor` reports about the engine.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EngineInfo {
    pub endpoint: String,
    pub server_version: String,
    pub api_version: String,
    pub min_api_version: String,
    pub os: String,
    pub arch: String,
    pub storage_driver: String,
    pub root_dir: String,
    pub containers: i64,
    pub images: i64,
}

/// The endpoint devenv talks to, as the docker CLI picks it: `DOCKER_HOST`, else the
/// docker context (`DOCKER_CONTEXT`, else the config's `currentContext`: Docker Desktop,
/// Colima, OrbStack and rootless Docker set one), else the local socket.
pub fn endpoint() -> String {
    resolved_endpoint().host
}

/// [`endpoint()`] with its TLS material.
pub fn resolved_endpoint() -> transport::Endpoint {
    transport::resolve(registry::docker_config_dir().as_deref())
}

impl Engine {
    /// Connect to [`endpoint()`] and negotiate the API version, failing within a second
    /// when the engine does not answer.
    pub async fn connect() -> Result<Engine> {
        let resolved = resolved_endpoint();
        let endpoint = resolved.host.clone();
        let unreachable = |reason: String| EngineError::Unreachable {
            endpoint: endpoint.clone(),
            reason,
        };
        let conn = transport::connect(&resolved).map_err(unreachable)?;
        // An ssh endpoint first logs in; give it longer than a socket.
        let limit = if conn.ssh_stderr.is_some() {
            SSH_CONNECT_TIMEOUT
        } else {
            CONNECT_TIMEOUT
        };
        // negotiate_version's GET /version doubles as the ping.
        let docker =
            match tokio::time::timeout(limit, conn.docker.clone().negotiate_version()).await {
                Err(_) => {
                    return Err(unreachable(
                        conn.reason(format!("no answer within {} ms", limit.as_millis())),
                    ))
                }
                Ok(Err(e)) => {
                    let reason = match not_an_engine(&e) {
                        Some(why) => why,
                        None => conn.reason_after_failure(root_cause(&e)).await,
                    };
                    return Err(unreachable(reason));
                }
                Ok(Ok(docker)) => docker,
            };
        Ok(Engine {
            docker: without_deadline(docker),
            endpoint,
            cache_host: None,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub async fn info(&self) -> Result<EngineInfo> {
        let version = self
            .docker
            .version()
            .await
            .map_err(|e| EngineError::api("read the engine version", e))?;
        let info = self
            .docker
            .info()
            .await
            .map_err(|e| EngineError::api("read engine info", e))?;
        Ok(EngineInfo {
            endpoint: self.endpoint.clone(),
            server_version: version.version.unwrap_or_default(),
            api_version: self.docker.client_version().to_string(),
            min_api_version: version.min_api_version.unwrap_or_default(),
            os: version.os.unwrap_or_default(),
            arch: version.arch.unwrap_or_default(),
            storage_driver: info.driver.unwrap_or_default(),
            root_dir: info.docker_root_dir.unwrap_or_default(),
            containers: info.containers.unwrap_or_default(),
            images: info.images.unwrap_or_default(),
        })
    }

    /// Remove the named volumes carrying all of `labels` whose name `owned` accepts;
    /// returns their names and labels.
    pub async fn remove_volumes(
        &self,
        labels: &[(&str, &str)],
        owned: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<(String, HashMap<String, String>)>> {
        use bollard::query_parameters::{ListVolumesOptionsBuilder, RemoveVolumeOptionsBuilder};
        let filters = label_filters(labels);
        let list = self
            .docker
            .list_volumes(Some(
                ListVolumesOptionsBuilder::new().filters(&filters).build(),
            ))
            .await
            .map_err(|e| EngineError::api("list volumes", e))?;
        let mut removed = Vec::new();
        for v in list.volumes.unwrap_or_default() {
            if !owned(&v.name) {
                continue;
            }
            self.docker
                .remove_volume(&v.name, Some(RemoveVolumeOptionsBuilder::new().build()))
                .await
                .map_err(|e| EngineError::api(format!("remove volume {}", v.name), e))?;
            removed.push((v.name, v.labels));
        }
        Ok(removed)
    }

    /// Create a named volume with labels (no-op when it exists); returns the labels the
    /// volume has (an existing one keeps its own).
    pub async fn ensure_volume(
        &self,
        name: &str,
        labels: HashMap<String, String>,
    ) -> Result<HashMap<String, String>> {
        let body = bollard::models::VolumeCreateRequest {
            name: Some(name.to_owned()),
            labels: Some(labels),
            ..Default::default()
        };
        self.docker
            .create_volume(body)
            .await
            .map(|v| v.labels)
            .map_err(|e| EngineError::api(format!("create volume {name}"), e))
    }
}

/// Something answered the first request, but not as a Docker engine does (a web server or
/// proxy on that port): say so instead of relaying its status as the engine's.
fn not_an_engine(e: &bollard::errors::Error) -> Option<String> {
    use bollard::errors::Error as B;
    let what = match e {
        B::DockerResponseServerError {
            status_code,
            message,
        } => {
            // One short line of the body, if it is text (not a web page).
            let message: String = message
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .filter(|l| !l.starts_with('<'))
                .unwrap_or_default()
                .chars()
                .take(120)
                .collect();
            if message.is_empty() {
                format!("HTTP {status_code} for GET /version")
            } else {
                format!("HTTP {status_code} for GET /version: {message}")
            }
        }
        B::JsonSerdeError { .. } | B::JsonDataError { .. } => {
            "its answer to GET /version is not the Docker API's".to_owned()
        }
        _ => return None,
    };
    if what.contains("HTTPS server") {
        // An engine's TLS port spoken to in plain HTTP.
        return Some(format!(
            "it speaks TLS ({what}): set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH, or use a \
             context with its certificates"
        ));
    }
    Some(format!(
        "something answered there, but not a Docker engine ({what})"
    ))
}

/// `docker` without a client-side request limit (see [`REQUEST_TIMEOUT`]), whatever its
/// transport.
fn without_deadline(docker: Docker) -> Docker {
    docker.with_timeout(REQUEST_TIMEOUT)
}

/// `label=k=v` filters for list calls.
fn label_filters(labels: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
    let mut f = HashMap::new();
    f.insert(
        "label".to_owned(),
        labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
    );
    f
}

/// The innermost message of an error chain: "Connection refused" rather than a wrapper.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    let msg = cur.to_string();
    if msg.is_empty() {
        err.to_string()
    } else {
        msg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client every request goes through has no deadline, for any transport: the
    /// engine's own answer (or Ctrl-C) ends a long commit, upload, pull or push. This proves
    /// the setting, not a 2-minute run (which the suite cannot afford).
    #[tokio::test]
    async fn requests_have_no_client_side_deadline() {
        for host in ["unix:///var/run/docker.sock", "tcp://127.0.0.1:2375"] {
            let endpoint = transport::Endpoint {
                host: host.to_owned(),
                tls: None,
            };
            let docker = without_deadline(transport::connect(&endpoint).unwrap().docker);
            assert_eq!(docker.timeout(), REQUEST_TIMEOUT, "{host}");
            // tokio takes the unrepresentable deadline as none, rather than panicking.
            let never = tokio::time::timeout(docker.timeout(), std::future::pending::<()>());
            assert!(tokio::time::timeout(Duration::from_millis(20), never)
                .await
                .is_err());
        }
        assert!(CONNECT_TIMEOUT < Duration::from_secs(2));
    }
}
