//! Remote engines: a second Docker engine that shares neither this machine's filesystem nor
//! its network (see `engine.sh`), reached over a unix socket, tcp, TLS and ssh.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::common::TestContext;

mod cache;
mod host_ca;
mod services;
mod sync_safety;
mod transport;
mod workspace;

/// The test engine, started once per test binary; it stops by itself when the binary ends
/// (it watches our pid), and the next run sweeps what is left.
pub struct RemoteEngine {
    pub dir: PathBuf,
    pub tcp_port: u16,
    pub tls_port: u16,
    pub ssh_port: u16,
}

const PREFIX: &str = "devenv-remote-";

pub fn engine() -> &'static RemoteEngine {
    static ENGINE: OnceLock<RemoteEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        crate::common::require_docker();
        sweep();
        let dir = Path::new("/var/tmp").join(format!("{PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (tcp_port, tls_port, ssh_port) = (free_port(), free_port(), free_port());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/remote/engine.sh");
        let out = Command::new(script)
            .arg("start")
            .arg(&dir)
            .arg(std::process::id().to_string())
            .args([tcp_port, tls_port, ssh_port].map(|p| p.to_string()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the test engine did not start:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let e = RemoteEngine {
            dir,
            tcp_port,
            tls_port,
            ssh_port,
        };
        e.wait_for_forwarders();
        e
    })
}

/// Remove what earlier test runs left: engines whose test binary is gone stop by themselves;
/// their directories are removed here once their dockerd has exited.
fn sweep() {
    let Ok(entries) = std::fs::read_dir("/var/tmp") else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(PREFIX) {
            continue;
        }
        let dir = entry.path();
        let alive = |file: &str| {
            std::fs::read_to_string(dir.join(file))
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok())
                .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
        };
        // Another test binary's engine between `mkdir` and writing its parent file.
        let starting = !dir.join("parent").exists()
            && entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| {
                t.elapsed().unwrap_or_default() < std::time::Duration::from_secs(60)
            });
        if starting || alive("parent") {
            continue;
        }
        if alive("pid") {
            // Its watch loop ends it within a second; ask now as well.
            if let Ok(pid) = std::fs::read_to_string(dir.join("pid")) {
                let _ = Command::new("kill").arg(pid.trim()).status();
            }
            continue;
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl RemoteEngine {
    fn wait_for_forwarders(&self) {
        for _ in 0..100 {
            let up = [self.tcp_port, self.tls_port, self.ssh_port]
                .iter()
                .all(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok());
            if up {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the test engine's forwarders did not start");
    }

    pub fn unix_host(&self) -> String {
        format!("unix://{}", self.dir.join("sock").display())
    }

    pub fn tcp_host(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.tcp_port)
    }

    pub fn tls_host(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.tls_port)
    }

    pub fn ssh_host(&self) -> String {
        format!("ssh://root@127.0.0.1:{}", self.ssh_port)
    }

    pub fn certs(&self) -> PathBuf {
        self.dir.join("certs")
    }

    /// `PATH` with the fixture's `ssh` (which knows the key and host key) first.
    pub fn ssh_path(&self) -> String {
        format!(
            "{}:{}",
            self.dir.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// The docker CLI against this engine.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", self.unix_host())
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .output()
            .unwrap()
    }

    pub fn docker_lines(&self, args: &[&str]) -> Vec<String> {
        String::from_utf8_lossy(&self.docker(args).stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// A test project whose devenv talks to the test engine (over plain tcp unless told
/// otherwise); on drop it removes what the test made on that engine.
pub struct RemoteProject {
    pub t: TestContext,
    pub e: &'static RemoteEngine,
}

impl RemoteProject {
    pub fn new() -> RemoteProject {
        RemoteProject {
            t: TestContext::new(),
            e: engine(),
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.t.cmd(args);
        c.env("DOCKER_HOST", self.e.tcp_host())
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// The id of the test's running container on the engine (the dev container when no
    /// services run).
    pub fn container(&self) -> String {
        self.e
            .docker_lines(&["ps", "-q", "--filter", &format!("label={}", self.t.label())])
            .pop()
            .expect("a running container of this test on the engine")
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
}

impl Drop for RemoteProject {
    fn drop(&mut self) {
        let label = format!("label={}", self.t.label());
        for id in self.e.docker_lines(&["ps", "-aq", "--filter", &label]) {
            let _ = self.e.docker(&["rm", "-f", "-v", &id]);
        }
        for v in self
            .e
            .docker_lines(&["volume", "ls", "-q", "--filter", &label])
        {
            let _ = self.e.docker(&["volume", "rm", "-f", &v]);
        }
        for _ in 0..3 {
            let ids = self.e.docker_lines(&["images", "-q", "--filter", &label]);
            if ids.is_empty() {
                break;
            }
            for id in ids {
                let _ = self.e.docker(&["rmi", "-f", &id]);
            }
        }
    }
}
