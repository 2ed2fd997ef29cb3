//! The only module that talks to Docker. It offers small typed operations in devenv's own
//! terms (images by reference, containers by label, execs with an exit code) so that the
//! modules above never see bollard's types.

mod archive;
mod containers;
mod exec;
mod files;
mod images;
mod inspect;
pub mod mediate;
mod ping;
mod platform;
mod registry;
mod stack;
mod swarm;
mod transport;
mod volumes;

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;

pub use containers::{
    ContainerInfo, ContainerSpec, ContainerState, Mount, PortBinding, StdinLease,
};
pub use exec::{next_poll_delay, ExecIo, ExecOutput, ExecSpec, ExecState};
pub use images::{CommitSpec, ImageInfo};
pub use inspect::{HistoryEntry, ImageDetail};
pub use platform::{RawPlatform, RegistryManifest};
pub use stack::{HealthCheck, LogStream, MemberState, ServiceOptions};
pub use swarm::{
    task_problem, Deploy, EndpointMode, NodeInfo, Replicas, ServiceInfo, SwarmService, SwarmStatus,
    TaskInfo,
};
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
    /// Which replica of its service a service container is, from 2 (the first has none).
    pub const REPLICA: &str = "dev.devenv.replica";
    /// The image id of the layer (or base image) a layer was committed on: binds the chain,
    /// since a layer's labels are part of the config its own id is the digest of.
    pub const PARENT_ID: &str = "dev.devenv.parent-id";
    /// The platform a layer's chain was built for (`linux/arm64`).
    pub const PLATFORM: &str = "dev.devenv.platform";
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
    /// A swarm service: how it is deployed (limits, constraints, endpoint mode; JSON).
    pub const DEPLOY: &str = "dev.devenv.deploy";
    /// A swarm service: the node it is pinned to and why (JSON).
    pub const PIN: &str = "dev.devenv.pin";
}

/// How long a first contact with the engine may take before we call it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(900);
/// The same for an ssh endpoint, which logs in first.
const SSH_CONNECT_TIMEOUT: Duration = Duration::from_secs(8);
/// How long an engine that answered a ping may take for its version (Podman's is slow).
const SLOW_VERSION: Duration = Duration::from_secs(10);

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
    /// A name another object holds (409 on create).
    #[error("cannot {action}: {message}")]
    Conflict { action: String, message: String },
    /// The object is still used by another (409: a volume a container mounts, an image a
    /// container runs, a network with endpoints).
    #[error("cannot {action}: {message}")]
    InUse { action: String, message: String },
    /// A pull failed, and why as far as the registry's answer says.
    #[error("cannot pull {reference}: {} ({message})", cause.describe())]
    PullFailed {
        reference: String,
        cause: PullCause,
        message: String,
    },
    /// `remove_volumes` removed what it could; these are still there, each with why.
    #[error("{} left: {}", if left.len() == 1 { "a volume is" } else { "volumes are" }, left.join("; "))]
    VolumesLeft {
        removed: Vec<String>,
        left: Vec<String>,
    },
    #[error("Docker engine error while trying to {action}: {message}")]
    Api { action: String, message: String },
}

/// Why a pull failed, read from the engine's message (the API gives every one as a 404 or
/// 500 with text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullCause {
    /// The registry wants credentials, or refused the ones given.
    Unauthorized,
    /// No such repository or tag (a registry that hides private repositories says
    /// "access denied" for those too).
    NotFound,
    /// The registry could not be reached (DNS, connection, TLS, timeout).
    Unreachable,
    /// The reference is not a valid image name.
    InvalidReference,
    Other,
}

impl PullCause {
    /// Classify the engine's message.
    pub fn of(message: &str) -> PullCause {
        let m = message.to_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| m.contains(w));
        if has(&["invalid reference format", "invalid repository name"]) {
            PullCause::InvalidReference
        } else if has(&[
            "no such host",
            "connection refused",
            "i/o timeout",
            "network is unreachable",
            "timeout exceeded",
            "tls:",
            "x509:",
            "dial tcp",
            "connection reset",
        ]) {
            PullCause::Unreachable
        } else if has(&["manifest unknown", "not found", "repository does not exist"]) {
            PullCause::NotFound
        } else if has(&[
            "unauthorized",
            "authentication required",
            "no basic auth credentials",
            "denied",
            "forbidden",
        ]) {
            PullCause::Unauthorized
        } else {
            PullCause::Other
        }
    }

    fn describe(self) -> &'static str {
        match self {
            PullCause::Unauthorized => "the registry refused access (unauthorized)",
            PullCause::NotFound => "no such image or tag in the registry (not found)",
            PullCause::Unreachable => "the registry cannot be reached (network)",
            PullCause::InvalidReference => "not a valid image reference",
            PullCause::Other => "the registry's answer was an error",
        }
    }

    /// What to do about it.
    pub fn fix(self, reference: &str) -> String {
        let repo = reference.split(['@']).next().unwrap_or(reference);
        match self {
            PullCause::Unauthorized => format!(
                "log in to its registry (`docker login`), or check that your account may read \
                 {repo}"
            ),
            PullCause::NotFound => format!(
                "check the name and tag for a typo (`docker pull {reference}` says the same), \
                 or log in if the repository is private"
            ),
            PullCause::Unreachable => "check the network, DNS and proxy settings of the Docker \
                                       engine (it pulls, not devenv), then run again"
                .into(),
            PullCause::InvalidReference => {
                "write the image as `name[:tag][@digest]`, in lower case".into()
            }
            PullCause::Other => {
                format!("try `docker pull {reference}` to see the registry's answer")
            }
        }
    }
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
            EngineError::InUse { .. } | EngineError::VolumesLeft { .. } => Some(
                "something else still uses it (the ids in the message; `docker ps -a` names \
                 them): stop or remove that first, then run the command again"
                    .into(),
            ),
            EngineError::PullFailed {
                reference, cause, ..
            } => Some(cause.fix(reference)),
            // Podman runs an init process (as devenv asks) only with catatonit installed.
            EngineError::Api { message, .. } if message.contains("container-init binary") => Some(
                "install catatonit on the engine's machine (`apt-get install catatonit`, \
                     `dnf install catatonit`): Podman needs it to start containers with an \
                     init process, as devenv does; `devenv doctor` checks for it"
                    .into(),
            ),
            _ => None,
        }
    }

    /// The exit code devenv ends with because of this error, wherever it is wrapped.
    pub fn exit_code(&self) -> i32 {
        match self {
            EngineError::Unreachable { .. } => crate::error::EXIT_ENGINE,
            _ => 1,
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
            } => conflict(action, message),
            // A network with containers attached is refused with 403 and says so.
            E::DockerResponseServerError { message, .. }
                if message.contains("active endpoints") =>
            {
                EngineError::InUse { action, message }
            }
            E::DockerResponseServerError { message, .. } => EngineError::Api { action, message },
            E::DockerStreamError { error } => EngineError::Api {
                action,
                message: error,
            },
            // The engine went away after the first contact (stopped, network lost): the same
            // as not reaching it at all, so every command exits 3 for it.
            other if lost_engine(&other) => EngineError::Unreachable {
                endpoint: endpoint(),
                reason: format!("lost while trying to {action}: {}", root_cause(&other)),
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

/// Whether a request failed because the engine could not be connected to at all (as
/// opposed to an answer, or a failure of the request itself).
fn lost_engine(err: &bollard::errors::Error) -> bool {
    use bollard::errors::Error as E;
    use std::io::ErrorKind;
    match err {
        E::HyperLegacyError { err } => err.is_connect(),
        E::SocketNotFoundError(_) => true,
        E::IOError { err } => matches!(
            err.kind(),
            ErrorKind::ConnectionRefused
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
        ),
        _ => false,
    }
}

/// A 409 by what its message says: the engine answers 409 both for a name that is taken and
/// for an object still in use, and for a few other refusals (a container not running).
fn conflict(action: String, message: String) -> EngineError {
    let m = message.to_lowercase();
    if m.contains("already in use") || m.contains("already exists") {
        EngineError::Conflict { action, message }
    } else if m.contains("in use")
        || m.contains("being used")
        || m.contains("is using")
        || m.contains("active endpoints")
    {
        EngineError::InUse { action, message }
    } else {
        EngineError::Api { action, message }
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
    /// Podman's Docker-compatible API rather than Docker's engine (its `/version` lists a
    /// `Podman Engine` component).
    pub podman: bool,
    /// The engine's host name (`docker info` Name): the node of everything it runs.
    pub name: String,
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
        // A local socket: one quick `/_ping` gives both the answer and the API version.
        match ping::unix(&endpoint, CONNECT_TIMEOUT).await {
            ping::Pinged::Client(docker) => {
                return Ok(Engine {
                    docker: without_deadline(docker),
                    endpoint,
                    cache_host: None,
                })
            }
            ping::Pinged::Silent => {
                return Err(unreachable(format!(
                    "no answer within {} ms",
                    CONNECT_TIMEOUT.as_millis()
                )))
            }
            ping::Pinged::Unknown => {}
        }
        let conn = transport::connect(&resolved).map_err(unreachable)?;
        // An ssh endpoint first logs in; give it longer than a socket.
        let limit = if conn.ssh_stderr.is_some() {
            SSH_CONNECT_TIMEOUT
        } else {
            CONNECT_TIMEOUT
        };
        // negotiate_version's GET /version doubles as the ping.
        let mut negotiated =
            tokio::time::timeout(limit, conn.docker.clone().negotiate_version()).await;
        // Podman answers /version slowly (it asks its runtime and conmon each time): an
        // engine that answers a ping within the limit gets longer for its version.
        if negotiated.is_err()
            && matches!(
                tokio::time::timeout(limit, conn.docker.ping()).await,
                Ok(Ok(_))
            )
        {
            negotiated =
                tokio::time::timeout(SLOW_VERSION, conn.docker.clone().negotiate_version()).await;
        }
        let docker = match negotiated {
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
        let podman = version
            .components
            .iter()
            .flatten()
            .any(|c| c.name.contains("Podman"));
        Ok(EngineInfo {
            endpoint: self.endpoint.clone(),
            podman,
            name: info.name.unwrap_or_default(),
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
        let mut left = Vec::new();
        for v in list.volumes.unwrap_or_default() {
            if !owned(&v.name) {
                continue;
            }
            let res = self
                .docker
                .remove_volume(&v.name, Some(RemoveVolumeOptionsBuilder::new().build()))
                .await;
            match res.map_err(|e| EngineError::api(format!("remove volume {}", v.name), e)) {
                Ok(()) | Err(EngineError::NotFound { .. }) => removed.push((v.name, v.labels)),
                // One in use does not keep the others: remove them, then say what is left.
                Err(EngineError::InUse { .. }) => {
                    let users = self.volume_users(&v.name).await;
                    left.push(format!("{} (in use by {users})", v.name));
                }
                Err(e) => return Err(e),
            }
        }
        if !left.is_empty() {
            return Err(EngineError::VolumesLeft {
                removed: removed.into_iter().map(|(n, _)| n).collect(),
                left,
            });
        }
        Ok(removed)
    }

    /// The containers that mount volume `name`, for a message: `container NAME, …`.
    async fn volume_users(&self, name: &str) -> String {
        use bollard::query_parameters::ListContainersOptionsBuilder;
        let mut filters = HashMap::new();
        filters.insert("volume".to_owned(), vec![name.to_owned()]);
        let opts = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let names: Vec<String> = match self.docker.list_containers(Some(opts)).await {
            Ok(list) => list
                .into_iter()
                .filter_map(|c| c.names?.into_iter().next())
                .map(|n| format!("container {}", n.trim_start_matches('/')))
                .collect(),
            Err(_) => Vec::new(),
        };
        if names.is_empty() {
            "a container".to_owned()
        } else {
            names.join(", ")
        }
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

    #[test]
    fn conflicts_are_told_apart_by_what_the_engine_says() {
        let kind = |m: &str| match conflict("act".into(), m.into()) {
            EngineError::Conflict { .. } => "name",
            EngineError::InUse { .. } => "in use",
            _ => "other",
        };
        assert_eq!(
            kind("Conflict. The container name \"/x\" is already in use by container \"ab\"."),
            "name"
        );
        assert_eq!(kind("remove v: volume is in use - [ab12]"), "in use");
        assert_eq!(
            kind("conflict: unable to delete ab (cannot be forced) - image is being used by running container cd"),
            "in use"
        );
        assert_eq!(kind("Container ab is not running"), "other");
    }

    #[test]
    fn an_engine_lost_after_connecting_is_unreachable() {
        let refused = bollard::errors::Error::IOError {
            err: std::io::ErrorKind::ConnectionRefused.into(),
        };
        let e = EngineError::api("remove volume v", refused);
        assert!(matches!(e, EngineError::Unreachable { .. }), "{e:?}");
        assert_eq!(e.exit_code(), crate::error::EXIT_ENGINE);
        assert!(
            e.to_string()
                .contains("lost while trying to remove volume v"),
            "{e}"
        );
        let answered = bollard::errors::Error::DockerResponseServerError {
            status_code: 500,
            message: "boom".into(),
        };
        assert_eq!(EngineError::api("x", answered).exit_code(), 1);
    }

    #[test]
    fn pull_failures_are_classified() {
        for (m, cause) in [
            (
                "pull access denied for nope, repository does not exist or may require 'docker login'",
                PullCause::NotFound,
            ),
            ("manifest for debian:nope not found: manifest unknown", PullCause::NotFound),
            ("unauthorized: authentication required", PullCause::Unauthorized),
            (
                "Get \"https://r.example/v2/\": dial tcp: lookup r.example: no such host",
                PullCause::Unreachable,
            ),
            ("invalid reference format", PullCause::InvalidReference),
        ] {
            assert_eq!(PullCause::of(m), cause, "{m}");
        }
    }

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

    /// Podman 4.3 without catatonit, measured: the container create fails with this text.
    #[test]
    fn a_missing_podman_init_binary_says_to_install_catatonit() {
        let e = EngineError::Api {
            action: "create a container from devenv/x:h".into(),
            message: "container create: container-init binary not found on the host: stat \
                      /usr/libexec/podman/catatonit: no such file or directory"
                .into(),
        };
        assert!(e.hint().unwrap().contains("install catatonit"));
    }
}
