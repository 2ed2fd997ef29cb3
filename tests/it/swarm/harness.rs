//! The test cluster itself: what the swarm tests rely on.

use std::time::Duration;

use super::{swarm, wait_for, BUSYBOX, NODES};

/// Three nodes, all ready; a killed node is seen down by the manager and a re-added one
/// is ready again under the same host name (its former self removed), and every node
/// pulls from the registry on the manager's address.
#[test]
fn the_cluster_has_three_nodes_that_die_and_come_back() {
    let Some(mut s) = swarm("the_cluster_has_three_nodes_that_die_and_come_back") else {
        return;
    };
    let ready = |s: &super::Swarm| {
        let nodes = s.c.nodes();
        nodes.len() == NODES && nodes.iter().all(|(_, st)| st == "ready")
    };
    wait_for("all nodes ready", Duration::from_secs(20), || ready(&s));
    for i in 1..=NODES {
        let out = s.c.docker(i, &["pull", BUSYBOX]);
        assert!(
            out.status.success(),
            "node {i} cannot pull {BUSYBOX}: {out:?}"
        );
    }
    s.kill(2);
    let c = s.c;
    wait_for("node2 down", Duration::from_secs(20), || {
        c.nodes().iter().any(|(h, st)| h == "node2" && st == "down")
    });
    assert!(
        !c.docker(2, &["version"]).status.success(),
        "node 2 still answers"
    );
    s.add(2);
    wait_for("node2 back", Duration::from_secs(20), || ready(&s));
    let names: Vec<String> = c.nodes().into_iter().map(|(h, _)| h).collect();
    assert_eq!(
        names.iter().filter(|h| *h == "node2").count(),
        1,
        "{names:?}"
    );
}
