//! A manifest service as a swarm service: the container `stack` would make for it, how it
//! is deployed (replicas, limits, placement, endpoint mode) and where it may run.
//!
//! Where it may run is what keeps data from being lost silently. A named volume is local
//! to the node that made it, so a service with named volumes is pinned to one node (chosen
//! once, then kept in the service's labels; `placement` in the manifest replaces the pin).
//! A service that runs from the environment image with the project mounted, or with bind
//! volumes, needs what only the dev container's node has (the bound or synced workspace),
//! so it is pinned with the dev container, to the node devenv talks to.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::engine::{
    labels, ContainerSpec, Deploy, EndpointMode, Mount, NodeInfo, ServiceOptions, SwarmService,
};
use crate::manifest::Service;

/// Why a service is pinned to one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "why")]
pub enum PinReason {
    /// It holds these named volumes (their engine names).
    Volumes { volumes: Vec<String> },
    /// It mounts the project (the dev container's workspace) or bind volumes.
    Workspace,
}

/// The node a service is pinned to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    pub node_id: String,
    /// Its host name when pinned (for messages; the id is what counts).
    pub node: String,
    #[serde(flatten)]
    pub why: PinReason,
}

impl Pin {
    /// `pinned to node2, which holds volume pgdata`.
    pub fn describe(&self) -> String {
        match &self.why {
            PinReason::Volumes { volumes } => format!(
                "pinned to {}, which holds {} {}",
                self.node,
                if volumes.len() == 1 {
                    "volume"
                } else {
                    "volumes"
                },
                volumes.join(", ")
            ),
            PinReason::Workspace => format!(
                "pinned to {} with the dev container, whose workspace it mounts",
                self.node
            ),
        }
    }

    pub fn from_labels(l: &HashMap<String, String>) -> Option<Pin> {
        serde_json::from_str(l.get(labels::PIN)?).ok()
    }
}

/// What the service mounts that exists on one node only: named volumes, and whether it
/// mounts the workspace or host paths.
fn local_mounts(c: &ContainerSpec) -> (Vec<String>, bool) {
    let mut volumes = Vec::new();
    let mut workspace = false;
    for m in &c.mounts {
        match m {
            Mount::Volume { name, .. } => volumes.push(name.clone()),
            Mount::Bind { .. } | Mount::Synced { .. } => workspace = true,
        }
    }
    (volumes, workspace)
}

/// Where a service may run: its pin (if it needs one) and the placement constraints that
/// say so. `dev_node` is the node the dev container runs on (the engine devenv talks to);
/// `kept` is the pin the service already has; `choose` picks a node for new volumes.
pub fn placement(
    c: &ContainerSpec,
    user: &[String],
    dev_node: &NodeInfo,
    kept: Option<Pin>,
    choose: impl FnOnce() -> Option<NodeInfo>,
) -> (Vec<String>, Option<Pin>) {
    let (volumes, workspace) = local_mounts(c);
    let pin = if workspace {
        Some(Pin {
            node_id: dev_node.id.clone(),
            node: dev_node.hostname.clone(),
            why: PinReason::Workspace,
        })
    } else if volumes.is_empty() || !user.is_empty() {
        None
    } else {
        let node = match kept {
            Some(p) if !matches!(p.why, PinReason::Workspace) => Some((p.node_id, p.node)),
            _ => choose().map(|n| (n.id, n.hostname)),
        };
        node.map(|(node_id, node)| Pin {
            node_id,
            node,
            why: PinReason::Volumes { volumes },
        })
    };
    let mut constraints = user.to_vec();
    if let Some(p) = &pin {
        constraints.push(format!("node.id=={}", p.node_id));
    }
    (constraints, pin)
}

/// The node new named volumes go to: a schedulable worker before a manager (which keeps the
/// dev container and the swarm's state), the one holding the fewest of the project's pinned
/// services first, then by host name.
pub fn choose_node(nodes: &[NodeInfo], pinned: &BTreeMap<String, usize>) -> Option<NodeInfo> {
    nodes
        .iter()
        .filter(|n| n.schedulable())
        .min_by_key(|n| {
            (
                n.role == "manager",
                pinned.get(&n.id).copied().unwrap_or(0),
                n.hostname.clone(),
            )
        })
        .cloned()
}

/// How the manifest deploys `service` on a swarm (its constraints before any pin).
pub fn deploy(service: &Service) -> Deploy {
    Deploy {
        replicas: u64::from(service.replicas),
        memory: service.memory.and_then(|m| i64::try_from(m).ok()),
        nano_cpus: service.nano_cpus.and_then(|c| i64::try_from(c).ok()),
        constraints: service.placement.clone(),
        endpoint: EndpointMode::Dnsrr,
    }
}

#[allow(clippy::implicit_hasher, clippy::too_many_arguments)]
/// The swarm service for one manifest service: `container`/`options` as `stack` makes them
/// for a container, `image` what every node pulls, `deploy` with its constraints final.
pub fn swarm_service(
    name: &str,
    mut container: ContainerSpec,
    options: ServiceOptions,
    image: &str,
    deploy: Deploy,
    record: &DeployRecord,
    pin: Option<&Pin>,
    volume_labels: HashMap<String, String>,
) -> SwarmService {
    let service_name = container.name.take().unwrap_or_else(|| name.to_owned());
    image.clone_into(&mut container.image);
    // A replica's host name is its service's, as for a container.
    let mut labels = container.labels.clone();
    labels.insert(
        labels::DEPLOY.to_owned(),
        serde_json::to_string(record).expect("deploy serialises"),
    );
    if let Some(p) = pin {
        labels.insert(
            labels::PIN.to_owned(),
            serde_json::to_string(p).expect("pin serialises"),
        );
    }
    SwarmService {
        name: service_name,
        labels,
        container,
        options,
        deploy,
        volume_labels,
    }
}

/// What of the manifest's [`Deploy`] (before pins) is compared with the service's label to
/// tell whether it needs an update (the replica count is `scale`'s, compared by itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployRecord {
    pub memory: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub constraints: Vec<String>,
    pub endpoint: EndpointMode,
}

impl DeployRecord {
    pub fn of(d: &Deploy) -> DeployRecord {
        DeployRecord {
            memory: d.memory,
            nano_cpus: d.nano_cpus,
            constraints: d.constraints.clone(),
            endpoint: d.endpoint,
        }
    }

    pub fn from_labels(l: &HashMap<String, String>) -> Option<DeployRecord> {
        serde_json::from_str(l.get(labels::DEPLOY)?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, role: &str, state: &str) -> NodeInfo {
        NodeInfo {
            id: id.into(),
            hostname: format!("host-{id}"),
            role: role.into(),
            state: state.into(),
            availability: "active".into(),
            ..NodeInfo::default()
        }
    }

    fn with(mounts: Vec<Mount>) -> ContainerSpec {
        ContainerSpec {
            name: Some("devenv-app-12345678-db".into()),
            image: "devenv/app:1".into(),
            cmd: Vec::new(),
            env: Vec::new(),
            workdir: None,
            labels: HashMap::new(),
            mounts,
            ports: Vec::new(),
            network: None,
            init: false,
            open_stdin: false,
            stdin_once: false,
            hostname: None,
            user: None,
        }
    }

    fn volume(name: &str) -> Mount {
        Mount::Volume {
            name: name.into(),
            target: "/data".into(),
            read_only: false,
        }
    }

    #[test]
    fn a_service_with_a_volume_is_pinned_to_the_chosen_node_and_keeps_it() {
        let dev = node("n1", "manager", "ready");
        let c = with(vec![volume("devenv-app-12345678-pgdata")]);
        let (constraints, pin) =
            placement(&c, &[], &dev, None, || Some(node("n2", "worker", "ready")));
        assert_eq!(constraints, ["node.id==n2"]);
        let pin = pin.unwrap();
        assert_eq!(
            pin.describe(),
            "pinned to host-n2, which holds volume devenv-app-12345678-pgdata"
        );
        // Later: the pin stays even when another node would be chosen now.
        let (constraints, _) = placement(&c, &[], &dev, Some(pin), || {
            Some(node("n3", "worker", "ready"))
        });
        assert_eq!(constraints, ["node.id==n2"]);
    }

    #[test]
    fn placement_in_the_manifest_replaces_the_volume_pin_but_not_the_workspace_pin() {
        let dev = node("n1", "manager", "ready");
        let user = vec!["node.labels.disk==ssd".to_owned()];
        let c = with(vec![volume("v")]);
        let (constraints, pin) = placement(&c, &user, &dev, None, || unreachable!());
        assert_eq!((constraints, pin), (user.clone(), None));
        let ws = with(vec![Mount::Synced {
            name: "ws".into(),
            target: "/work".into(),
            read_only: false,
        }]);
        let (constraints, pin) = placement(&ws, &user, &dev, None, || unreachable!());
        assert_eq!(constraints, ["node.labels.disk==ssd", "node.id==n1"]);
        assert_eq!(pin.unwrap().why, PinReason::Workspace);
        let (constraints, pin) = placement(&with(Vec::new()), &[], &dev, None, || unreachable!());
        assert!(constraints.is_empty() && pin.is_none());
    }

    #[test]
    fn new_volumes_go_to_the_least_pinned_ready_worker() {
        let nodes = vec![
            node("n1", "manager", "ready"),
            node("n2", "worker", "ready"),
            node("n3", "worker", "ready"),
            node("n4", "worker", "down"),
        ];
        assert_eq!(choose_node(&nodes, &BTreeMap::new()).unwrap().id, "n2");
        let pinned = BTreeMap::from([("n2".to_owned(), 1)]);
        assert_eq!(choose_node(&nodes, &pinned).unwrap().id, "n3");
        assert_eq!(choose_node(&nodes[..1], &pinned).unwrap().id, "n1");
        assert!(choose_node(&nodes[3..], &pinned).is_none());
    }

    #[test]
    fn the_swarm_service_carries_its_deploy_and_pin_in_labels() {
        let pin = Pin {
            node_id: "n2".into(),
            node: "host-n2".into(),
            why: PinReason::Volumes {
                volumes: vec!["v".into()],
            },
        };
        let d = Deploy {
            replicas: 2,
            memory: Some(1 << 28),
            constraints: vec!["node.id==n2".into()],
            ..Deploy::default()
        };
        let s = swarm_service(
            "db",
            with(vec![volume("v")]),
            ServiceOptions::default(),
            "10.0.0.1:5000/app@sha256:aa",
            d.clone(),
            &DeployRecord::of(&d),
            Some(&pin),
            HashMap::new(),
        );
        assert_eq!(s.name, "devenv-app-12345678-db");
        assert_eq!(s.container.image, "10.0.0.1:5000/app@sha256:aa");
        assert_eq!(Pin::from_labels(&s.labels), Some(pin));
        assert_eq!(
            DeployRecord::from_labels(&s.labels),
            Some(DeployRecord::of(&d))
        );
    }
}
