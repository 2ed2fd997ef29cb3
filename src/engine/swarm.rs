//! What devenv needs from a Docker Swarm, in its own terms: whether the engine is a swarm
//! manager, the nodes, the project's attachable overlay network, services made from the
//! same [`ContainerSpec`] and [`ServiceOptions`] a service container is made from (plus how
//! it is deployed: replicas, limits, placement, endpoint mode), their replicas, their tasks
//! (node, state, the task's own error, restarts) and their logs.
//!
//! The spec building and the task summaries are pure functions, unit-tested below; the rest
//! is one API call each, tested against a real three-node swarm (`tests/it/swarm`).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum,
    EndpointSpec, EndpointSpecModeEnum, HealthConfig, Limit, LocalNodeState,
    NetworkAttachmentConfig, NetworkCreateRequest, NodeSpecAvailabilityEnum, NodeSpecRoleEnum,
    NodeState, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, TaskSpec,
    TaskSpecContainerSpec, TaskSpecPlacement, TaskSpecResources, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum,
};
use bollard::query_parameters::{
    ListNodesOptions, ListServicesOptionsBuilder, ListTasksOptionsBuilder, LogsOptionsBuilder,
    UpdateServiceOptionsBuilder,
};
use futures_util::StreamExt;

use super::containers::mount;
use super::{
    label_filters, ContainerSpec, Engine, EngineError, ExecOutput, LogStream, Result,
    ServiceOptions,
};

/// How long swarm waits between a task's end and its replacement. Its default (5 s) is
/// most of the time a replaced replica takes; a crash loop still costs a second per turn.
pub const RESTART_DELAY: Duration = Duration::from_secs(1);
/// How long a task's main process gets between SIGTERM and SIGKILL when it is stopped
/// (scale down, update, removal). The swarm default is 10 s.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// The engine's part in a swarm (`docker info`'s Swarm section).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwarmStatus {
    /// `inactive`, `pending`, `active`, `error`, `locked`.
    pub state: String,
    /// Whether this engine is a manager (it can create services).
    pub manager: bool,
    pub node_id: String,
    pub nodes: i64,
    pub managers: i64,
    /// The engine's own complaint about its swarm state, if any.
    pub error: String,
}

impl SwarmStatus {
    /// An active swarm this engine manages: services can be made through it.
    pub fn is_manager(&self) -> bool {
        self.state == "active" && self.manager
    }
}

/// One node, as the manager sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct NodeInfo {
    pub id: String,
    pub hostname: String,
    /// `manager` or `worker`.
    pub role: String,
    /// `ready`, `down`, `disconnected`, `unknown`.
    pub state: String,
    /// `active`, `pause`, `drain`.
    pub availability: String,
    pub labels: BTreeMap<String, String>,
    pub addr: String,
    pub leader: bool,
}

impl NodeInfo {
    /// Whether swarm may place new tasks on it.
    pub fn schedulable(&self) -> bool {
        self.state == "ready" && self.availability == "active"
    }
}

/// How a service's name resolves on the overlay network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointMode {
    /// The name resolves to every running replica's address (DNS round robin). Works
    /// everywhere; the default.
    #[default]
    Dnsrr,
    /// One virtual IP, balanced by the kernel's IPVS (which some kernels lack).
    Vip,
}

/// How a service is deployed on the swarm, beyond what its container is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Deploy {
    pub replicas: u64,
    /// Memory limit in bytes.
    pub memory: Option<i64>,
    /// CPU limit in units of 10⁻⁹ CPUs.
    pub nano_cpus: Option<i64>,
    /// Placement constraints as Compose and `docker service create --constraint` write
    /// them (`node.labels.tier==web`, `node.id==…`).
    pub constraints: Vec<String>,
    pub endpoint: EndpointMode,
}

/// A swarm service: the container each replica runs and how it is deployed.
#[derive(Debug, Clone)]
pub struct SwarmService {
    /// The service's name on the swarm (unique per project: the service container's name).
    pub name: String,
    /// Labels on the service itself (ownership, settings); `container.labels` go on each
    /// replica's container.
    pub labels: HashMap<String, String>,
    /// `image` must be one every node can pull: a registry reference, by digest.
    pub container: ContainerSpec,
    pub options: ServiceOptions,
    pub deploy: Deploy,
    /// Labels of the named volumes a node creates for a replica (it makes them itself).
    pub volume_labels: HashMap<String, String>,
}

/// A service devenv finds on the swarm.
#[derive(Debug, Clone, Default)]
pub struct ServiceInfo {
    pub id: String,
    pub name: String,
    pub labels: HashMap<String, String>,
    /// Desired replicas (`None` for a global service).
    pub replicas: Option<u64>,
    pub image: String,
    pub constraints: Vec<String>,
}

/// One task (a replica's run on a node), newest state.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TaskInfo {
    pub id: String,
    /// The replica number (1…replicas); a replaced replica keeps its slot.
    pub slot: i64,
    pub node_id: String,
    /// The node's host name (its id when the manager no longer knows it).
    pub node: String,
    /// `new`, `pending`, `assigned`, `preparing`, `starting`, `running`, `complete`,
    /// `failed`, `shutdown`, `rejected`, `orphaned`, `remove`.
    pub state: String,
    /// What swarm wants of it: `running`, `shutdown`, …
    pub desired: String,
    /// Swarm's word on the state ("started", "no suitable node (…)").
    pub message: String,
    /// The task's error ("task: non-zero exit (1)", "No such image: …").
    pub error: String,
    pub exit_code: Option<i64>,
    pub container_id: String,
    /// When it last changed state (RFC 3339).
    pub since: String,
    /// It runs an earlier spec of its service (an update is rolling over it).
    #[serde(skip)]
    pub outdated: bool,
}

impl TaskInfo {
    /// Swarm wants it running: the current task of its slot (older ones are history).
    pub fn current(&self) -> bool {
        self.desired == "running"
    }

    /// Running, and past its healthcheck if it has one (swarm holds a task with a
    /// healthcheck in `starting` until the check passes).
    pub fn running(&self) -> bool {
        self.state == "running"
    }

    /// Ended for good: this run will not become running.
    pub fn ended(&self) -> bool {
        matches!(
            self.state.as_str(),
            "complete" | "failed" | "shutdown" | "rejected" | "orphaned" | "remove"
        )
    }
}

/// A service label keeping the healthcheck devenv gave it: bollard reads the engine's
/// `Healthcheck` key as nothing (it expects `HealthCheck`), so a read-modify-write update
/// (scale, restart) would drop it and roll every replica over. Restored from here.
const HEALTH_LABEL: &str = "dev.devenv.healthcheck";

/// `spec` with its healthcheck as devenv set it, when reading it lost it.
fn with_health(mut spec: ServiceSpec) -> ServiceSpec {
    let kept = spec
        .labels
        .as_ref()
        .and_then(|l| l.get(HEALTH_LABEL))
        .and_then(|j| serde_json::from_str::<HealthConfig>(j).ok());
    if let Some(c) = spec
        .task_template
        .as_mut()
        .and_then(|t| t.container_spec.as_mut())
    {
        if c.health_check.is_none() {
            c.health_check = kept;
        }
    }
    spec
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn lower<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|s| s.to_string().to_lowercase()).unwrap_or_default()
}

/// The API's service spec for `s`.
pub(super) fn service_spec(s: &SwarmService) -> ServiceSpec {
    let c = &s.container;
    let o = &s.options;
    let (command, args) = if o.image_entrypoint {
        // The image's entrypoint, with the manifest's command as its arguments.
        (None, (!c.cmd.is_empty()).then(|| c.cmd.clone()))
    } else {
        (Some(c.cmd.clone()), None)
    };
    let mounts: Vec<_> = c
        .mounts
        .iter()
        .map(|m| {
            let mut out = mount(m);
            if matches!(m, super::Mount::Volume { .. }) && !s.volume_labels.is_empty() {
                out.volume_options
                    .get_or_insert_with(Default::default)
                    .labels = Some(s.volume_labels.clone());
            }
            out
        })
        .collect();
    let health = o.health.as_ref().map(|h| HealthConfig {
        test: Some(vec!["CMD-SHELL".into(), h.command.clone()]),
        interval: Some(nanos(h.interval)),
        timeout: Some(nanos(h.timeout)),
        retries: Some(h.retries),
        start_period: Some(nanos(h.start_period)),
        start_interval: None,
    });
    let container = TaskSpecContainerSpec {
        image: Some(c.image.clone()),
        labels: Some(c.labels.clone()),
        command,
        args,
        hostname: c.hostname.clone(),
        env: Some(c.env.clone()),
        dir: c.workdir.clone(),
        user: o.user.clone(),
        mounts: (!mounts.is_empty()).then_some(mounts),
        init: c.init.then_some(true),
        stop_grace_period: Some(nanos(STOP_GRACE)),
        health_check: health.clone(),
        ..Default::default()
    };
    let limits = (s.deploy.memory.is_some() || s.deploy.nano_cpus.is_some()).then_some(Limit {
        memory_bytes: s.deploy.memory,
        nano_cpus: s.deploy.nano_cpus,
        pids: None,
    });
    let condition = match o.restart.as_str() {
        "no" => TaskSpecRestartPolicyConditionEnum::NONE,
        "always" | "unless-stopped" => TaskSpecRestartPolicyConditionEnum::ANY,
        _ => TaskSpecRestartPolicyConditionEnum::ON_FAILURE,
    };
    let task = TaskSpec {
        container_spec: Some(container),
        resources: limits.map(|l| TaskSpecResources {
            limits: Some(l),
            ..Default::default()
        }),
        restart_policy: Some(TaskSpecRestartPolicy {
            condition: Some(condition),
            delay: Some(nanos(RESTART_DELAY)),
            max_attempts: None,
            window: None,
        }),
        placement: (!s.deploy.constraints.is_empty()).then(|| TaskSpecPlacement {
            constraints: Some(s.deploy.constraints.clone()),
            ..Default::default()
        }),
        networks: Some(vec![NetworkAttachmentConfig {
            target: Some(o.network.clone()),
            aliases: (!o.aliases.is_empty()).then(|| o.aliases.clone()),
            driver_opts: None,
        }]),
        ..Default::default()
    };
    // Published ports go straight to the node a replica runs on (`mode=host`): the
    // routing mesh needs IPVS, and cannot go with DNS round robin anyway.
    let ports: Vec<EndpointPortConfig> = c
        .ports
        .iter()
        .map(|p| EndpointPortConfig {
            name: None,
            protocol: Some(match p.protocol.as_str() {
                "udp" => EndpointPortConfigProtocolEnum::UDP,
                "sctp" => EndpointPortConfigProtocolEnum::SCTP,
                _ => EndpointPortConfigProtocolEnum::TCP,
            }),
            target_port: Some(i64::from(p.container_port)),
            published_port: Some(i64::from(p.host_port)),
            publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
        })
        .collect();
    let mut labels = s.labels.clone();
    if let Some(h) = &health {
        labels.insert(
            HEALTH_LABEL.to_owned(),
            serde_json::to_string(h).expect("healthcheck serialises"),
        );
    }
    ServiceSpec {
        name: Some(s.name.clone()),
        labels: Some(labels),
        task_template: Some(task),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated {
                replicas: Some(i64::try_from(s.deploy.replicas).unwrap_or(i64::MAX)),
            }),
            ..Default::default()
        }),
        endpoint_spec: Some(EndpointSpec {
            mode: Some(match s.deploy.endpoint {
                EndpointMode::Dnsrr => EndpointSpecModeEnum::DNSRR,
                EndpointMode::Vip => EndpointSpecModeEnum::VIP,
            }),
            ports: (!ports.is_empty()).then_some(ports),
        }),
        ..Default::default()
    }
}

impl Engine {
    /// This engine's part in a swarm.
    pub async fn swarm_status(&self) -> Result<SwarmStatus> {
        let info = self
            .docker
            .info()
            .await
            .map_err(|e| EngineError::api("read engine info", e))?;
        let s = info.swarm.unwrap_or_default();
        let state = match s.local_node_state {
            Some(LocalNodeState::ACTIVE) => "active",
            Some(LocalNodeState::PENDING) => "pending",
            Some(LocalNodeState::ERROR) => "error",
            Some(LocalNodeState::LOCKED) => "locked",
            _ => "inactive",
        };
        Ok(SwarmStatus {
            state: state.to_owned(),
            manager: s.control_available.unwrap_or_default(),
            node_id: s.node_id.unwrap_or_default(),
            nodes: s.nodes.unwrap_or_default(),
            managers: s.managers.unwrap_or_default(),
            error: s.error.unwrap_or_default(),
        })
    }

    /// Every node of the swarm (a manager's view), by host name.
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>> {
        let list = self
            .docker
            .list_nodes(None::<ListNodesOptions>)
            .await
            .map_err(|e| EngineError::api("list the swarm's nodes", e))?;
        let mut nodes: Vec<NodeInfo> = list
            .into_iter()
            .map(|n| {
                let spec = n.spec.unwrap_or_default();
                let status = n.status.unwrap_or_default();
                NodeInfo {
                    id: n.id.unwrap_or_default(),
                    hostname: n.description.and_then(|d| d.hostname).unwrap_or_default(),
                    role: match spec.role {
                        Some(NodeSpecRoleEnum::MANAGER) => "manager",
                        _ => "worker",
                    }
                    .to_owned(),
                    state: match status.state {
                        Some(NodeState::READY) => "ready",
                        Some(NodeState::DOWN) => "down",
                        Some(NodeState::DISCONNECTED) => "disconnected",
                        _ => "unknown",
                    }
                    .to_owned(),
                    availability: match spec.availability {
                        Some(NodeSpecAvailabilityEnum::PAUSE) => "pause",
                        Some(NodeSpecAvailabilityEnum::DRAIN) => "drain",
                        _ => "active",
                    }
                    .to_owned(),
                    labels: spec.labels.unwrap_or_default().into_iter().collect(),
                    addr: status.addr.unwrap_or_default(),
                    leader: n.manager_status.and_then(|m| m.leader).unwrap_or_default(),
                }
            })
            .collect();
        nodes.sort_by(|a, b| (&a.hostname, &a.id).cmp(&(&b.hostname, &b.id)));
        Ok(nodes)
    }

    /// Create the attachable overlay network unless it exists: services and plain
    /// containers (the dev container) meet on it, on every node.
    pub async fn ensure_overlay_network(
        &self,
        name: &str,
        labels: HashMap<String, String>,
    ) -> Result<()> {
        match self.docker.inspect_network(name, None).await {
            Ok(n) if n.scope.as_deref() == Some("swarm") => return Ok(()),
            Ok(_) => {
                return Err(EngineError::Conflict {
                    action: format!("create the overlay network {name}"),
                    message: format!(
                        "a network named {name} exists on this engine and is not a swarm \
                         overlay (made by `devenv up` without --swarm?); `devenv down` removes it"
                    ),
                })
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => return Err(EngineError::api(format!("inspect network {name}"), e)),
        }
        self.create_network(NetworkCreateRequest {
            name: name.to_owned(),
            driver: Some("overlay".into()),
            attachable: Some(true),
            labels: Some(labels),
            ..Default::default()
        })
        .await
    }

    /// Whether a network of that name exists (a removed overlay network lingers a moment).
    pub async fn network_exists(&self, name: &str) -> Result<bool> {
        match self.docker.inspect_network(name, None).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(EngineError::api(format!("inspect network {name}"), e)),
        }
    }

    /// The services carrying all of `labels`.
    pub async fn services(&self, labels: &[(&str, &str)]) -> Result<Vec<ServiceInfo>> {
        let filters = label_filters(labels);
        let opts = ListServicesOptionsBuilder::new().filters(&filters).build();
        let list = self
            .docker
            .list_services(Some(opts))
            .await
            .map_err(|e| EngineError::api("list services", e))?;
        Ok(list.into_iter().map(service_info).collect())
    }

    /// One service by name or id; `None` when there is none.
    pub async fn service(&self, name: &str) -> Result<Option<ServiceInfo>> {
        match self.docker.inspect_service(name, None).await {
            Ok(s) => Ok(Some(service_info(s))),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(EngineError::api(format!("inspect service {name}"), e)),
        }
    }

    /// Create the service; returns its id.
    pub async fn create_service(&self, s: &SwarmService) -> Result<String> {
        let credentials = self.credentials(&s.container.image).await;
        let res = self
            .docker
            .create_service(service_spec(s), credentials)
            .await
            .map_err(|e| EngineError::api(format!("create service {}", s.name), e))?;
        Ok(res.id.unwrap_or_default())
    }

    /// Replace the spec of the existing service `s.name` (swarm rolls its tasks over).
    pub async fn update_service(&self, s: &SwarmService) -> Result<()> {
        let spec = service_spec(s);
        let credentials = self.credentials(&s.container.image).await;
        self.update_with(&s.name, |_| spec.clone(), credentials)
            .await
    }

    /// Set the desired replicas of service `name`.
    pub async fn scale_service(&self, name: &str, replicas: u64) -> Result<()> {
        let n = i64::try_from(replicas).unwrap_or(i64::MAX);
        self.update_with(
            name,
            |mut spec| {
                spec.mode = Some(ServiceSpecMode {
                    replicated: Some(ServiceSpecModeReplicated { replicas: Some(n) }),
                    ..Default::default()
                });
                spec
            },
            None,
        )
        .await
    }

    /// Replace every replica of service `name` (`docker service update --force`).
    pub async fn force_update_service(&self, name: &str) -> Result<()> {
        self.update_with(
            name,
            |mut spec| {
                if let Some(t) = spec.task_template.as_mut() {
                    t.force_update = Some(t.force_update.unwrap_or(0).wrapping_add(1));
                }
                spec
            },
            None,
        )
        .await
    }

    /// Update service `name` from its current spec (read with its version, so that a
    /// concurrent update makes this one retry rather than undo the other).
    async fn update_with(
        &self,
        name: &str,
        change: impl Fn(ServiceSpec) -> ServiceSpec,
        credentials: Option<bollard::auth::DockerCredentials>,
    ) -> Result<()> {
        let action = format!("update service {name}");
        for attempt in 0..5 {
            let current = self
                .docker
                .inspect_service(name, None)
                .await
                .map_err(|e| EngineError::api(&action, e))?;
            let version = current
                .version
                .and_then(|v| v.index)
                .and_then(|i| i32::try_from(i).ok())
                .unwrap_or_default();
            let spec = change(with_health(current.spec.unwrap_or_default()));
            let opts = UpdateServiceOptionsBuilder::new().version(version).build();
            match self
                .docker
                .update_service(name, spec, opts, credentials.clone())
                .await
            {
                Ok(_) => return Ok(()),
                Err(bollard::errors::Error::DockerResponseServerError { message, .. })
                    if message.contains("out of sequence") && attempt < 4 => {}
                Err(e) => return Err(EngineError::api(&action, e)),
            }
        }
        unreachable!("the last attempt returns")
    }

    /// Remove a service (its tasks stop on every node); `false` when there was none.
    pub async fn remove_service(&self, name: &str) -> Result<bool> {
        match self.docker.delete_service(name).await {
            Ok(()) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(EngineError::api(format!("remove service {name}"), e)),
        }
    }

    /// The tasks of service `name` (current and history), each with its node's host name
    /// from `nodes`.
    pub async fn tasks(&self, name: &str, nodes: &[NodeInfo]) -> Result<Vec<TaskInfo>> {
        let mut filters = HashMap::new();
        filters.insert("service".to_owned(), vec![name.to_owned()]);
        let opts = ListTasksOptionsBuilder::new().filters(&filters).build();
        // What a task runs is compared with what the service says now: during an update
        // the old replicas still run, and are not what `up` waits for.
        let template = match self.docker.inspect_service(name, None).await {
            Ok(s) => s
                .spec
                .and_then(|s| s.task_template)
                .and_then(|t| serde_json::to_value(t).ok())
                .map(comparable),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => None,
            Err(e) => return Err(EngineError::api(format!("inspect service {name}"), e)),
        };
        let list = self
            .docker
            .list_tasks(Some(opts))
            .await
            .map_err(|e| EngineError::api(format!("list the tasks of service {name}"), e))?;
        let host = |id: &str| {
            nodes
                .iter()
                .find(|n| n.id == id)
                .map_or_else(|| id.to_owned(), |n| n.hostname.clone())
        };
        let mut tasks: Vec<TaskInfo> = list
            .into_iter()
            .map(|t| {
                let status = t.status.unwrap_or_default();
                let node_id = t.node_id.unwrap_or_default();
                let container = status.container_status.unwrap_or_default();
                let outdated = match (&template, t.spec) {
                    (Some(want), Some(has)) => {
                        serde_json::to_value(has).ok().as_ref() != Some(want)
                    }
                    _ => false,
                };
                TaskInfo {
                    outdated,
                    id: t.id.unwrap_or_default(),
                    slot: t.slot.unwrap_or_default(),
                    node: if node_id.is_empty() {
                        String::new()
                    } else {
                        host(&node_id)
                    },
                    node_id,
                    state: lower(status.state),
                    desired: lower(t.desired_state),
                    message: status.message.unwrap_or_default(),
                    error: status.err.unwrap_or_default(),
                    exit_code: container.exit_code,
                    container_id: container.container_id.unwrap_or_default(),
                    since: status.timestamp.unwrap_or_default(),
                }
            })
            .collect();
        sort_tasks(&mut tasks);
        Ok(tasks)
    }

    /// A task's output: the last `tail` lines (all when `None`), then, with `follow`, what
    /// it writes from now on. Read through the manager, whichever node runs it.
    pub fn task_logs(&self, task: &str, follow: bool, tail: Option<u64>) -> LogStream {
        let tail = tail.map_or_else(|| "all".to_owned(), |n| n.to_string());
        let opts = LogsOptionsBuilder::new()
            .follow(follow)
            .stdout(true)
            .stderr(true)
            .tail(&tail)
            .build();
        let id = task.to_owned();
        let stream = self
            .docker
            .task_logs(&id, Some(opts))
            .filter_map(move |item| {
                let out = match item {
                    Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                        Some(Ok(ExecOutput::Stdout(message)))
                    }
                    Ok(LogOutput::StdErr { message }) => Some(Ok(ExecOutput::Stderr(message))),
                    Ok(LogOutput::StdIn { .. }) => None,
                    Err(e) => Some(Err(EngineError::api(
                        format!("read the output of task {id}"),
                        e,
                    ))),
                };
                std::future::ready(out)
            });
        Box::pin(stream)
    }

    /// The last `n` lines task `id` wrote, as text (empty when they cannot be read, e.g.
    /// its node is down).
    pub async fn last_task_lines(&self, id: &str, n: u64) -> String {
        let mut stream = self.task_logs(id, false, Some(n));
        let mut text = Vec::new();
        let read = async {
            while let Some(Ok(chunk)) = stream.next().await {
                match chunk {
                    ExecOutput::Stdout(b) | ExecOutput::Stderr(b) => text.extend_from_slice(&b),
                }
            }
        };
        // A task on a node that just died has no one to answer for it.
        let _ = tokio::time::timeout(Duration::from_secs(3), read).await;
        String::from_utf8_lossy(&text).into_owned()
    }

    /// Push local image `image` as `repo:tag` and return the reference every node can
    /// pull it by: `repo@sha256:…`. The `repo:tag` name is removed again locally.
    pub async fn publish(&self, image: &str, repo: &str, tag: &str) -> Result<String> {
        let tagged = format!("{repo}:{tag}");
        self.tag(image, repo, tag).await?;
        let pushed = self.push(repo, tag).await;
        let info = self.image(&tagged).await;
        self.remove_image(&tagged).await?;
        pushed?;
        let digest = info?
            .and_then(|i| {
                i.repo_digests
                    .into_iter()
                    .find(|d| d.split_once('@').is_some_and(|(r, _)| r == repo))
            })
            .ok_or_else(|| EngineError::Api {
                action: format!("push {tagged}"),
                message: "the registry gave no digest for the pushed image".into(),
            })?;
        Ok(digest)
    }
}

/// A task spec as far as it says what a task runs: the engine fills in empty sections
/// and the runtime on one side and not the other, so those are left out.
fn comparable(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    fn prune(v: Value) -> Option<Value> {
        match v {
            Value::Null => None,
            Value::Object(m) => {
                let m: serde_json::Map<String, Value> = m
                    .into_iter()
                    .filter_map(|(k, v)| Some((k, prune(v)?)))
                    .collect();
                (!m.is_empty()).then_some(Value::Object(m))
            }
            Value::Array(a) if a.is_empty() => None,
            other => Some(other),
        }
    }
    let mut v = prune(v).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.remove("Runtime");
        m.remove("runtime");
    }
    v
}

fn service_info(s: bollard::models::Service) -> ServiceInfo {
    let spec = s.spec.unwrap_or_default();
    let task = spec.task_template.unwrap_or_default();
    ServiceInfo {
        id: s.id.unwrap_or_default(),
        name: spec.name.unwrap_or_default(),
        labels: spec.labels.unwrap_or_default(),
        replicas: spec
            .mode
            .and_then(|m| m.replicated)
            .and_then(|r| r.replicas)
            .and_then(|r| u64::try_from(r).ok()),
        image: task
            .container_spec
            .and_then(|c| c.image)
            .unwrap_or_default(),
        constraints: task
            .placement
            .and_then(|p| p.constraints)
            .unwrap_or_default(),
    }
}

/// By slot, the current task first, then newest first.
fn sort_tasks(tasks: &mut [TaskInfo]) {
    tasks.sort_by(|a, b| {
        a.slot
            .cmp(&b.slot)
            .then(b.current().cmp(&a.current()))
            .then(b.since.cmp(&a.since))
    });
}

/// A service's replicas at a glance, from its tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Replicas {
    pub desired: u64,
    /// Running the service's current spec, and healthy where there is a healthcheck.
    pub running: u64,
    /// The current task of each slot, by slot.
    pub current: Vec<TaskInfo>,
    /// Per slot: how many earlier runs failed or were moved off their node (swarm's
    /// restarts and moves).
    pub restarts: BTreeMap<i64, usize>,
    /// Per slot: the nodes it ran on before the current one, newest first, when it moved.
    pub moved_from: BTreeMap<i64, Vec<String>>,
}

impl Replicas {
    pub fn of(desired: u64, tasks: &[TaskInfo]) -> Replicas {
        let mut r = Replicas {
            desired,
            ..Replicas::default()
        };
        let mut slots: BTreeMap<i64, Vec<&TaskInfo>> = BTreeMap::new();
        for t in tasks {
            slots.entry(t.slot).or_default().push(t);
        }
        for (slot, mut ts) in slots {
            ts.sort_by(|a, b| b.current().cmp(&a.current()).then(b.since.cmp(&a.since)));
            let Some(cur) = ts.first().filter(|t| t.current()) else {
                continue;
            };
            if cur.running() && !cur.outdated {
                r.running += 1;
            }
            r.current.push((*cur).clone());
            // Earlier runs that failed, or that ran elsewhere (their node died or left);
            // one stopped for an update or `restart` is no restart.
            let restarts = ts[1..]
                .iter()
                .filter(|t| {
                    matches!(t.state.as_str(), "failed" | "rejected" | "orphaned")
                        || !t.error.is_empty()
                        || t.node != cur.node
                })
                .count();
            if restarts > 0 {
                r.restarts.insert(slot, restarts);
            }
            let before: Vec<String> = ts[1..]
                .iter()
                .filter(|t| !t.node.is_empty() && t.node != cur.node)
                .map(|t| t.node.clone())
                .collect();
            if !before.is_empty() && !cur.node.is_empty() {
                r.moved_from.insert(slot, before);
            }
        }
        r
    }

    /// Every desired replica runs (and is ready).
    pub fn complete(&self) -> bool {
        self.running >= self.desired
    }
}

/// Why a service's replicas are not all running, in swarm's own words: the newest
/// problem among its tasks (a task's error, or what holds a pending one), `None` when
/// nothing is wrong yet.
pub fn task_problem(tasks: &[TaskInfo]) -> Option<String> {
    let mut newest: Vec<&TaskInfo> = tasks.iter().collect();
    newest.sort_by(|a, b| b.since.cmp(&a.since));
    for t in newest {
        let on = if t.node.is_empty() {
            String::new()
        } else {
            format!(" on {}", t.node)
        };
        if !t.error.is_empty() {
            let code = match t.exit_code {
                Some(c) if c != 0 && !t.error.contains("exit") => format!(" (exit code {c})"),
                _ => String::new(),
            };
            return Some(format!("replica {}{on}: {}{code}", t.slot, t.error));
        }
        if t.current() && t.state == "pending" && !t.message.is_empty() {
            return Some(format!("replica {} pending: {}", t.slot, t.message));
        }
    }
    None
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod compare_tests {
    #[test]
    fn task_specs_compare_without_what_the_engine_fills_in() {
        let service = serde_json::json!({"ContainerSpec": {"Image": "a", "DNSConfig": {}},
            "Resources": {}, "ForceUpdate": 0, "Runtime": "container"});
        let task = serde_json::json!({"ContainerSpec": {"Image": "a"}, "ForceUpdate": 0});
        assert_eq!(super::comparable(service.clone()), super::comparable(task));
        let other = serde_json::json!({"ContainerSpec": {"Image": "b"}, "ForceUpdate": 0});
        assert_ne!(super::comparable(service.clone()), super::comparable(other));
        let forced = serde_json::json!({"ContainerSpec": {"Image": "a"}, "ForceUpdate": 1});
        assert_ne!(super::comparable(service), super::comparable(forced));
    }
}
