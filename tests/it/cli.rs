//! The command surface without a project's environment: engine reachability, usage errors.

use std::time::{Duration, Instant};

use crate::common::{stderr, TestContext};

fn assert_unreachable(t: &TestContext, host: &str, args: &[&str], code: i32) {
    let start = Instant::now();
    let out = t.cmd(args).env("DOCKER_HOST", host).output().unwrap();
    let elapsed = start.elapsed();
    assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");
    let err = stderr(&out);
    assert!(err.contains(host), "endpoint not named: {err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn dead_socket_or_closed_port_exits_3_within_a_second() {
    let t = TestContext::new();
    t.manifest("");
    for host in ["unix:///nonexistent/docker.sock", "tcp://127.0.0.1:1"] {
        assert_unreachable(&t, host, &["build"], 3);
        assert_unreachable(&t, host, &["up"], 3);
        assert_unreachable(&t, host, &["doctor"], 3);
        // run/shell: devenv's own failure before the command runs is 125.
        assert_unreachable(&t, host, &["run", "--", "true"], 125);
    }
}

#[test]
fn doctor_reports_engine_and_api_version() {
    let t = TestContext::new();
    let out = t.ok(&["doctor"]);
    assert!(out.contains("API version:"), "{out}");
    assert!(out.contains("storage driver:"), "{out}");
    assert!(out.contains("socket access:"), "{out}");
}

#[test]
fn missing_manifest_is_a_usage_error_with_a_hint() {
    let t = TestContext::new();
    let out = t.run(&["build"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no devenv.toml"), "{}", stderr(&out));
}

#[test]
fn manifest_is_found_from_a_subdirectory_and_with_dash_c() {
    let t = TestContext::new();
    t.manifest("");
    std::fs::create_dir_all(t.root().join("a/b")).unwrap();
    let mut cmd = t.cmd(&["validate"]);
    cmd.current_dir(t.root().join("a/b"));
    assert!(cmd.output().unwrap().status.success());
    let mut cmd = t.cmd(&["-C", t.root().to_str().unwrap(), "validate"]);
    cmd.current_dir("/");
    assert!(cmd.output().unwrap().status.success());
}

#[test]
fn example_manifest_validates() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/devenv.toml.example");
    let t = TestContext::new();
    // The example names paths of its own project; validate it where it lives.
    let mut cmd = t.cmd(&["validate", "-f", example]);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn config_prints_every_default() {
    let t = TestContext::new();
    t.manifest("");
    let out = t.ok(&["config", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["shell"]["workdir"], "/workspace");
    assert_eq!(v["shell"]["user"], "host");
    assert_eq!(v["base"]["pull"], "missing");
    assert_eq!(v["container"]["network"], "bridge");
    assert_eq!(v["sync"]["fetch"], serde_json::json!([]));
    let toml = t.ok(&["config"]);
    assert!(toml.contains("workdir = \"/workspace\""), "{toml}");
}
