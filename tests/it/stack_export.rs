//! `devenv export stack`: a Compose 3.8 file with `deploy:` for `docker stack deploy`
//! (snapshot, and the Compose schema check of `docker-compose config`), read back by
//! `devenv import devcontainer`. Deploying it on a real swarm is the swarm tests' part.

use std::process::Command;

use crate::common::{busybox_rootfs, stderr, stdout, TestContext};

const SERVICES: &str = r#"
[container]
ports = ["127.0.0.1:18480:8000"]

[services.web]
image = "SVC_IMAGE"
command = "exec httpd -f -p 80 -h /tmp"
ready = "wget -q -O /dev/null http://127.0.0.1/"
replicas = 3
memory = "256m"
cpus = 0.5
placement = ["node.labels.tier==web"]
restart = "always"

[services.db]
image = "SVC_IMAGE"
command = ["sleep", "1000"]
volumes = ["pgdata:/var/lib/data"]
depends_on = ["web"]

[services.worker]
command = "while true; do sleep 1; done"
replicas = 2
restart = "no"
"#;

/// Paths, the test's name and hashes vary per run.
fn filtered(t: &TestContext, text: &str) -> String {
    let mut out = text.replace(
        &t.root().canonicalize().unwrap().display().to_string(),
        "[PROJECT]",
    );
    out = out.replace(&t.name, "[NAME]");
    hashes_masked(&out)
}

/// Replace every run of 64 hex digits (image hashes and ids) with `[HASH]`.
fn hashes_masked(text: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    for c in text.chars() {
        if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() {
            run.push(c);
            continue;
        }
        out.push_str(if run.len() == 64 { "[HASH]" } else { &run });
        run.clear();
        out.push(c);
    }
    out.push_str(if run.len() == 64 { "[HASH]" } else { &run });
    out
}

#[test]
fn exported_stack_file_has_deploy_sections_and_the_compose_schema_accepts_it() {
    let t = TestContext::new();
    t.manifest(SERVICES);
    let tag = format!("devenv-it-svc:{}", t.name);
    t.import_base(&tag);
    let text = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write("devenv.toml", &text.replace("SVC_IMAGE", &tag));
    let out = t.run(&["export", "stack"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("docker stack deploy -c"),
        "{}",
        stderr(&out)
    );
    let file = t.root().join("docker-stack.yml");
    let stack = std::fs::read_to_string(&file).unwrap();
    insta::assert_snapshot!("stack_file", filtered(&t, &stack));
    // The Compose file schema of version 3.8, as `docker stack deploy` reads it.
    let config = Command::new("docker-compose")
        .arg("-f")
        .arg(&file)
        .arg("config")
        .output()
        .expect("docker-compose must be installed");
    assert!(config.status.success(), "{}\n{stack}", stderr(&config));
    let shown = stdout(&config);
    for line in [
        "replicas: 3",
        "endpoint_mode: dnsrr",
        "memory: 256M",
        "condition: any",
        "mode: host",
    ] {
        assert!(shown.contains(line), "{line}\n{shown}");
    }
    // A second export replaces its own file without --force.
    t.ok(&["export", "stack"]);

    // `import devcontainer` reads `deploy:` back.
    let back = TestContext::new();
    std::fs::write(back.root().join("base.tar"), busybox_rootfs(&back.name)).unwrap();
    std::fs::copy(&file, back.root().join("docker-stack.yml")).unwrap();
    back.write(
        ".devcontainer/devcontainer.json",
        r#"{ "dockerComposeFile": "../docker-stack.yml", "service": "dev" }"#,
    );
    let out = back.run(&["import", "devcontainer"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let manifest = std::fs::read_to_string(back.root().join("devenv.toml")).unwrap();
    for line in [
        "replicas = 3",
        "memory = \"256m\"",
        "cpus = 0.5",
        "placement = [\"node.labels.tier==web\"]",
        "replicas = 2",
    ] {
        assert!(manifest.contains(line), "{line}\n{manifest}");
    }
    let warnings = stderr(&out);
    assert!(!warnings.contains("deploy.replicas"), "{warnings}");
    assert!(!warnings.contains("deploy.resources"), "{warnings}");
    back.ok(&["validate"]);
}
