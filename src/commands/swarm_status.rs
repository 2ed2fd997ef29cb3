//! What `devenv status` prints for services on a swarm: the nodes, and each replica's node
//! and state, with its restarts and moves.

use crate::engine::NodeInfo;
use crate::stack::ServiceStatus;

/// `3 nodes: node1 (manager, ready), node2 (ready), node3 (down)`.
pub(super) fn nodes_line(nodes: &[NodeInfo]) -> String {
    let each: Vec<String> = nodes
        .iter()
        .map(|n| {
            let mut what = Vec::new();
            if n.role == "manager" {
                what.push("manager");
            }
            what.push(n.state.as_str());
            if n.availability != "active" {
                what.push(n.availability.as_str());
            }
            format!("{} ({})", n.hostname, what.join(", "))
        })
        .collect();
    format!(
        "{} node{}: {}",
        nodes.len(),
        if nodes.len() == 1 { "" } else { "s" },
        each.join(", ")
    )
}

/// `replica 2 on node3: running (1 restart; moved from node2)`.
pub(super) fn task_lines(s: &ServiceStatus) -> Vec<String> {
    s.tasks
        .iter()
        .map(|t| {
            let mut extra = Vec::new();
            if t.restarts > 0 {
                extra.push(format!(
                    "{} restart{}",
                    t.restarts,
                    if t.restarts == 1 { "" } else { "s" }
                ));
            }
            if !t.moved_from.is_empty() {
                extra.push(format!("moved from {}", t.moved_from.join(", ")));
            }
            if let Some(e) = &t.error {
                extra.push(e.clone());
            }
            let on = if t.node.is_empty() {
                "not placed".to_owned()
            } else {
                format!("on {}", t.node)
            };
            let extra = if extra.is_empty() {
                String::new()
            } else {
                format!(" ({})", extra.join("; "))
            };
            format!("replica {} {on}: {}{extra}", t.replica, t.state)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::Task;

    #[test]
    fn nodes_and_replicas_read_as_a_line_each() {
        let node = |h: &str, role: &str, state: &str| NodeInfo {
            hostname: h.into(),
            role: role.into(),
            state: state.into(),
            availability: "active".into(),
            ..NodeInfo::default()
        };
        let nodes = [
            node("node1", "manager", "ready"),
            node("node2", "worker", "down"),
        ];
        assert_eq!(
            nodes_line(&nodes),
            "2 nodes: node1 (manager, ready), node2 (down)"
        );
        let task = Task {
            replica: 2,
            node: "node3".into(),
            state: "running".into(),
            ready: Some(true),
            container: None,
            restarts: 1,
            error: None,
            moved_from: vec!["node2".into()],
        };
        let s = ServiceStatus {
            id: None,
            name: Some("devenv-app-12345678-web".into()),
            image: None,
            state: "running".into(),
            health: None,
            ready: Some(true),
            restarts: 1,
            unhealthy: None,
            exit_code: None,
            up_to_date: true,
            changes: Vec::new(),
            last_failure: None,
            replicas: 1,
            running: 1,
            tasks: vec![task],
        };
        assert_eq!(
            task_lines(&s),
            ["replica 2 on node3: running (1 restart; moved from node2)"]
        );
    }
}
