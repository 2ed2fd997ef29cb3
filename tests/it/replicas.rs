//! Replicas and limits on one engine: several containers behind one name, memory and CPU
//! limits on each, `devenv scale` at once and back to the manifest's count at the next
//! `up`, what one engine refuses, and the fields `status --json` gains.

use std::collections::BTreeSet;

use crate::common::{docker, docker_lines, stderr, TestContext};

/// A project whose `svc` image is the busybox fixture imported under a local tag; `body`
/// follows `[base]`.
fn project(body: &str) -> TestContext {
    let t = TestContext::new();
    t.manifest(body);
    let tag = format!("devenv-it-svc:{}", t.name);
    t.import_base(&tag);
    let text = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write("devenv.toml", &text.replace("SVC_IMAGE", &tag));
    t
}

fn status(t: &TestContext) -> serde_json::Value {
    serde_json::from_str(&t.ok(&["status", "--json"])).unwrap()
}

/// The test's containers of service `name`.
fn replicas(t: &TestContext, name: &str) -> Vec<String> {
    docker_lines(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label={}", t.label()),
        "--filter",
        &format!("label=dev.devenv.service={name}"),
    ])
}

/// The addresses `name` resolves to inside the dev container.
fn resolved(t: &TestContext, name: &str) -> BTreeSet<String> {
    let out = t.ok(&["run", "--", "nslookup", name]);
    let answer = out.split("Name:").skip(1).collect::<Vec<_>>().join("\n");
    answer
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Address:"))
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty() && !a.contains(':'))
        .collect()
}

fn address(container: &str) -> String {
    docker(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        container,
    ])
    .trim()
    .to_owned()
}

const WEB: &str = r#"
[services.web]
image = "SVC_IMAGE"
command = "hostname > /tmp/index.html; exec httpd -f -p 80 -h /tmp"
ready = "wget -q -O /dev/null http://127.0.0.1/"
replicas = 3
memory = "64m"
cpus = 0.5
placement = ["node.labels.tier==web"]
"#;

#[test]
fn replicas_answer_to_one_name_with_their_limits_and_scale_holds_until_up() {
    let t = project(WEB);
    let out = t.run(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`placement` is for a swarm") && stderr(&out).contains("ignored"),
        "{}",
        stderr(&out)
    );
    let ids = replicas(&t, "web");
    assert_eq!(ids.len(), 3, "three containers run the service");
    // One name, every replica's address (DNS round robin on the project network).
    let want: BTreeSet<String> = ids.iter().map(|id| address(id)).collect();
    assert_eq!(want.len(), 3);
    assert_eq!(resolved(&t, "web"), want);
    // Each answers by that name's addresses with its own page.
    for ip in &want {
        let page = t.ok(&["run", "--", "wget", "-q", "-O-", &format!("http://{ip}/")]);
        assert!(page.starts_with("web"), "{page}");
    }
    // The limits are the engine's.
    for id in &ids {
        assert_eq!(
            docker(&[
                "inspect",
                "-f",
                "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}",
                id
            ])
            .trim(),
            "67108864 500000000"
        );
    }
    let v = status(&t);
    assert_eq!(v["mode"], "containers");
    let web = &v["services"]["web"];
    assert_eq!(web["replicas"], 3);
    assert_eq!(web["running"], 3);
    let tasks = web["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 3);
    let node = docker(&["info", "-f", "{{.Name}}"]).trim().to_owned();
    for (task, n) in tasks.iter().zip(1..) {
        assert_eq!(task["replica"], n);
        assert_eq!(task["node"], node.as_str());
        assert_eq!(task["state"], "running");
        assert_eq!(task["ready"], true);
    }

    // Scale up: at once, and `run` keeps the count.
    t.ok(&["scale", "web=5"]);
    assert_eq!(replicas(&t, "web").len(), 5);
    let v = status(&t);
    assert_eq!(v["services"]["web"]["replicas"], 5);
    assert_eq!(v["services"]["web"]["running"], 5);
    assert_eq!(resolved(&t, "web").len(), 5);
    // Scale down: the highest replicas go, the others stay as they were.
    t.ok(&["scale", "web=2"]);
    let left = replicas(&t, "web");
    assert_eq!(left.len(), 2);
    assert!(left
        .iter()
        .all(|id| ids.iter().any(|i| i.starts_with(id.as_str()))));
    assert_eq!(status(&t)["services"]["web"]["replicas"], 2);
    // The next `up` goes back to the manifest's count, saying so.
    let out = t.run(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "service web: back to 3 replicas as the manifest says (`devenv scale` had set 2)"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(replicas(&t, "web").len(), 3);
    assert_eq!(status(&t)["services"]["web"]["replicas"], 3);
    // Fewer replicas in the manifest: the surplus goes at the next `up`.
    let text = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write("devenv.toml", &text.replace("replicas = 3", "replicas = 1"));
    let out = t.run(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(replicas(&t, "web").len(), 1);
    t.ok(&["down"]);
    assert!(t.containers().is_empty());
}

#[test]
fn one_engine_refuses_replicas_sharing_a_host_port_or_a_written_volume() {
    let t = project(
        r#"
[services.web]
image = "SVC_IMAGE"
command = "exec httpd -f -p 80 -h /tmp"
ports = ["127.0.0.1:18581:80"]

[services.db]
image = "SVC_IMAGE"
command = "sleep 1000"
volumes = ["data:/data"]
"#,
    );
    // Scaling a service with a host port is refused, naming it and the fix.
    let out = t.run(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = t.run(&["scale", "web=2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("service `web` cannot run 2 replicas on one engine")
            && err.contains("127.0.0.1:18581:80")
            && err.contains("hint: remove `ports`"),
        "{err}"
    );
    let out = t.run(&["scale", "db=3"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("would all write the named volume `data`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(replicas(&t, "web").len(), 1);
    assert_eq!(replicas(&t, "db").len(), 1);
    // The same in the manifest: `up` refuses before changing anything.
    let text = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write(
        "devenv.toml",
        &text.replace(
            "volumes = [\"data:/data\"]",
            "volumes = [\"data:/data\"]\nreplicas = 2",
        ),
    );
    let out = t.run(&["up"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("service `db` cannot run 2 replicas on one engine"),
        "{}",
        stderr(&out)
    );
    assert_eq!(replicas(&t, "db").len(), 1);
    // Read-only, the volume is shared safely.
    let text = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write(
        "devenv.toml",
        &text.replace("data:/data\"", "data:/data:ro\""),
    );
    let out = t.run(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(replicas(&t, "db").len(), 2);
    // Unknown services and bad counts.
    let out = t.run(&["scale", "nope=2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no service named `nope`"),
        "{}",
        stderr(&out)
    );
    let out = t.run(&["scale", "web"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("expected SERVICE=N"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn replicas_and_limits_are_checked_with_their_place_in_the_manifest() {
    let t = TestContext::new();
    t.manifest(
        r#"
[services.web]
image = "busybox:1"
replicas = 0
memory = "lots"
cpus = -1
placement = ["tier=web"]
"#,
    );
    let out = t.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    for (needle, line) in [
        ("`replicas` is out of range", 7),
        ("invalid `memory` value \"lots\"", 8),
        ("invalid `cpus` value -1", 9),
        ("invalid placement constraint \"tier=web\"", 10),
    ] {
        assert!(err.contains(needle), "{needle}: {err}");
        assert!(
            err.contains(&format!("devenv.toml:{line}:")),
            "line {line}: {err}"
        );
    }
}
