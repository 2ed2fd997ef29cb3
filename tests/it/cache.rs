//! The registry cache against a real registry on loopback (Debian's docker-registry).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{docker_lines, stderr, TestContext};

/// A `docker-registry` serving on 127.0.0.1 with its storage in a temp dir; killed on drop.
pub(crate) struct Registry {
    child: Child,
    pub(crate) addr: String,
    _storage: tempfile::TempDir,
}

impl Registry {
    pub(crate) fn start() -> Registry {
        let port = free_port();
        let storage = tempfile::tempdir().unwrap();
        let config = registry_config(&storage, port);
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry must be installed (apt-get install docker-registry)");
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry {
            child,
            addr,
            _storage: storage,
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `docker-registry` configuration serving 127.0.0.1:`port` from `storage`; its path.
pub(crate) fn registry_config(storage: &tempfile::TempDir, port: u16) -> std::path::PathBuf {
    let config = storage.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: 127.0.0.1:{port}\n",
            storage.path().join("data").display()
        ),
    )
    .unwrap();
    config
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const STEPS: &str = "[[step]]\nname = \"a\"\nrun = \"echo a > /a\"\n[[step]]\nname = \"b\"\nrun = \"echo b > /b\"\n";

/// Remove every local image of the test (as on a fresh machine).
fn remove_local_images(t: &TestContext) {
    for _ in 0..3 {
        for id in docker_lines(&["images", "-q", "--filter", &format!("label={}", t.label())]) {
            let _ = Command::new("docker").args(["rmi", "-f", &id]).output();
        }
    }
    assert!(
        docker_lines(&["images", "-q", "--filter", &format!("label={}", t.label())]).is_empty()
    );
}

#[test]
fn pushed_image_is_pulled_instead_of_built() {
    let registry = Registry::start();
    let t = TestContext::new();
    t.manifest(&format!(
        "{STEPS}[cache]\nregistry = \"{}/devenv-it\"\n",
        registry.addr
    ));
    t.ok(&["build"]);
    let out = t.run(&["push"]);
    assert!(out.status.success(), "{}", stderr(&out));
    remove_local_images(&t);
    let out = t.run(&["up"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("pulled"), "{err}");
    assert!(!err.contains(": running"), "a step ran: {err}");
    assert_eq!(t.ok(&["run", "--", "cat", "/a", "/b"]), "a\nb\n");
}

#[test]
fn pushed_step_layers_let_a_changed_manifest_reuse_its_prefix() {
    let registry = Registry::start();
    let t = TestContext::new();
    t.manifest(STEPS);
    let cache = format!("{}/devenv-it", registry.addr);
    t.ok(&["build"]);
    t.ok(&["--cache", &cache, "push", "--steps"]);
    remove_local_images(&t);
    let manifest = std::fs::read_to_string(t.root().join("devenv.toml")).unwrap();
    t.write("devenv.toml", &manifest.replace("echo b", "echo B"));
    let out = t.run(&["--cache", &cache, "build"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("1 step run, 1 cached"), "{err}");
}

#[test]
fn registry_down_falls_back_to_building_with_a_warning() {
    let t = TestContext::new();
    let port = free_port();
    t.manifest(&format!(
        "{STEPS}[cache]\nregistry = \"127.0.0.1:{port}/devenv-it\"\n"
    ));
    let out = t.run(&["build"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("warning: registry cache"), "{err}");
    assert_eq!(
        err.matches("warning:").count(),
        1,
        "warned more than once: {err}"
    );
    assert!(err.contains("2 steps run"), "{err}");
    // A failed push is an error.
    let out = t.run(&["push"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn push_without_a_registry_says_how_to_set_one() {
    let t = TestContext::new();
    t.manifest("");
    let out = t.run(&["push"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--cache"), "{}", stderr(&out));
}
