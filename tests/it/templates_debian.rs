//! The `python` and `node` templates come up on a Debian base made by debootstrap (cached,
//! see `root_helpers`) with Debian's own packages, and run their watch rule's command. Their
//! registry bases cannot be pulled here; the Debian base is what every step sees instead.
//! Packages from the Python index reach containers here only through a TLS-inspecting
//! proxy, so these run with `DEVENV_TRUST_HOST_CA=1`, as a user here would.

use std::process::Command;

use crate::common::{stderr, TestContext};

/// The cached Debian rootfs imported as a local image of this test (labelled for cleanup).
fn debian_image(t: &TestContext) -> String {
    let tag = format!("devenv-it-debian:{}", t.name);
    let out = Command::new("docker")
        .args(["import", "--change", &format!("LABEL {}", t.label())])
        .arg(crate::root_helpers::debian_rootfs())
        .arg(&tag)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tag
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `devenv init` with `template` on the Debian base; returns the watch rule's command.
fn init(t: &TestContext, template: &str, container_port: u16) -> String {
    let base = debian_image(t);
    let ports = format!("127.0.0.1:{}:{container_port}", free_port());
    t.ok(&[
        "init",
        "--template",
        template,
        "--base",
        &base,
        "--name",
        &t.name,
        "--ports",
        &ports,
        "--yes",
    ]);
    let text = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    let doc: toml::Value = toml::from_str(&text).unwrap();
    doc["watch"][0]["run"].as_str().unwrap().to_owned()
}

/// `devenv ARGS` with the host's CA bundle, asserting success; returns stdout and stderr.
fn trusted(t: &TestContext, args: &[&str]) -> String {
    let out = t
        .cmd(args)
        .env("DEVENV_TRUST_HOST_CA", "1")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(out.status.success(), "devenv {args:?} failed:\n{text}");
    text
}

#[test]
fn the_python_template_comes_up_on_debian_and_runs_its_watch_rule() {
    let t = TestContext::new();
    // The layout of the project from the issue: requirements/ holds the test requirements.
    t.write("requirements/testing.txt", "six\n");
    t.write(
        "test_it.py",
        "import six\n\ndef test_six():\n    assert six.PY3\n",
    );
    let rule = init(&t, "python", 8000);
    assert!(rule.starts_with("python3 "), "{rule}");
    trusted(&t, &["up"]);
    let out = trusted(&t, &["run", "--", "sh", "-c", &rule]);
    assert!(out.contains("1 passed"), "{out}");
}

#[test]
fn the_node_template_comes_up_on_debian_and_runs_its_watch_rule() {
    let t = TestContext::new();
    t.write(
        "package.json",
        r#"{"name": "x", "version": "1.0.0", "private": true, "scripts": {"test": "node test/t.js"}}"#,
    );
    t.write("test/t.js", "console.log('node says ' + (1 + 1));\n");
    let rule = init(&t, "node", 3000);
    trusted(&t, &["up"]);
    let out = trusted(&t, &["run", "--", "sh", "-c", &rule]);
    assert!(out.contains("node says 2"), "{out}");
}
