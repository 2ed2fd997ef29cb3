//! The environment's services on a cluster engine. Today that engine is Docker Swarm
//! (`swarm.rs`): each service a swarm service with its replicas spread over the nodes, on
//! one attachable overlay network of the project that the dev container (a plain container
//! on the engine devenv talks to) joins as well. Swarm itself restarts failed and unhealthy
//! replicas and moves them off a node that died; devenv creates, waits, reports and removes.
//!
//! What is not swarm-specific lives beside it: which images must be pushed so that every
//! node can pull them (`images.rs`), and where a service may run (`spec.rs`: pinned to the
//! node that holds its named volumes or the dev container's workspace). A second cluster
//! engine (docs/cluster.md) would be a sibling of `swarm.rs` offering the same operations.

pub mod images;
pub mod manage;
pub mod spec;
pub mod swarm;

use crate::engine::EngineError;
use crate::stack::StackError;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error("--swarm needs a swarm manager, and the engine at {endpoint} is {what}")]
    NotManager { endpoint: String, what: String },
    #[error(
        "{} {} {} images only this engine has, and the swarm has {nodes} nodes with no \
         registry to hand them over",
        if services.len() == 1 { "service" } else { "services" },
        services.join(", "),
        if services.len() == 1 { "runs" } else { "run" }
    )]
    NoRegistry { services: Vec<String>, nodes: usize },
    #[error("cannot push the image of service `{service}` to {registry}: {message}")]
    Push {
        service: String,
        registry: String,
        message: String,
    },
    #[error(
        "service `{service}` has {running} of {desired} replicas ready after {seconds} s{}{}",
        section("why", problem),
        section("last log lines", logs)
    )]
    NotReady {
        service: String,
        running: u64,
        desired: u64,
        seconds: u64,
        problem: String,
        logs: String,
    },
    #[error("service `{service}` has bind volumes ({paths}), which reach no other node")]
    BindVolumes { service: String, paths: String },
    #[error("no service named `{name}`")]
    UnknownService { name: String, known: Vec<String> },
    #[error(
        "{} on other nodes of the swarm: {}",
        if left.len() == 1 { "a volume stays" } else { "volumes stay" },
        left.join("; ")
    )]
    VolumesElsewhere { left: Vec<String> },
    #[error("service `{service}` is down: {why}")]
    NodeDown { service: String, why: String },
    #[error("service `{name}` is not on the swarm yet")]
    NotCreated { name: String },
    #[error("interrupted while waiting for the swarm services")]
    Interrupted,
}

fn section(title: &str, text: &str) -> String {
    let text = text.trim_end();
    if text.is_empty() {
        return String::new();
    }
    let body: Vec<String> = text.lines().map(|l| format!("    {l}")).collect();
    format!("\n  {title}:\n{}", body.join("\n"))
}

impl ClusterError {
    pub fn exit_code(&self) -> i32 {
        match self {
            ClusterError::Engine(e) => e.exit_code(),
            ClusterError::Stack(e) => e.exit_code(),
            ClusterError::Interrupted => crate::error::EXIT_INTERRUPTED,
            _ => 1,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            ClusterError::Engine(e) => e.hint(),
            ClusterError::Stack(e) => e.hint(),
            ClusterError::NotManager { .. } => Some(
                "point DOCKER_HOST (or the docker context) at a manager of the swarm, or make \
                 this engine one with `docker swarm init`; without --swarm (and DEVENV_SWARM) \
                 devenv runs the services as plain containers"
                    .into(),
            ),
            ClusterError::NoRegistry { .. } => Some(
                "add a registry every node can pull from to devenv.toml, e.g. `[cache]` with \
                 `registry = \"registry.example:5000/myproject\"`: devenv pushes these images \
                 there by hash and creates the services by digest"
                    .into(),
            ),
            ClusterError::Push { .. } => Some(
                "check that this engine can push to the registry (`docker push`), and its \
                 credentials (DEVENV_REGISTRY_USER/DEVENV_REGISTRY_PASSWORD or `docker login`)"
                    .into(),
            ),
            ClusterError::NotReady { service, .. } => Some(format!(
                "`devenv status` shows each replica's node and state, `devenv logs {service}` \
                 its output; fix the service and run `devenv up --swarm` again"
            )),
            ClusterError::BindVolumes { .. } => Some(
                "use a named volume (`name:/path`), which stays on the node that holds it, or \
                 run without --swarm"
                    .into(),
            ),
            ClusterError::UnknownService { known, .. } => Some(if known.is_empty() {
                "this manifest has no [services]".into()
            } else {
                format!("the services are: {}", known.join(", "))
            }),
            ClusterError::VolumesElsewhere { .. } => Some(
                "a swarm manager cannot remove another node's volumes: run the command shown \
                 against each of those nodes' engines; everything else is gone"
                    .into(),
            ),
            ClusterError::NodeDown { .. } => Some(
                "bring that node back (`docker node ls` on the manager shows it), or move the \
                 data and say where the service runs with `placement`"
                    .into(),
            ),
            ClusterError::NotCreated { .. } => {
                Some("`devenv up --swarm` creates the services first".into())
            }
            ClusterError::Interrupted => None,
        }
    }
}
