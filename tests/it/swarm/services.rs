//! `devenv up --swarm` on a real three-node swarm: replicas spread over the nodes, a stateful
//! service pinned to the node holding its volume, names resolving from the dev container,
//! scale, failover, refusals and `down` on every node.

use std::time::Duration;

use serde_json::Value;

use super::{swarm, SwarmProject, BUSYBOX, NODES, REGISTRY};

/// A replicated web service answering with its task's host name, and a stateful service
/// keeping a file in its named volume.
fn stack_manifest(p: &SwarmProject, web_replicas: u32) -> String {
    format!(
        r#"
[cache]
registry = "{REGISTRY}/{name}"

[services.web]
image = "{BUSYBOX}"
command = ["sh", "-c", "mkdir -p /www && cat /etc/hostname > /www/index.html && echo web up && exec httpd -f -p 8000 -h /www"]
replicas = {web_replicas}
ready = "wget -q -O /dev/null http://127.0.0.1:8000/"

[services.db]
image = "{BUSYBOX}"
command = ["sh", "-c", "mkdir -p /data/www && date >> /data/www/boots && exec httpd -f -p 5432 -h /data/www"]
volumes = ["data:/data"]
ready = "wget -q -O /dev/null http://127.0.0.1:5432/boots"
"#,
        name = p.t.name
    )
}

fn status(p: &SwarmProject) -> Value {
    serde_json::from_str(&p.ok(&["status", "--json"])).unwrap()
}

/// The nodes the current replicas of `service` run on.
fn nodes_of(st: &Value, service: &str) -> Vec<String> {
    st["services"][service]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["node"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn up_swarm_spreads_replicas_pins_the_volume_and_scales() {
    let Some(s) = swarm("up_swarm_spreads_replicas_pins_the_volume_and_scales") else {
        return;
    };
    let p = SwarmProject::new(s);
    p.t.manifest(&stack_manifest(&p, 3));
    let out = p.run(&["up", "--swarm"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("created swarm service web"), "{err}");
    assert!(
        err.contains("created swarm service db (pinned to node"),
        "{err}"
    );

    let st = status(&p);
    assert_eq!(st["mode"], "swarm");
    assert_eq!(st["nodes"].as_array().unwrap().len(), NODES);
    let web = &st["services"]["web"];
    assert_eq!(
        (web["replicas"].as_u64(), web["running"].as_u64()),
        (Some(3), Some(3))
    );
    let mut spread = nodes_of(&st, "web");
    spread.sort();
    spread.dedup();
    assert!(spread.len() >= 2, "3 replicas on one node: {st}");
    let db_node = nodes_of(&st, "db").pop().unwrap();
    // The volume lives where the service runs, and nowhere else.
    let i: usize = db_node.trim_start_matches("node").parse().unwrap();
    let vol = p.s.c.lines(
        i,
        &[
            "volume",
            "ls",
            "-q",
            "--filter",
            &format!("label={}", p.t.label()),
        ],
    );
    assert_eq!(vol.len(), 1, "{vol:?} on {db_node}");

    // Both names resolve from the dev container, across nodes; `web` by round robin.
    let out = p.ok(&[
        "run",
        "--",
        "sh",
        "-c",
        "wget -q -O- http://db:5432/boots | wc -l; for i in 1 2 3 4 5 6; do wget -q -O- http://web:8000/; done | sort -u | wc -l",
    ]);
    let counts: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(counts[0], "1", "db answered: {out}");
    assert!(counts[1].parse::<u32>().unwrap() >= 1, "{out}");
    let addrs = p.ok(&[
        "run",
        "--",
        "sh",
        "-c",
        "nslookup web 2>/dev/null | grep -c '^Address: '",
    ]);
    assert_eq!(addrs.trim(), "3", "web resolves to every replica");

    // Scale up and down: at once, every replica ready when it returns, and the replicas
    // that ran keep running (a scale is no rolling restart).
    let web_tasks = || {
        let name = st["services"]["web"]["name"].as_str().unwrap().to_owned();
        let mut ids = p.s.c.lines(
            1,
            &[
                "service",
                "ps",
                "-q",
                "--filter",
                "desired-state=running",
                &name,
            ],
        );
        ids.sort();
        ids
    };
    let before = web_tasks();
    p.ok(&["scale", "web=5"]);
    let after = web_tasks();
    assert!(
        before.iter().all(|t| after.contains(t)),
        "{before:?} → {after:?}"
    );
    let st = status(&p);
    assert_eq!(st["services"]["web"]["running"], 5, "{st}");
    p.ok(&["scale", "web=1"]);
    let st = status(&p);
    assert_eq!(st["services"]["web"]["replicas"], 1, "{st}");
    assert_eq!(
        st["services"]["web"]["tasks"].as_array().unwrap().len(),
        1,
        "{st}"
    );
    // The next `up` goes back to the manifest's count.
    let out = p.run(&["up"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("back to the manifest's 3 replicas"), "{err}");
    assert_eq!(status(&p)["services"]["web"]["running"], 3);
    // Each replica's output, read through the manager whichever node runs it.
    let logs = p.ok(&["logs", "web"]);
    let prefixed: Vec<&str> = logs.lines().filter(|l| l.contains("web up")).collect();
    assert_eq!(prefixed.len(), 3, "{logs}");
    assert!(prefixed.iter().all(|l| l.starts_with("web.")), "{logs}");
    assert!(prefixed.iter().all(|l| l.contains("@node")), "{logs}");

    // `down` leaves nothing of the project on any node but the named volume, which it names.
    let out = p.run(&["down", "--volumes"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("on {db_node} (`docker volume rm")),
        "down names the volume on {db_node}: {err}"
    );
    assert_nothing_left(&p, &db_node);
}

/// Nothing of the project on any node (within a few seconds: each node removes its
/// replicas itself) but images, which `down` keeps as it does on one engine, and the named
/// volume on `volume_node`.
fn assert_nothing_left(p: &SwarmProject, volume_node: &str) {
    let left = || -> Vec<String> {
        (1..=NODES)
            .flat_map(|i| {
                p.leftovers(i)
                    .into_iter()
                    .filter(move |l| {
                        let kept_volume =
                            l.starts_with("volume ") && format!("node{i}") == volume_node;
                        !(l.starts_with("image ") || kept_volume)
                    })
                    .map(move |l| format!("node{i}: {l}"))
            })
            .collect()
    };
    let t0 = std::time::Instant::now();
    while !left().is_empty() && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(left(), Vec::<String>::new(), "left after down");
}

/// Removes a `docker stack deploy` stack (its services carry the stack's labels, not
/// devenv's), also when the test fails.
struct Stack<'a> {
    p: &'a SwarmProject,
    name: String,
}

impl Drop for Stack<'_> {
    fn drop(&mut self) {
        let _ = self.p.s.c.docker(1, &["stack", "rm", &self.name]);
    }
}

/// `devenv export stack` writes a file `docker stack deploy` accepts and runs on the swarm:
/// the replicas, the dnsrr endpoint and the placement it says.
#[test]
fn the_exported_stack_file_is_deployed_by_docker_stack_deploy() {
    let Some(s) = swarm("the_exported_stack_file_is_deployed_by_docker_stack_deploy") else {
        return;
    };
    let p = SwarmProject::new(s);
    p.t.manifest(&format!(
        r#"
[services.web]
image = "{BUSYBOX}"
command = ["sh", "-c", "mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 8000 -h /www"]
replicas = 2
memory = "64m"
placement = ["node.role==worker"]
"#
    ));
    p.ok(&["export", "stack", "-o", "stack.yml"]);
    let stack = Stack {
        p: &p,
        name: format!("st{}", std::process::id()),
    };
    let out = p.s.c.docker(
        1,
        &[
            "stack",
            "deploy",
            "-c",
            p.t.root().join("stack.yml").to_str().unwrap(),
            &stack.name,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let service = format!("{}_web", stack.name);
    let c = p.s.c;
    let running = || {
        c.lines(
            1,
            &[
                "service",
                "ps",
                &service,
                "--filter",
                "desired-state=running",
                "--format",
                "{{.Node}} {{.CurrentState}}",
            ],
        )
    };
    let t0 = std::time::Instant::now();
    while running().iter().filter(|l| l.contains("Running")).count() < 2
        && t0.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    let tasks = running();
    assert_eq!(
        tasks.iter().filter(|l| l.contains("Running")).count(),
        2,
        "{tasks:?}"
    );
    assert!(
        tasks.iter().all(|l| !l.starts_with("node1 ")),
        "placement: {tasks:?}"
    );
    let spec = c.lines(
        1,
        &[
            "service",
            "inspect",
            &service,
            "--format",
            "{{.Spec.EndpointSpec.Mode}} {{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}}",
        ],
    );
    assert_eq!(spec, [format!("dnsrr {}", 64 << 20)]);
}
