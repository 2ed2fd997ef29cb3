//! Services against the real engine: name resolution, readiness gating, failures with their
//! logs, crash restarts, partial recreation, dropped services, volumes and down.

use std::time::{Duration, Instant};

use crate::common::{docker, docker_lines, stderr, TestContext};

/// A project whose `svc` image is the busybox fixture imported under a local tag; `body`
/// follows `[base]`.
fn project(body: &str) -> (TestContext, String) {
    let t = TestContext::new();
    t.manifest(body);
    let tag = format!("devenv-it-svc:{}", t.name);
    t.import_base(&tag);
    let text = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write("devenv.toml", &text.replace("SVC_IMAGE", &tag));
    (t, tag)
}

fn status(t: &TestContext) -> serde_json::Value {
    serde_json::from_str(&t.ok(&["status", "--json"])).unwrap()
}

fn network_exists(t: &TestContext) -> bool {
    !docker_lines(&[
        "network",
        "ls",
        "-q",
        "--filter",
        &format!("label={}", t.label()),
    ])
    .is_empty()
}

const WEB: &str = r#"
[services.web]
image = "SVC_IMAGE"
command = "sleep 2; echo hello > /tmp/index.html; exec httpd -f -p 80 -h /tmp"
ready = "wget -q -O- http://127.0.0.1/ | grep -q hello"
"#;

const WORKER: &str = r#"
[services.worker]
command = "while true; do sleep 1; done"
depends_on = ["web"]
"#;

#[test]
fn up_waits_for_ready_services_reachable_by_name_and_recreates_only_what_changed() {
    let (t, _) = project(&format!("{WEB}{WORKER}"));
    let start = Instant::now();
    let out = t.run(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "up returned before web was ready"
    );
    // Right after `up`: the dev container reaches the service by its name.
    assert_eq!(
        t.ok(&["run", "--", "wget", "-q", "-O-", "http://web/"]),
        "hello\n"
    );
    let v = status(&t);
    let web = &v["services"]["web"];
    assert_eq!(web["state"], "running");
    assert_eq!(web["ready"], true);
    assert_eq!(web["restarts"], 0);
    assert_eq!(web["up_to_date"], true);
    assert!(v["services"]["worker"]["ready"].is_null());
    assert_eq!(v["services"]["worker"]["image"], v["image"]);
    let dev = v["container"]["id"].as_str().unwrap().to_owned();
    let worker = v["services"]["worker"]["id"].as_str().unwrap().to_owned();
    let web_id = web["id"].as_str().unwrap().to_owned();
    // The worker runs from the environment image with the project mounted.
    t.write("marker", "from-host\n");
    let mounted = docker(&["exec", &worker, "cat", "/workspace/marker"]);
    assert_eq!(mounted, "from-host\n");

    // A change to one service recreates that service alone.
    let text = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write(
        "devenv.toml",
        &text.replace("[services.web]\n", "[services.web]\nenv = { X = \"1\" }\n"),
    );
    let out = t.run(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("recreating service web: env changed"),
        "{}",
        stderr(&out)
    );
    let v = status(&t);
    assert_eq!(v["container"]["id"], dev.as_str());
    assert_eq!(v["services"]["worker"]["id"], worker.as_str());
    assert_ne!(v["services"]["web"]["id"], web_id.as_str());

    // A service dropped from the manifest is removed by the next `up`.
    let text = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write("devenv.toml", &text.replace(WORKER, ""));
    let out = t.run(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(docker_lines(&["ps", "-aq", "--filter", &format!("id={worker}")]).is_empty());
    assert_eq!(status(&t)["container"]["id"], dev.as_str());

    t.ok(&["down"]);
    assert!(t.containers().is_empty());
    assert!(!network_exists(&t));
    // `run` brings the services up the same way.
    assert_eq!(
        t.ok(&["run", "--", "wget", "-q", "-O-", "http://web/"]),
        "hello\n"
    );
}

#[test]
fn a_never_ready_service_fails_up_with_its_log_and_nothing_half_started() {
    let (t, _) = project(
        r#"
[services.db]
image = "SVC_IMAGE"
command = "echo booting the db; exec sleep 1000"
ready = "echo probe says no; false"
ready_timeout = 2
"#,
    );
    let out = t.run(&["up"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("service `db` is not ready after 2 s"), "{err}");
    assert!(err.contains("probe says no"), "{err}");
    assert!(err.contains("booting the db"), "{err}");
    assert!(err.contains("devenv logs db"), "{err}");
    // No dev container, and the service is stopped.
    let running = docker_lines(&["ps", "-q", "--filter", &format!("label={}", t.label())]);
    assert!(running.is_empty(), "{running:?}");
    let v = status(&t);
    assert!(v["container"].is_null());
    assert_eq!(v["services"]["db"]["ready"], false);
    assert!(v["services"]["db"]["last_failure"]
        .as_str()
        .unwrap()
        .contains("not ready"));
    let human = t.ok(&["status"]);
    assert!(human.contains("service db: exited"), "{human}");
}

/// It runs longer than the second devenv watches a service without a probe after starting it.
#[test]
fn a_crashing_service_is_restarted_by_the_engine_and_counted() {
    let (t, _) = project(
        r#"
[services.flaky]
image = "SVC_IMAGE"
command = "sleep 3; exit 3"
"#,
    );
    t.ok(&["up"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = status(&t);
        if v["services"]["flaky"]["restarts"].as_i64().unwrap() >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "no restart counted: {v}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn named_volumes_survive_down_and_go_with_down_volumes() {
    let (t, _) = project(
        r#"
[services.store]
rootfs = "base.tar"
volumes = ["data:/data"]
command = "[ -f /data/id ] || cat /proc/sys/kernel/random/uuid > /data/id; exec sleep 1000"
ready = "test -f /data/id"
"#,
    );
    t.ok(&["up"]);
    let read = |t: &TestContext| {
        let id = status(t)["services"]["store"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        docker(&["exec", &id, "cat", "/data/id"])
    };
    let first = read(&t);
    let lock = std::fs::read_to_string(t.root().join("devenv.lock")).unwrap();
    assert!(lock.contains("[services.store]"), "{lock}");
    assert!(lock.contains("kind = \"rootfs\""), "{lock}");
    t.ok(&["down"]);
    t.ok(&["up"]);
    assert_eq!(read(&t), first);
    t.ok(&["down", "--volumes"]);
    let label = format!("label={}", t.label());
    assert!(docker_lines(&["volume", "ls", "-q", "--filter", &label]).is_empty());
    t.ok(&["up"]);
    assert_ne!(read(&t), first);
}

#[test]
fn a_local_service_image_is_pinned_by_id() {
    let (t, tag) = project(
        r#"
[services.web]
image = "SVC_IMAGE"
command = ["sleep", "1000"]
"#,
    );
    t.ok(&["up"]);
    let lock = std::fs::read_to_string(t.root().join("devenv.lock")).unwrap();
    let id = docker(&["image", "inspect", "--format", "{{.Id}}", &tag]);
    assert!(lock.contains(&format!("reference = \"{tag}\"")), "{lock}");
    assert!(
        lock.contains(&format!("digest = \"{}\"", id.trim())),
        "{lock}"
    );
    assert!(lock.contains("kind = \"local\""), "{lock}");
}

#[test]
fn logs_prefix_each_source_and_restart_waits_for_ready() {
    let (t, _) = project(
        r#"
[services.echo]
image = "SVC_IMAGE"
command = "echo first line; echo to stderr >&2; echo second line; exec sleep 1000"
ready = "true"
[services.quiet-one]
image = "SVC_IMAGE"
command = ["sleep", "1000"]
"#,
    );
    t.ok(&["up"]);
    let out = t.run(&["logs"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("echo      | first line\n"), "{text}");
    assert!(text.contains("echo      | second line\n"), "{text}");
    assert!(
        stderr(&out).contains("echo      | to stderr\n"),
        "{}",
        stderr(&out)
    );
    let out = t.run(&["logs", "echo", "--tail", "1"]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with("echo | "), "{text}");
    let out = t.run(&["logs", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no service named `nope`"),
        "{}",
        stderr(&out)
    );

    let out = t.run(&["restart", "echo"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("restarting service echo"),
        "{}",
        stderr(&out)
    );
    // Restarted: the command ran twice.
    let out = t.run(&["logs", "echo"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(text.matches("first line").count(), 2, "{text}");
    let out = t.run(&["restart", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no service named `nope`"));
}

#[test]
fn watch_restarts_a_service_that_turns_unhealthy() {
    let (t, _) = project(
        r#"
[services.api]
image = "SVC_IMAGE"
command = "touch /tmp/healthy; exec sleep 100000"
ready = "test -f /tmp/healthy"
ready_timeout = 4
"#,
    );
    t.ok(&["up"]);
    let id = status(&t)["services"]["api"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let watching = crate::watch::Watching::start(&t, &["watch"]);
    // The engine's healthcheck ignores failures during its start period until its first
    // pass (the start period is `ready_timeout`): turn unhealthy only after that pass.
    let health = |id: &str| docker(&["inspect", "--format", "{{.State.Health.Status}}", id]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while health(&id).trim() != "healthy" {
        assert!(Instant::now() < deadline, "never healthy: {}", health(&id));
        std::thread::sleep(Duration::from_millis(200));
    }
    docker(&["exec", &id, "rm", "/tmp/healthy"]);
    // Restarted once it stayed unhealthy for its grace (`ready_timeout`).
    watching.wait_err("service api is unhealthy: restarted it");
    // The restart ran the command again: healthy once more, same container.
    let deadline = Instant::now() + Duration::from_secs(30);
    while health(&id).trim() != "healthy" {
        assert!(Instant::now() < deadline, "not healthy again");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, err) = watching.interrupt();
    assert_eq!(code, Some(0), "{err}");
}

/// Runs `docker-compose down -v` for a project when dropped, also when the test fails.
struct ComposeDown(Vec<String>);

impl Drop for ComposeDown {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker-compose")
            .args(&self.0)
            .args(["down", "-v", "-t", "1"])
            .output();
    }
}

#[test]
fn the_exported_compose_file_is_valid_and_runs_under_docker_compose() {
    let (t, _) = project(&format!("{WEB}{WORKER}"));
    let out = t.run(&["export", "compose"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let file = t.root().join("docker-compose.yml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("healthcheck:"), "{text}");
    assert!(text.contains("condition: service_healthy"), "{text}");
    let project_name = t.name.replace('-', "");
    let base: Vec<String> = vec![
        "-p".into(),
        project_name,
        "-f".into(),
        file.display().to_string(),
    ];
    let compose = |args: &[&str]| {
        std::process::Command::new("docker-compose")
            .args(&base)
            .args(args)
            .output()
            .expect("docker-compose must be installed")
    };
    let out = compose(&["config", "-q"]);
    assert!(out.status.success(), "{}\n{text}", stderr(&out));
    let _down = ComposeDown(base.clone());
    let out = compose(&["up", "-d"]);
    assert!(out.status.success(), "{}\n{text}", stderr(&out));
    let out = compose(&["exec", "-T", "dev", "wget", "-q", "-O-", "http://web/"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
}

#[test]
fn concurrent_ups_end_with_one_set_and_hooks_run_once_services_are_ready() {
    let (t, _) = project(&format!(
        "[hooks]\non_create = \"wget -q -O- http://web/ > hook-saw\"\n{WEB}"
    ));
    t.ok(&["build"]);
    let spawn = || {
        t.cmd(&["up"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", stderr(&a));
    assert!(b.status.success(), "{}", stderr(&b));
    assert_eq!(t.containers().len(), 2, "{:?}", t.containers());
    let saw = std::fs::read_to_string(t.root().join("hook-saw")).unwrap();
    assert_eq!(saw, "hello\n");
    // Both probed the engine at once; neither may mistake the local engine for a remote one.
    let status = t.ok(&["status"]);
    assert!(status.contains("workspace: bind"), "{status}");
}
