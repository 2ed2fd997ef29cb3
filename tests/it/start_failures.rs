//! Services that cannot start, or die while starting, fail `up` with the service's name,
//! the reason and the fix, probe or not; `status` and `logs` keep showing the failure until
//! it is fixed (issue #24).

use crate::common::{stderr, stdout, TestContext};

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

/// `up` fails with exit status 1, naming `service` and the reason; returns stderr.
fn up_fails(t: &TestContext, service: &str, reason: &str) -> String {
    let out = t.run(&["up"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("service `{service}`")), "{err}");
    assert!(err.contains(reason), "{err}");
    assert!(err.contains("hint:"), "{err}");
    err
}

/// `status` and `logs` show the failure of `service` (with `reason`).
fn failure_stays_visible(t: &TestContext, service: &str, reason: &str) {
    let status = t.ok(&["status"]);
    assert!(status.contains(&format!("service {service}:")), "{status}");
    assert!(status.contains("last failure"), "{status}");
    assert!(status.contains(reason), "{status}");
    let out = t.run(&["logs", service]);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains(reason), "{text}");
    assert_ne!(
        out.status.code(),
        Some(0),
        "logs of a failed service: {text}"
    );
}

#[test]
fn a_service_whose_program_does_not_exist_fails_up_naming_it_and_the_fix() {
    let t = project(
        r#"
[services.web]
image = "SVC_IMAGE"
command = ["python3", "-m", "http.server"]
"#,
    );
    let err = up_fails(&t, "web", "python3");
    assert!(
        err.contains("not found") || err.contains("does not exist"),
        "{err}"
    );
    failure_stays_visible(&t, "web", "python3");
}

#[test]
fn a_service_whose_shell_command_is_not_found_fails_up_without_a_probe() {
    let t = project(
        r#"
[services.web]
image = "SVC_IMAGE"
command = "python3 -m http.server"
"#,
    );
    let err = up_fails(&t, "web", "exit status 127");
    assert!(err.contains("command not found"), "{err}");
    failure_stays_visible(&t, "web", "exit status 127");
    // Not left restarting in a loop behind the user's back.
    let status = t.ok(&["status"]);
    assert!(!status.contains("restarting"), "{status}");
}

#[test]
fn a_service_that_exits_while_starting_fails_up_with_a_probe_too() {
    let t = project(
        r#"
[services.web]
image = "SVC_IMAGE"
command = "echo starting; sleep 0.3; exit 3"
ready = "test -f /nonexistent"
ready_timeout = 20
"#,
    );
    let err = up_fails(&t, "web", "exit status 3");
    assert!(err.contains("starting"), "the log lines: {err}");
}

#[test]
fn a_fixed_service_clears_the_failure() {
    let t = project(
        r#"
[services.web]
image = "SVC_IMAGE"
command = "nosuchprogram"
"#,
    );
    up_fails(&t, "web", "exit status 127");
    let text = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write(
        "devenv.toml",
        &text.replace("command = \"nosuchprogram\"", "command = \"sleep 1000\""),
    );
    t.ok(&["up"]);
    let status = t.ok(&["status"]);
    assert!(!status.contains("last failure"), "{status}");
    let out = t.run(&["logs", "web"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `recreating …` names the step and the input that made the new image, not two hashes.
#[test]
fn recreating_says_which_step_and_input_changed_the_image() {
    let t = TestContext::new();
    t.write("requirements.txt", "one\n");
    t.manifest(
        r#"
[[step]]
name = "deps"
inputs = ["requirements.txt"]
run = "cat requirements.txt > /deps"
"#,
    );
    t.ok(&["up"]);
    t.write("requirements.txt", "two\n");
    let out = t.run(&["up"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("(step `deps`: input requirements.txt changed)"),
        "{err}"
    );
}

/// Settings are named as the manifest writes them.
#[test]
fn a_changed_setting_is_named_as_in_the_manifest() {
    let t = TestContext::new();
    t.manifest("");
    t.ok(&["up"]);
    let text = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write(
        "devenv.toml",
        &format!("{text}\n[container]\nnetwork = \"none\"\n"),
    );
    let status = t.ok(&["status"]);
    assert!(
        status.contains("stale: `network` in [container] (or the services) changed"),
        "{status}"
    );
}

/// With the image's tags removed under a running container, `status` says so once.
#[test]
fn status_is_coherent_when_the_images_tags_were_removed() {
    let t = TestContext::new();
    t.manifest("[[step]]\nname = \"s\"\nrun = \"echo hi > /hi\"\n");
    t.ok(&["up"]);
    let hash = t.ok(&["hash"]);
    let hash = hash.trim();
    let id = crate::common::docker(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        &format!("devenv/{}:{hash}", t.name),
    ]);
    let tags = crate::common::docker(&[
        "image",
        "inspect",
        "--format",
        "{{join .RepoTags \"\\n\"}}",
        id.trim(),
    ]);
    for tag in tags.lines().filter(|l| !l.is_empty()) {
        // The last one needs -f (a container uses the image), which only untags it.
        crate::common::docker(&["rmi", "-f", tag]);
    }
    let status = t.ok(&["status"]);
    assert!(!status.contains("(not built)"), "{status}");
    assert!(status.contains("its tags were removed"), "{status}");
    assert!(
        status.contains("up to date, from the untagged image"),
        "{status}"
    );
}
