//! The integration-test harness: a temp project with an isolated HOME and a unique project
//! name, a local busybox base made without any registry, and cleanup by label of every
//! container, image and volume the test created, also when the test fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use assert_cmd::cargo::CommandCargoExt;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The engine must be there: a test that cannot reach Docker fails, never skips.
pub fn require_docker() {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| {
        let out = Command::new("docker")
            .args(["version", "--format", "{{.Server.APIVersion}}"])
            .output()
            .expect("the `docker` CLI must be installed for the integration tests");
        assert!(
            out.status.success(),
            "the Docker engine must be reachable for the integration tests: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

pub struct TestContext {
    pub dir: tempfile::TempDir,
    pub home: tempfile::TempDir,
    pub name: String,
}

impl TestContext {
    /// A new project directory with a unique name.
    pub fn new() -> TestContext {
        require_docker();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("it-{}-{n}", std::process::id());
        let dir = tempfile::Builder::new().prefix("devenv-it-").tempdir().unwrap();
        let home = tempfile::Builder::new().prefix("devenv-home-").tempdir().unwrap();
        TestContext { dir, home, name }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Write a file in the project (creating parent directories).
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }

    /// Put a busybox root filesystem unique to this test at `base.tar` (unique so that its
    /// imported image and layers belong to this test alone) and write a manifest that uses
    /// it; `body` follows the `[base]` table.
    pub fn manifest(&self, body: &str) {
        std::fs::write(self.root().join("base.tar"), busybox_rootfs(&self.name)).unwrap();
        self.write(
            "devenv.toml",
            &format!(
                "name = \"{}\"\n[base]\nrootfs = \"base.tar\"\n{body}",
                self.name
            ),
        );
    }

    /// A `devenv` command in the project directory with the isolated HOME.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("devenv").unwrap();
        cmd.args(args)
            .current_dir(self.root())
            .env("HOME", self.home.path())
            .env("NO_COLOR", "1")
            .env_remove("CI")
            .env_remove("DEVENV_LOG");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Run and assert success, returning stdout.
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

    pub fn label(&self) -> String {
        format!("dev.devenv.project={}", self.name)
    }

    /// Ids of this test's containers (all states).
    pub fn containers(&self) -> Vec<String> {
        docker_lines(&["ps", "-aq", "--filter", &format!("label={}", self.label())])
    }
}

impl Drop for TestContext {
    fn drop(&mut self) {
        let label = format!("label={}", self.label());
        for id in docker_lines(&["ps", "-aq", "--filter", &label]) {
            let _ = Command::new("docker").args(["rm", "-f", "-v", &id]).output();
        }
        for v in docker_lines(&["volume", "ls", "-q", "--filter", &label]) {
            let _ = Command::new("docker").args(["volume", "rm", "-f", &v]).output();
        }
        // Newest first so children go before parents; repeat for stragglers.
        for _ in 0..3 {
            let ids = docker_lines(&["images", "-q", "--filter", &label]);
            if ids.is_empty() {
                break;
            }
            for id in ids {
                let _ = Command::new("docker").args(["rmi", "-f", &id]).output();
            }
        }
    }
}

pub fn docker_lines(args: &[&str]) -> Vec<String> {
    let out = Command::new("docker").args(args).output().unwrap();
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect();
    v.dedup();
    v
}

pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Where the host's static busybox lives (Debian's busybox-static).
fn busybox_path() -> PathBuf {
    for p in ["/bin/busybox", "/usr/bin/busybox"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("a static busybox is needed for test fixtures: apt-get install busybox-static");
}

/// A minimal root filesystem: static busybox with all applets, passwd/group with root,
/// /tmp and /root. `tag` goes into /etc/devenv-fixture so every test gets its own digest.
pub fn busybox_rootfs(tag: &str) -> Vec<u8> {
    static APPLETS: OnceLock<(Vec<u8>, Vec<String>)> = OnceLock::new();
    let (bin, applets) = APPLETS.get_or_init(|| {
        let path = busybox_path();
        let list = Command::new(&path).arg("--list").output().unwrap();
        let applets = String::from_utf8_lossy(&list.stdout)
            .lines()
            .filter(|a| *a != "busybox" && !a.is_empty())
            .map(str::to_owned)
            .collect();
        (std::fs::read(path).unwrap(), applets)
    });
    let mut tar = tar::Builder::new(Vec::new());
    let dir = |tar: &mut tar::Builder<Vec<u8>>, p: &str, mode: u32| {
        let mut h = header(tar::EntryType::Directory, mode, 0);
        tar.append_data(&mut h, p, std::io::empty()).unwrap();
    };
    for (d, mode) in [
        ("bin", 0o755),
        ("etc", 0o755),
        ("tmp", 0o1777),
        ("root", 0o700),
        ("home", 0o755),
        ("usr", 0o755),
        ("usr/bin", 0o755),
    ] {
        dir(&mut tar, d, mode);
    }
    let mut h = header(tar::EntryType::Regular, 0o755, bin.len() as u64);
    tar.append_data(&mut h, "bin/busybox", bin.as_slice()).unwrap();
    for a in applets {
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        tar.append_link(&mut h, format!("bin/{a}"), "busybox").unwrap();
    }
    let files = [
        ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n".to_owned()),
        ("etc/group", "root:x:0:\n".to_owned()),
        ("etc/devenv-fixture", format!("{tag}\n")),
    ];
    for (p, content) in files {
        let mut h = header(tar::EntryType::Regular, 0o644, content.len() as u64);
        tar.append_data(&mut h, p, content.as_bytes()).unwrap();
    }
    tar.into_inner().unwrap()
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
