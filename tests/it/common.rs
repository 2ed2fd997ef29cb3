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
        let dir = tempfile::Builder::new()
            .prefix("devenv-it-")
            .tempdir()
            .unwrap();
        let home = tempfile::Builder::new()
            .prefix("devenv-home-")
            .tempdir()
            .unwrap();
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

    /// `docker import` the project's `base.tar` as the local image `tag`, with the test's
    /// label so cleanup finds it.
    pub fn import_base(&self, tag: &str) {
        let out = Command::new("docker")
            .args(["import", "--change", &format!("LABEL {}", self.label())])
            .arg(self.root().join("base.tar"))
            .arg(tag)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Hand the project and HOME to `uid` (for tests as a non-root host user).
    pub fn give_to(&self, uid: u32) {
        let status = Command::new("chown")
            .args(["-R", &format!("{uid}:{uid}")])
            .arg(self.root())
            .arg(self.home.path())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Run `devenv ARGS` as host user `uid` (group `uid`, plus the docker socket's group so
    /// it may reach the engine), as `USER=ituser`.
    pub fn as_user(&self, uid: u32, args: &[&str]) -> Output {
        let sock_gid = std::fs::metadata("/var/run/docker.sock")
            .map(|m| std::os::unix::fs::MetadataExt::gid(&m))
            .expect("the docker socket");
        Command::new("setpriv")
            .args([
                &format!("--reuid={uid}"),
                &format!("--regid={uid}"),
                &format!("--groups={sock_gid}"),
            ])
            .arg(assert_cmd::cargo::cargo_bin("devenv"))
            .args(args)
            .current_dir(self.root())
            .env("HOME", self.home.path())
            .env("USER", "ituser")
            .env("NO_COLOR", "1")
            .env_remove("CI")
            .output()
            .expect("setpriv (util-linux) must be installed")
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
            let _ = Command::new("docker")
                .args(["rm", "-f", "-v", &id])
                .output();
        }
        for n in docker_lines(&["network", "ls", "-q", "--filter", &label]) {
            let _ = Command::new("docker").args(["network", "rm", &n]).output();
        }
        for v in docker_lines(&["volume", "ls", "-q", "--filter", &label]) {
            let _ = Command::new("docker")
                .args(["volume", "rm", "-f", &v])
                .output();
        }
        remove_images(&label, &self.name);
    }
}

/// Remove the images a test made, by name only: an image id can carry another project's
/// tags (layers are shared by key), and `docker rmi -f <id>` would strip them on a shared
/// daemon. A name is the test's when one of its `/`-, `:`- or `@`-separated parts is the test's
/// unique name or its project's id, or it is devenv's content-keyed name (`devenv/layer:<key>`,
/// `devenv/rootfs:<digest>`) on an image the test's project made (its label). Then untagged
/// images of the test's label go, by id without force, so one still used (a tag, a
/// container, a child image) stays.
pub fn remove_images(label: &str, name: &str) {
    let rows = || {
        docker_lines(&[
            "images",
            "-a",
            "--filter",
            label,
            "--format",
            "{{.ID}} {{.Repository}}:{{.Tag}}",
        ])
    };
    // The project ids (`devenv/project/<id>:<hash>`) of what the test's project built.
    let ids = docker_lines(&["images", "-aq", "--filter", label]);
    let mut project_ids = vec![name.to_owned()];
    if !ids.is_empty() {
        let mut args = vec![
            "image",
            "inspect",
            "--format",
            "{{index .Config.Labels \"dev.devenv.project-id\"}}",
        ];
        args.extend(ids.iter().map(String::as_str));
        project_ids.extend(docker_lines(&args).into_iter().filter(|i| !i.is_empty()));
    }
    // A part is the test's when it is its name or id, or a name the test derived from it
    // (`<name>-commit`, `<name>-snapshot`).
    let ours = |tag: &str| {
        tag.split(['/', ':', '@']).any(|part| {
            project_ids.iter().any(|p| {
                part == p
                    || part
                        .strip_prefix(p.as_str())
                        .is_some_and(|r| r.starts_with('-'))
            })
        }) || tag.starts_with("devenv/layer:")
            || tag.starts_with("devenv/rootfs:")
    };
    for row in rows() {
        let Some((id, tag)) = row.split_once(' ') else {
            continue;
        };
        if tag == "<none>:<none>" || !ours(tag) {
            continue;
        }
        if tag.ends_with(":<none>") {
            // A name kept by digest alone (pulled from a registry by digest): no tag to name.
            let digests = docker_lines(&[
                "image",
                "inspect",
                "--format",
                "{{range .RepoDigests}}{{println .}}{{end}}",
                id,
            ]);
            for d in digests.iter().filter(|d| ours(d)) {
                let _ = Command::new("docker").args(["rmi", d]).output();
            }
        } else {
            let _ = Command::new("docker").args(["rmi", tag]).output();
        }
    }
    // Children before parents: repeat while something goes.
    for _ in 0..5 {
        let untagged: Vec<String> = rows()
            .into_iter()
            .filter_map(|r| r.strip_suffix(" <none>:<none>").map(str::to_owned))
            .collect();
        let removed = untagged.iter().filter(|id| {
            Command::new("docker")
                .args(["rmi", id.as_str()])
                .output()
                .is_ok_and(|o| o.status.success())
        });
        if removed.count() == 0 {
            break;
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
    tar.append_data(&mut h, "bin/busybox", bin.as_slice())
        .unwrap();
    for a in applets {
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        tar.append_link(&mut h, format!("bin/{a}"), "busybox")
            .unwrap();
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

/// `devenv` in a pseudo-terminal, for interactive tests: type, wait for output, resize.
pub struct PtySession {
    master: Box<dyn portable_pty::MasterPty + Send>,
    writer: Box<dyn std::io::Write + Send>,
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    seen: String,
    child: Box<dyn portable_pty::Child + Send + Sync>,
}

impl PtySession {
    /// Start `devenv ARGS` in the project, in a 24x80 terminal, with extra `env`.
    pub fn spawn(t: &TestContext, args: &[&str], env: &[(&str, &str)]) -> PtySession {
        use portable_pty::{native_pty_system, CommandBuilder, PtySize};
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 24,
                cols: 80,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(assert_cmd::cargo::cargo_bin("devenv"));
        cmd.args(args);
        cmd.cwd(t.root());
        cmd.env("HOME", t.home.path());
        cmd.env("TERM", "xterm");
        cmd.env_remove("CI");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut reader, &mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let writer = pair.master.take_writer().unwrap();
        PtySession {
            master: pair.master,
            writer,
            rx,
            seen: String::new(),
            child,
        }
    }

    /// Type `text` (use `\r` for Enter).
    pub fn send(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// Wait (up to 30 s) until `needle` appears, and consume the screen up to it.
    pub fn expect(&mut self, needle: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Some(i) = self.seen.find(needle) {
                self.seen.drain(..i + needle.len());
                return;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let chunk = self.rx.recv_timeout(left).unwrap_or_else(|e| {
                panic!("{e} waiting for {needle:?}; screen so far:\n{}", self.seen)
            });
            self.seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    pub fn resize(&self, rows: u16, cols: u16) {
        self.master
            .resize(portable_pty::PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
    }

    /// Wait for the program to end; its exit code.
    pub fn wait(mut self) -> u32 {
        self.child.wait().unwrap().exit_code()
    }
}

/// Whether a test that acts as other host users (`setpriv`, `chown`) can run: it needs
/// root. Without root this prints one line and the test returns.
pub fn needs_root(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    println!("skipped: {test} needs root (it runs devenv as other host users)");
    false
}

/// A number at or above `from` that is neither a uid in /etc/passwd nor a gid in /etc/group
/// of this machine, and not handed to another test: a host user id no real user has.
pub fn free_id(from: u32) -> u32 {
    static HANDED: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());
    let ids = |file: &str| -> Vec<u32> {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(':').nth(2)?.parse().ok())
            .collect()
    };
    let (users, groups) = (ids("/etc/passwd"), ids("/etc/group"));
    let mut handed = HANDED.lock().unwrap();
    let id = (from..u32::MAX)
        .find(|id| !users.contains(id) && !groups.contains(id) && !handed.contains(id))
        .unwrap();
    handed.push(id);
    id
}

/// Send `sig` to a child process (as a terminal's Ctrl-C or a CI cancel would).
pub fn signal(child: &std::process::Child, sig: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, sig).unwrap();
}
