//! A base image from a registry (Debian's docker-registry on loopback): resolving and pinning
//! by repository digest, `base.pull`, `lock --update`, `--locked`, failed pulls, Ctrl-C.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cache::Registry;
use crate::common::{busybox_rootfs, docker, signal, stderr, TestContext};

/// A project whose base is `<registry>/<test name>:1`, pushed there from the test's busybox
/// root filesystem; returns the reference and its repository digest.
fn pushed_base(t: &TestContext, registry: &str, pull: &str) -> (String, String) {
    t.manifest("");
    let reference = format!("{registry}/{}:1", t.name);
    t.import_base(&reference);
    let digest = push(&reference);
    use_base(t, &reference, pull);
    (reference, digest)
}

fn use_base(t: &TestContext, reference: &str, pull: &str) {
    t.write(
        "devenv.toml",
        &format!(
            "name = \"{}\"\n[base]\nimage = \"{reference}\"\npull = \"{pull}\"\n\
             [[step]]\nrun = \"echo built > /built\"\n",
            t.name
        ),
    );
}

/// Push `reference` and return its repository digest.
fn push(reference: &str) -> String {
    docker(&["push", reference]);
    let repo = reference.rsplit_once(':').unwrap().0;
    let digests = docker(&[
        "image",
        "inspect",
        reference,
        "--format",
        "{{range .RepoDigests}}{{println .}}{{end}}",
    ]);
    digests
        .lines()
        .find_map(|d| d.strip_prefix(&format!("{repo}@")))
        .unwrap_or_else(|| panic!("no digest of {repo} in {digests}"))
        .to_owned()
}

/// A new image under `reference` (other content), pushed; its digest.
fn push_new_version(t: &TestContext, reference: &str) -> String {
    std::fs::write(
        t.root().join("v2.tar"),
        busybox_rootfs(&format!("{}-v2", t.name)),
    )
    .unwrap();
    let out = Command::new("docker")
        .args(["import", "--change", &format!("LABEL {}", t.label())])
        .arg(t.root().join("v2.tar"))
        .arg(reference)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    push(reference)
}

fn lock_text(t: &TestContext) -> String {
    std::fs::read_to_string(t.root().join("devenv.lock")).unwrap_or_default()
}

/// Forget every local name of the base (as on a machine that never pulled it).
fn remove_local_base(reference: &str, digest: &str) {
    let repo = reference.rsplit_once(':').unwrap().0;
    for name in [reference.to_owned(), format!("{repo}@{digest}")] {
        let _ = Command::new("docker").args(["rmi", &name]).output();
    }
    let gone = Command::new("docker")
        .args(["image", "inspect", &format!("{repo}@{digest}")])
        .output()
        .unwrap();
    assert!(!gone.status.success(), "the base is still present");
}

#[test]
fn registry_base_is_pinned_by_repo_digest_and_pulled_when_missing() {
    let registry = Registry::start();
    let t = TestContext::new();
    let (reference, digest) = pushed_base(&t, &registry.addr, "missing");
    t.ok(&["lock"]);
    let lock = lock_text(&t);
    assert!(lock.contains("kind = \"registry\""), "{lock}");
    assert!(lock.contains(&format!("digest = \"{digest}\"")), "{lock}");
    let repo = reference.rsplit_once(':').unwrap().0;
    assert!(
        lock.contains(&format!("image = \"{repo}@{digest}\"")),
        "{lock}"
    );
    // A fresh machine: the pinned digest is pulled.
    remove_local_base(&reference, &digest);
    let out = t.run(&["build", "--locked"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(&format!("pulling {repo}@{digest}")), "{err}");
    assert_eq!(lock_text(&t), lock, "the build moved the lock");
}

#[test]
fn pull_never_refuses_a_missing_pinned_base_and_always_pulls_a_present_one() {
    let registry = Registry::start();
    let t = TestContext::new();
    let (reference, digest) = pushed_base(&t, &registry.addr, "always");
    t.ok(&["lock"]);
    let out = t.run(&["build"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("pulling"), "present, yet not pulled: {err}");
    remove_local_base(&reference, &digest);
    // Built layers need no base at all: change `[env]` so the config layer must be built.
    use_base(&t, &reference, "never");
    let manifest = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write("devenv.toml", &format!("{manifest}[env]\nAGAIN = \"1\"\n"));
    let out = t.run(&["build"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("pulling"), "{err}");
    assert!(err.contains("base.pull = \"never\""), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn lock_update_moves_the_pin_and_nothing_else_does() {
    let registry = Registry::start();
    let t = TestContext::new();
    let (reference, d1) = pushed_base(&t, &registry.addr, "missing");
    t.ok(&["lock"]);
    let d2 = push_new_version(&t, &reference);
    assert_ne!(d1, d2);
    t.ok(&["build"]);
    t.ok(&["lock"]);
    assert!(lock_text(&t).contains(&d1), "{}", lock_text(&t));
    let out = t.run(&["lock", "--update"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("updated devenv.lock"),
        "{}",
        stderr(&out)
    );
    assert!(lock_text(&t).contains(&d2), "{}", lock_text(&t));
}

#[test]
fn locked_without_a_lock_is_an_error_and_writes_none() {
    let registry = Registry::start();
    let t = TestContext::new();
    pushed_base(&t, &registry.addr, "missing");
    let out = t.run(&["build", "--locked"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("devenv.lock is missing and --locked was given"),
        "{err}"
    );
    assert!(!t.root().join("devenv.lock").exists());
}

#[test]
fn a_failed_update_pull_keeps_the_lock_and_says_so() {
    let registry = Registry::start();
    let t = TestContext::new();
    let (reference, d1) = pushed_base(&t, &registry.addr, "missing");
    let v1 = docker(&["image", "inspect", &reference, "--format", "{{.Id}}"]);
    let d2 = push_new_version(&t, &reference);
    t.ok(&["lock"]);
    assert!(lock_text(&t).contains(&d2));
    let lock = lock_text(&t);
    // Locally the tag names the older copy again, and the registry is gone.
    docker(&["tag", v1.trim(), &reference]);
    drop(registry);
    let out = t.run(&["lock", "--update"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the pull failed"), "{err}");
    let short = &d2["sha256:".len().."sha256:".len() + 12];
    assert!(
        err.contains(&format!("devenv.lock still pins sha256:{short}")),
        "{err}"
    );
    assert_eq!(lock_text(&t), lock, "the lock moved (to {d1}?)");
}

/// A "registry" that accepts connections and never answers; reports each accept.
fn stalling_registry() -> (String, std::sync::mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
            let _ = tx.send(());
        }
    });
    (addr, rx)
}

/// Start `devenv build`, Ctrl-C it once the engine is talking to the stalled registry, and
/// return its exit code (`None`: still running after 5 s, then killed).
fn ctrl_c_once_pulling(t: &TestContext, accepted: &std::sync::mpsc::Receiver<()>) -> Option<i32> {
    let mut child = t
        .cmd(&["build"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    accepted
        .recv_timeout(Duration::from_secs(30))
        .expect("the engine never contacted the registry");
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, nix::sys::signal::Signal::SIGINT);
    let sent = Instant::now();
    while sent.elapsed() < Duration::from_secs(5) {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status.code().unwrap_or(-1));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn ctrl_c_during_a_base_pull_exits_130_and_leaves_nothing() {
    let (addr, accepted) = stalling_registry();
    let t = TestContext::new();
    t.manifest("");
    use_base(&t, &format!("{addr}/stalled:1"), "missing");
    assert_eq!(ctrl_c_once_pulling(&t, &accepted), Some(130));
    assert!(!t.root().join("devenv.lock").exists(), "a lock was written");
    assert!(t.containers().is_empty());
}

#[test]
fn ctrl_c_during_a_registry_cache_pull_exits_130() {
    let (addr, accepted) = stalling_registry();
    let t = TestContext::new();
    t.manifest(&format!(
        "[[step]]\nrun = \"true\"\n[cache]\nregistry = \"{addr}/cache\"\n"
    ));
    t.ok(&["lock"]);
    assert_eq!(ctrl_c_once_pulling(&t, &accepted), Some(130));
    assert!(t.containers().is_empty());
}
