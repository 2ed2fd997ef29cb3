//! Nodes dying under a running environment, and what `up --swarm` refuses.

use std::time::Duration;

use serde_json::Value;

use super::{swarm, wait_for, SwarmProject, BUSYBOX, REGISTRY};

fn status(p: &SwarmProject) -> Value {
    serde_json::from_str(&p.ok(&["status", "--json"])).unwrap()
}

fn web(replicas: u32) -> String {
    format!(
        r#"
[services.web]
image = "{BUSYBOX}"
command = ["sh", "-c", "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 8000 -h /www"]
replicas = {replicas}
ready = "wget -q -O /dev/null http://127.0.0.1:8000/"
"#
    )
}

/// A replica on a node that dies runs elsewhere soon after, `status` shows where it came
/// from, and `run` reaches the service by its name.
#[test]
fn a_killed_node_moves_its_replica_and_run_still_reaches_the_service() {
    let Some(s) = swarm("a_killed_node_moves_its_replica_and_run_still_reaches_the_service") else {
        return;
    };
    let mut p = SwarmProject::new(s);
    p.t.manifest(&web(3));
    p.ok(&["up", "--swarm"]);
    let st = status(&p);
    let victim = st["services"]["web"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["node"].as_str().unwrap().to_owned())
        .find(|n| n != "node1")
        .expect("a replica on a worker");
    let i: usize = victim.trim_start_matches("node").parse().unwrap();
    p.s.kill(i);
    wait_for("the replica moved", Duration::from_secs(30), || {
        let st = status(&p);
        let web = &st["services"]["web"];
        let moved = web["tasks"].as_array().unwrap().iter().any(|t| {
            t["moved_from"]
                .as_array()
                .is_some_and(|m| m.iter().any(|n| n == victim.as_str()))
        });
        web["running"] == 3 && moved
    });
    let st = status(&p);
    for t in st["services"]["web"]["tasks"].as_array().unwrap() {
        assert_ne!(t["node"], victim.as_str(), "{st}");
    }
    let human = p.ok(&["status"]);
    assert!(human.contains(&format!("moved from {victim}")), "{human}");
    assert!(human.contains(&format!("{victim} (down)")), "{human}");
    // For a moment after a node dies, swarm's DNS can still list the dead replica's
    // address (its entry goes when the node leaves the overlay's gossip); a client that
    // tries each address, as most do, reaches a live replica. busybox wget tries only the
    // first, so the shell tries them in turn.
    let out = p.ok(&[
        "run",
        "--",
        "sh",
        "-c",
        "for ip in $(nslookup web 2>/dev/null | sed -n 's/^Address: //p'); do \
         wget -q -O- \"http://$ip:8000/\" && exit 0; done; exit 1",
    ]);
    assert_eq!(out.trim(), "hello");
}

/// A service with a named volume stays on the node holding it: when that node dies,
/// `status` says the service is down because its node is, and no replica starts empty
/// elsewhere.
#[test]
fn the_node_holding_a_volume_dies_and_status_says_why_the_service_is_down() {
    let Some(s) = swarm("the_node_holding_a_volume_dies_and_status_says_why_the_service_is_down")
    else {
        return;
    };
    let mut p = SwarmProject::new(s);
    p.t.manifest(&format!(
        r#"
[services.db]
image = "{BUSYBOX}"
command = ["sh", "-c", "mkdir -p /data && date >> /data/boots && exec sleep 100000"]
volumes = ["data:/data"]
"#
    ));
    p.ok(&["up", "--swarm"]);
    let st = status(&p);
    let node = st["services"]["db"]["tasks"][0]["node"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(node, "node1", "volumes go to a worker first: {st}");
    p.s.kill(node.trim_start_matches("node").parse().unwrap());
    wait_for("db shown down", Duration::from_secs(30), || {
        status(&p)["services"]["db"]["state"] == "down"
    });
    let st = status(&p);
    let db = &st["services"]["db"];
    let why = db["last_failure"].as_str().unwrap();
    assert!(why.contains(&format!("its node {node} is down")), "{why}");
    assert!(why.contains("holds volume"), "{why}");
    assert_eq!(db["running"], 0);
    for t in db["tasks"].as_array().unwrap() {
        assert_ne!(t["state"], "running", "db runs elsewhere, empty: {st}");
    }
    // `run` says so too, at once, instead of waiting for a replica that cannot come.
    let out = p.run(&["run", "--", "true"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("service `db` is down: its node"), "{err}");
}

/// On a swarm of several nodes, an image only this engine has cannot reach the others
/// without a registry: `up --swarm` says which services and what to add, and makes
/// nothing (no image built, no container, no service).
#[test]
fn a_missing_registry_is_refused_before_anything_is_made() {
    let Some(s) = swarm("a_missing_registry_is_refused_before_anything_is_made") else {
        return;
    };
    let p = SwarmProject::new(s);
    p.t.manifest(
        r#"
[services.worker]
command = "sleep 100000"
"#,
    );
    let out = p.run(&["up", "--swarm"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("service worker runs images only this engine has, and the swarm has 3 nodes"),
        "{err}"
    );
    assert!(
        err.contains("[cache]") && err.contains("registry = "),
        "{err}"
    );
    for i in 1..=super::NODES {
        assert_eq!(p.leftovers(i), Vec::<String>::new(), "node{i}");
    }
    // With the registry, the same manifest runs: the environment image is pushed by hash
    // and the service created by digest.
    p.t.write(
        "devenv.toml",
        &format!(
            "{}\n[cache]\nregistry = \"{REGISTRY}/{}\"\n",
            std::fs::read_to_string(p.t.root().join("devenv.toml")).unwrap(),
            p.t.name
        ),
    );
    let out = p.run(&["up", "--swarm"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let image = p.s.c.lines(
        1,
        &[
            "service",
            "ls",
            "--filter",
            &format!("label={}", p.t.label()),
            "--format",
            "{{.Image}}",
        ],
    );
    assert_eq!(image.len(), 1, "{image:?}");
    assert!(
        image[0].starts_with(&format!("{REGISTRY}/{}@sha256:", p.t.name)),
        "{image:?}"
    );
}

/// `--swarm` against an engine that cannot make services says what it is and what to do.
#[test]
fn swarm_on_a_worker_says_it_needs_a_manager() {
    let Some(s) = swarm("swarm_on_a_worker_says_it_needs_a_manager") else {
        return;
    };
    let p = SwarmProject::new(s);
    p.t.manifest(&web(1));
    let out = p
        .cmd(&["up", "--swarm"])
        .env("DOCKER_HOST", p.s.c.host(2))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--swarm needs a swarm manager, and the engine at unix://")
            && err.contains("is a worker of its swarm"),
        "{err}"
    );
    assert!(err.contains("docker swarm init"), "{err}");
    // `doctor` says what each engine is to the swarm.
    let doctor = p.ok(&["doctor"]);
    assert!(doctor.contains("swarm:           manager"), "{doctor}");
    assert!(
        doctor.contains("3 nodes: node1 (manager, ready), node2 (ready), node3 (ready)"),
        "{doctor}"
    );
    let worker = p
        .cmd(&["doctor"])
        .env("DOCKER_HOST", p.s.c.host(2))
        .output()
        .unwrap();
    let worker = String::from_utf8_lossy(&worker.stdout);
    assert!(
        worker.contains("swarm:           a worker node"),
        "{worker}"
    );
}

/// A replica whose `ready` probe starts failing is replaced by swarm itself; `status`
/// counts the restart and the service is ready again.
#[test]
fn an_unhealthy_replica_is_replaced() {
    let Some(s) = swarm("an_unhealthy_replica_is_replaced") else {
        return;
    };
    let p = SwarmProject::new(s);
    p.t.manifest(&format!(
        r#"
[services.web]
image = "{BUSYBOX}"
command = ["sh", "-c", "touch /tmp/ok && exec httpd -f -p 8000 -h /tmp"]
ready = "test -f /tmp/ok"
placement = ["node.role==manager"]
"#
    ));
    p.ok(&["up", "--swarm"]);
    // The replica runs on the manager (placement), whose engine can exec into it.
    let label = format!("label={}", p.t.label());
    let id = p.s.c.lines(
        1,
        &[
            "ps",
            "-q",
            "--filter",
            &label,
            "--filter",
            "label=dev.devenv.service=web",
        ],
    );
    assert_eq!(id.len(), 1, "{id:?}");
    let out = p.s.c.docker(1, &["exec", &id[0], "rm", "/tmp/ok"]);
    assert!(out.status.success(), "{out:?}");
    wait_for("the replica replaced", Duration::from_secs(45), || {
        let st = status(&p);
        let web = &st["services"]["web"];
        web["running"] == 1 && web["tasks"][0]["restarts"].as_u64() >= Some(1)
    });
    let now = p.s.c.lines(
        1,
        &[
            "ps",
            "-q",
            "--filter",
            &label,
            "--filter",
            "label=dev.devenv.service=web",
        ],
    );
    assert_ne!(now, id, "the same container still runs");
    p.ok(&["run", "--", "true"]);
}
