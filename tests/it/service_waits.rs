//! Services that are not ready yet, and the waits for them: `run` after the engine
//! restarted a crashed service, probes that hang, Ctrl-C and SIGTERM during readiness and
//! lock waits, unhealthy services in a slow recovery, failed starts in `status`, and a
//! service named like the project.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::common::{docker, docker_lines, signal, stderr, TestContext};

/// A project whose `SVC_IMAGE` is the busybox fixture under a local tag.
fn project(body: &str) -> TestContext {
    let t = TestContext::new();
    t.manifest(body);
    let tag = format!("devenv-it-svc:{}", t.name);
    t.import_base(&tag);
    let text = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write("devenv.toml", &text.replace("SVC_IMAGE", &tag));
    t
}

/// A service that becomes ready `cat /delay` seconds (0 without the file) after each
/// start: its probe checks a file it creates then. It crashes (exit 137, as after
/// `kill -9`) when `/tmp/crash` appears, and the engine restarts it (`on-failure`).
/// (`docker kill` counts as a manual stop, which restart policies leave alone.)
const SLOW: &str = r#"
[services.db]
image = "SVC_IMAGE"
command = "rm -f /tmp/ok /tmp/crash; sleep $(cat /delay 2>/dev/null || echo 0); touch /tmp/ok; while [ ! -f /tmp/crash ]; do sleep 0.1; done; exit 137"
"#;

fn service_id(t: &TestContext, name: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&t.ok(&["status", "--json"])).unwrap();
    v["services"][name]["id"].as_str().unwrap().to_owned()
}

fn inspect(id: &str, format: &str) -> String {
    docker(&["inspect", "--format", format, id])
        .trim()
        .to_owned()
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Crash the service with `delay` seconds to become ready after the restart, and wait
/// until the engine restarted it.
fn crash(id: &str, delay: u64) {
    let before: i64 = inspect(id, "{{.RestartCount}}").parse().unwrap();
    docker(&[
        "exec",
        id,
        "sh",
        "-c",
        &format!("echo {delay} > /delay; touch /tmp/crash"),
    ]);
    // Restarted and running again, its health `starting` (as `run` found PostgreSQL).
    wait_for("the engine's restart", Duration::from_secs(30), || {
        inspect(
            id,
            "{{.RestartCount}} {{.State.Status}} {{.State.Health.Status}}",
        )
        .split_whitespace()
        .collect::<Vec<_>>()
        .as_slice()
        .get(..3)
        .is_some_and(|w| {
            w[0].parse::<i64>().unwrap() > before && w[1] == "running" && w[2] == "starting"
        })
    });
}

/// Wait for a child and return its exit code, failing when it takes longer than `limit`.
fn exits_within(child: &mut Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(
            start.elapsed() < limit,
            "did not exit within {limit:?} of the signal"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(t: &TestContext, args: &[&str]) -> Child {
    t.cmd(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn err_of(child: Child) -> String {
    stderr(&child.wait_with_output().unwrap())
}

#[test]
fn run_right_after_the_engine_restarted_a_crashed_service_waits_until_it_is_ready() {
    let t = project(&format!("{SLOW}ready = \"test -f /tmp/ok\"\n"));
    t.ok(&["up"]);
    let id = service_id(&t, "db");
    crash(&id, 4);
    // Running again, health `starting`: `run` must not exec before the probe passes.
    let out = t.run(&["run", "--", "true"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let probe = std::process::Command::new("docker")
        .args(["exec", &id, "test", "-f", "/tmp/ok"])
        .status()
        .unwrap();
    assert!(probe.success(), "run returned before db was ready");
}

#[test]
fn a_hanging_probe_keeps_the_deadline_and_is_killed() {
    // After the crash, hangs (instead of failing) while the service is not ready.
    let t = project(&format!(
        "{SLOW}ready = \"test -f /tmp/ok || {{ test -f /delay && sleep 1000; }}\"\nready_timeout = 3\n"
    ));
    t.ok(&["up"]);
    let id = service_id(&t, "db");
    crash(&id, 600);
    let start = Instant::now();
    let out = t.run(&["run", "--", "true"]);
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("service `db` is not ready after 3 s"),
        "{}",
        stderr(&out)
    );
    assert!(took < Duration::from_secs(8), "took {took:?}");
    // devenv's probes (they carry DEVENV_EXEC) are gone; the engine's healthchecks are not
    // devenv's to kill. The service itself keeps running: devenv did not start it.
    let left = docker(&[
        "exec",
        &id,
        "sh",
        "-c",
        "grep -l DEVENV_EXEC= /proc/[0-9]*/environ 2>/dev/null | wc -l",
    ]);
    assert_eq!(left.trim(), "0", "probes left running");
    assert_eq!(inspect(&id, "{{.State.Status}}"), "running");
}

#[test]
fn up_with_a_hanging_probe_fails_at_its_ready_timeout() {
    let t = project(
        r#"
[services.db]
image = "SVC_IMAGE"
command = ["sleep", "1000"]
ready = "sleep 1000"
ready_timeout = 3
"#,
    );
    t.ok(&["build"]);
    let start = Instant::now();
    let out = t.run(&["up"]);
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("service `db` is not ready after 3 s"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("the probe did not finish within"),
        "{}",
        stderr(&out)
    );
    // 3 s of waiting and a 2 s stop of a service that ignores SIGTERM, not a 10 s probe.
    assert!(took < Duration::from_secs(9), "took {took:?}");
}

#[test]
fn ctrl_c_and_sigterm_end_readiness_and_lock_waits_with_130() {
    let t = project(
        r#"
[services.db]
image = "SVC_IMAGE"
command = ["sleep", "1000"]
ready = "false"
ready_timeout = 120
"#,
    );
    t.ok(&["build"]);
    let running = |t: &TestContext| {
        !docker_lines(&[
            "ps",
            "-q",
            "--filter",
            &format!("label={}", t.label()),
            "--filter",
            "label=dev.devenv.role=service",
        ])
        .is_empty()
    };
    // A waits for db to become ready (never), holding the project's services lock.
    let mut holder = spawn(&t, &["up"]);
    wait_for("db to start", Duration::from_secs(60), || running(&t));
    std::thread::sleep(Duration::from_millis(500));
    // B waits for that lock.
    let mut waiter = spawn(&t, &["up"]);
    std::thread::sleep(Duration::from_secs(3));
    signal(&waiter, Signal::SIGINT);
    assert_eq!(exits_within(&mut waiter, Duration::from_secs(2)), Some(130));
    let err = err_of(waiter);
    assert!(err.contains("interrupted"), "{err}");
    assert!(!err.contains("build interrupted"), "{err}");
    signal(&holder, Signal::SIGTERM);
    assert_eq!(exits_within(&mut holder, Duration::from_secs(2)), Some(130));
    let err = err_of(holder);
    assert!(err.contains("interrupted"), "{err}");
    // Ctrl-C in the readiness wait of a service that already runs.
    let mut again = spawn(&t, &["up"]);
    std::thread::sleep(Duration::from_secs(3));
    signal(&again, Signal::SIGINT);
    assert_eq!(exits_within(&mut again, Duration::from_secs(2)), Some(130));
    drop(err_of(again));
    // `run` the same (its own failures are 125), and `logs -f` ends on Ctrl-C too.
    let mut runner = spawn(&t, &["run", "--", "true"]);
    std::thread::sleep(Duration::from_secs(3));
    signal(&runner, Signal::SIGINT);
    assert_eq!(exits_within(&mut runner, Duration::from_secs(2)), Some(125));
    assert!(err_of(runner).contains("interrupted"));
    let mut follow = spawn(&t, &["logs", "-f"]);
    std::thread::sleep(Duration::from_secs(2));
    signal(&follow, Signal::SIGINT);
    assert_eq!(exits_within(&mut follow, Duration::from_secs(2)), Some(130));
    let err = err_of(follow);
    assert!(!err.contains("error"), "{err}");
}

#[test]
fn an_unhealthy_service_is_not_restarted_before_its_grace_and_status_says_when() {
    let t = project(&format!(
        "{SLOW}ready = \"test -f /tmp/ok\"\nready_timeout = 30\n"
    ));
    t.ok(&["up"]);
    let id = service_id(&t, "db");
    let started = inspect(&id, "{{.State.StartedAt}}");
    wait_for("healthy", Duration::from_secs(30), || {
        inspect(&id, "{{.State.Health.Status}}") == "healthy"
    });
    docker(&["exec", &id, "rm", "/tmp/ok"]);
    wait_for("unhealthy", Duration::from_secs(30), || {
        inspect(&id, "{{.State.Health.Status}}") == "unhealthy"
    });
    let human = t.ok(&["status"]);
    assert!(human.contains("devenv restarts it in"), "{human}");
    let v: serde_json::Value = serde_json::from_str(&t.ok(&["status", "--json"])).unwrap();
    assert!(
        v["services"]["db"]["unhealthy"]["restart_in"]
            .as_u64()
            .unwrap()
            > 0
    );
    // It recovers by itself during `up`'s wait: `up` waited instead of killing it.
    let recover = {
        let id = id.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(2));
            docker(&["exec", &id, "touch", "/tmp/ok"]);
        })
    };
    let out = t.run(&["up"]);
    recover.join().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(!err.contains("restarting service db"), "{err}");
    assert!(err.contains("service db is unhealthy"), "{err}");
    assert_eq!(inspect(&id, "{{.State.StartedAt}}"), started);
}

#[test]
fn a_failed_start_is_kept_in_status_as_last_failure() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let t = project(&format!(
        r#"
[services.web]
image = "SVC_IMAGE"
command = ["sleep", "1000"]
ports = ["127.0.0.1:{port}:80"]
"#
    ));
    let out = t.run(&["up"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&t.ok(&["status", "--json"])).unwrap();
    let failure = v["services"]["web"]["last_failure"]
        .as_str()
        .unwrap_or_default();
    assert!(failure.contains(&port.to_string()), "{v}");
    let human = t.ok(&["status"]);
    assert!(
        human.contains("service web: created — last failure:"),
        "{human}"
    );
    // Once it runs, the failure is gone.
    drop(taken);
    t.ok(&["up"]);
    let v: serde_json::Value = serde_json::from_str(&t.ok(&["status", "--json"])).unwrap();
    assert!(v["services"]["web"]["last_failure"].is_null(), "{v}");
}

#[test]
fn a_service_named_like_the_project_resolves_to_the_service() {
    let t = TestContext::new();
    t.manifest(&format!(
        r#"
[services.{}]
image = "SVC_IMAGE"
command = "echo from-the-service > /tmp/index.html; exec httpd -f -p 80 -h /tmp"
ready = "wget -q -O- http://127.0.0.1/"
"#,
        t.name
    ));
    let tag = format!("devenv-it-svc:{}", t.name);
    t.import_base(&tag);
    let text = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write("devenv.toml", &text.replace("SVC_IMAGE", &tag));
    let url = format!("http://{}/", t.name);
    assert_eq!(
        t.ok(&["run", "--", "wget", "-q", "-O-", &url]),
        "from-the-service\n"
    );
}
