//! Docker Swarm: a real three-node swarm on this machine (`cluster.sh`: three engines in
//! their own network, mount, uts and pid namespaces, joined over a bridge, with a registry
//! on the manager's address). One cluster is started for the whole test binary, on first
//! use, and stops by itself when the binary ends (its watcher polls our pid); the swarm tests
//! run one at a time, each leaving the cluster as it found it (every node up, nothing of
//! its own on any node).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::common::TestContext;

mod failover;
mod harness;
mod services;

/// Nodes in the test cluster; node 1 is the manager.
pub const NODES: usize = 3;
/// The registry every node pulls from (on the manager's address, inside the cluster).
#[allow(dead_code)] // the devenv swarm tests use it as they land
pub const REGISTRY: &str = "10.99.0.1:5000";
/// A static busybox already in that registry.
pub const BUSYBOX: &str = "10.99.0.1:5000/bb:1";

const PREFIX: &str = "devenv-swarm-";

pub struct Cluster {
    pub dir: PathBuf,
}

/// One swarm test's hold on the cluster: the tests run one at a time; on drop, nodes the
/// test killed join again, so the next test finds three nodes.
pub struct Swarm {
    pub c: &'static Cluster,
    killed: Vec<usize>,
    _serial: MutexGuard<'static, ()>,
}

/// The cluster for a test, or `None` (with one line saying why) when this machine cannot
/// run one: it needs root (namespaces, a bridge, dockerd).
pub fn swarm(test: &str) -> Option<Swarm> {
    static SERIAL: Mutex<()> = Mutex::new(());
    if !nix::unistd::geteuid().is_root() {
        println!("skipped: {test} needs root (it starts a three-node Docker Swarm in namespaces)");
        return None;
    }
    // A failed test poisons the lock; the next one still runs (its drop restored the nodes).
    let serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Some(Swarm {
        c: cluster(),
        killed: Vec::new(),
        _serial: serial,
    })
}

fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        crate::common::require_docker();
        sweep();
        let dir = Path::new("/var/tmp").join(format!("{PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new(script())
            .arg("start")
            .arg(&dir)
            .arg(std::process::id().to_string())
            .arg(NODES.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the test swarm did not start:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Cluster { dir }
    })
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/swarm/cluster.sh")
}

/// Remove what earlier runs left: a cluster whose test binary is gone is stopped by its
/// watcher, which also removes its directory; here only directories nobody watches go.
fn sweep() {
    let Ok(entries) = std::fs::read_dir("/var/tmp") else {
        return;
    };
    let alive = |dir: &Path, file: &str| {
        std::fs::read_to_string(dir.join(file))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let dir = entry.path();
        if !name.starts_with(PREFIX) || alive(&dir, "parent") || alive(&dir, "watch.pid") {
            continue;
        }
        // Between `mkdir` and writing its parent file: another binary starting its cluster.
        let young = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().unwrap_or_default() < Duration::from_secs(60));
        if young && !dir.join("parent").exists() {
            continue;
        }
        let _ = Command::new(script()).arg("stop").arg(&dir).status();
    }
}

impl Cluster {
    /// `DOCKER_HOST` of node `i`.
    pub fn host(&self, i: usize) -> String {
        format!("unix://{}", self.dir.join(format!("n{i}/sock")).display())
    }

    /// The manager's `DOCKER_HOST`.
    pub fn manager(&self) -> String {
        self.host(1)
    }

    /// The docker CLI against node `i`.
    pub fn docker(&self, i: usize, args: &[&str]) -> Output {
        Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", self.host(i))
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .env_remove("DOCKER_CONTEXT")
            .output()
            .unwrap()
    }

    /// The docker CLI against node `i`, which must succeed; its stdout's lines.
    pub fn lines(&self, i: usize, args: &[&str]) -> Vec<String> {
        let out = self.docker(i, args);
        assert!(
            out.status.success(),
            "docker {args:?} on node {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn harness(&self, args: &[&str]) {
        let out = Command::new(script())
            .arg(args[0])
            .arg(&self.dir)
            .args(&args[1..])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cluster.sh {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `(hostname, state)` of every node the manager knows, e.g. `("node2", "down")`.
    pub fn nodes(&self) -> Vec<(String, String)> {
        self.lines(1, &["node", "ls", "--format", "{{.Hostname}} {{.Status}}"])
            .iter()
            .filter_map(|l| l.split_once(' '))
            .map(|(h, s)| (h.to_owned(), s.to_lowercase()))
            .collect()
    }
}

impl Swarm {
    /// Node `i` dies at once: its dockerd, containerd and tasks.
    pub fn kill(&mut self, i: usize) {
        assert_ne!(i, 1, "the tests keep the manager");
        self.c.harness(&["kill", &i.to_string()]);
        self.killed.push(i);
    }

    /// Node `i` starts afresh and joins again (its former self leaves the node list).
    pub fn add(&mut self, i: usize) {
        self.c.harness(&["add", &i.to_string()]);
        self.killed.retain(|k| *k != i);
    }
}

/// Wait until `cond` holds (checked every 100 ms), or fail naming `what`.
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        for i in std::mem::take(&mut self.killed) {
            let _ = Command::new(script())
                .arg("add")
                .arg(&self.c.dir)
                .arg(i.to_string())
                .status();
        }
    }
}

/// A test project whose devenv talks to the swarm's manager; on drop it removes what the
/// test made on every node (services first, so that their tasks stop), whatever devenv did.
#[allow(dead_code)] // the devenv swarm tests use it as they land
pub struct SwarmProject {
    pub t: TestContext,
    pub s: Swarm,
}

#[allow(dead_code)]
impl SwarmProject {
    pub fn new(s: Swarm) -> SwarmProject {
        SwarmProject {
            t: TestContext::new(),
            s,
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.t.cmd(args);
        c.env("DOCKER_HOST", self.s.c.manager())
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DEVENV_SWARM");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "devenv {args:?} failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// What of this test is on node `i`: services (manager only), containers, volumes,
    /// networks, images, each as `kind name`.
    pub fn leftovers(&self, i: usize) -> Vec<String> {
        let label = format!("label={}", self.t.label());
        let c = self.s.c;
        let mut left = Vec::new();
        let mut list = |kind: &str, args: &[&str]| {
            let out = c.docker(i, args);
            for l in String::from_utf8_lossy(&out.stdout).lines() {
                if !l.is_empty() {
                    left.push(format!("{kind} {l}"));
                }
            }
        };
        if i == 1 {
            list("service", &["service", "ls", "-q", "--filter", &label]);
        }
        list("container", &["ps", "-aq", "--filter", &label]);
        list("volume", &["volume", "ls", "-q", "--filter", &label]);
        list("network", &["network", "ls", "-q", "--filter", &label]);
        list("image", &["images", "-q", "--filter", &label]);
        left
    }
}

impl Drop for SwarmProject {
    fn drop(&mut self) {
        let label = format!("label={}", self.t.label());
        let c = self.s.c;
        let ids = |i: usize, args: &[&str]| -> Vec<String> {
            String::from_utf8_lossy(&c.docker(i, args).stdout)
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        };
        for id in ids(1, &["service", "ls", "-q", "--filter", &label]) {
            let _ = c.docker(1, &["service", "rm", &id]);
        }
        for i in 1..=NODES {
            for id in ids(i, &["ps", "-aq", "--filter", &label]) {
                let _ = c.docker(i, &["rm", "-f", "-v", &id]);
            }
        }
        for i in 1..=NODES {
            for v in ids(i, &["volume", "ls", "-q", "--filter", &label]) {
                let _ = c.docker(i, &["volume", "rm", "-f", &v]);
            }
            for n in ids(i, &["network", "ls", "-q", "--filter", &label]) {
                let _ = c.docker(i, &["network", "rm", &n]);
            }
            for id in ids(i, &["images", "-q", "--filter", &label]) {
                let _ = c.docker(i, &["rmi", "-f", &id]);
            }
        }
    }
}
