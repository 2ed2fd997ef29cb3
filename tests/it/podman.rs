//! Podman's Docker-compatible API: a `podman system service` started by the test, rootful,
//! with its own containers.conf (lower ulimits, which containers need on these machines: see
//! the recipe), storage and socket under a temp directory, stopped by its pid.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{needs_root, stderr, stdout, TestContext};

struct Podman {
    child: Child,
    dir: tempfile::TempDir,
}

impl Podman {
    fn start() -> Podman {
        Podman::start_with("")
    }

    /// With `extra` added to the `[containers]` table of its containers.conf.
    fn start_with(extra: &str) -> Podman {
        let dir = tempfile::Builder::new()
            .prefix("devenv-podman-")
            .tempdir()
            .unwrap();
        let conf = dir.path().join("containers.conf");
        std::fs::write(
            &conf,
            format!(
                "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=4096:4096\"]\n{extra}\n\
                 [network]\nnetwork_config_dir = \"{}\"\n",
                dir.path().join("networks").display()
            ),
        )
        .unwrap();
        let child = Command::new("podman")
            .env("CONTAINERS_CONF", &conf)
            .arg("--root")
            .arg(dir.path().join("root"))
            .arg("--runroot")
            .arg(dir.path().join("run"))
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", dir.path().join("sock").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("podman must be installed (apt-get install podman, see .ci/install-deps)");
        let podman = Podman { child, dir };
        // Ready when the API answers (it makes its storage first).
        let deadline = Instant::now() + Duration::from_secs(30);
        while !podman.answers() {
            assert!(
                Instant::now() < deadline,
                "podman system service did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        podman
    }

    fn answers(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut s) = std::os::unix::net::UnixStream::connect(self.socket()) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let mut answer = String::new();
        s.write_all(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
            .is_ok()
            && s.read_to_string(&mut answer).is_ok()
            && answer.contains(" 200 ")
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }
}

impl Podman {
    /// `podman ARGS` on this service's own configuration and storage.
    fn podman(&self, args: &[&str]) {
        let _ = Command::new("podman")
            .env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
            .arg("--root")
            .arg(self.dir.path().join("root"))
            .arg("--runroot")
            .arg(self.dir.path().join("run"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Podman {
    /// The conmon processes of this service's containers and execs (their command lines
    /// name its storage), and the containers' init processes under them: what survived
    /// `rm --all` (exec sessions' conmons do on Podman 4.3). Killed by pid.
    fn kill_leftovers(&self) {
        let dir = self.dir.path().display().to_string();
        let procs: Vec<(i32, i32, String)> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
                let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                let ppid = stat
                    .rsplit(')')
                    .next()?
                    .split_whitespace()
                    .nth(1)?
                    .parse()
                    .ok()?;
                Some((pid, ppid, String::from_utf8_lossy(&cmd).into_owned()))
            })
            .collect();
        let conmons: Vec<i32> = procs
            .iter()
            .filter(|(_, _, cmd)| cmd.contains("conmon") && cmd.contains(&dir))
            .map(|(pid, _, _)| *pid)
            .collect();
        let children = procs
            .iter()
            .filter(|(_, ppid, _)| conmons.contains(ppid))
            .map(|(pid, _, _)| *pid);
        for pid in children.chain(conmons.iter().copied()).collect::<Vec<_>>() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

impl Drop for Podman {
    /// Containers outlive the service (conmon keeps them): remove them and the storage
    /// (unmounting it) first, then stop the service by its pid.
    fn drop(&mut self) {
        self.podman(&["rm", "--all", "--force", "--time", "0"]);
        self.podman(&["system", "reset", "--force"]);
        self.kill_leftovers();
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id().cast_signed()),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const CATATONIT: &[&str] = &[
    "/usr/libexec/podman/catatonit",
    "/usr/local/libexec/podman/catatonit",
    "/usr/lib/podman/catatonit",
    "/usr/local/lib/podman/catatonit",
    "/usr/bin/catatonit",
    "/usr/local/bin/catatonit",
];

#[test]
fn doctor_names_podman_and_whether_its_init_binary_is_there() {
    if !needs_root("doctor_names_podman_and_whether_its_init_binary_is_there") {
        return;
    }
    let podman = Podman::start();
    let t = TestContext::new();
    let out = t
        .cmd(&["doctor"])
        .env("DOCKER_HOST", podman.host())
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(
        text.contains("engine:          Podman 4.") || text.contains("engine:          Podman 5."),
        "{text}"
    );
    let installed = CATATONIT.iter().any(|p| std::path::Path::new(p).exists());
    if installed {
        assert!(text.contains("init process:    catatonit ("), "{text}");
    } else {
        assert!(text.contains("catatonit missing"), "{text}");
        assert!(text.contains("apt-get install catatonit"), "{text}");
    }
    // And Docker's engine is named as such.
    let docker = t.ok(&["doctor"]);
    assert!(
        docker.contains("engine:          Docker Engine"),
        "{docker}"
    );
}

/// The environment on Podman: built through its API (import, commit, exec), up, and `run`
/// with the exact exit code.
#[test]
fn an_environment_builds_and_runs_on_podman() {
    if !needs_root("an_environment_builds_and_runs_on_podman") {
        return;
    }
    // Opt-in until a hang seen here is understood: after a run killed mid-test, later runs
    // stopped in this test (podman 4.3's service left /run/libpod and a netns behind).
    if std::env::var_os("DEVENV_IT_PODMAN").is_none() {
        eprintln!("skipped: set DEVENV_IT_PODMAN=1 to run the Podman environment test");
        return;
    }
    assert!(
        CATATONIT.iter().any(|p| std::path::Path::new(p).exists()),
        "catatonit must be installed for this test (apt-get install catatonit)"
    );
    let podman = Podman::start();
    let t = TestContext::new();
    // A service from the environment image, ready by devenv's own probe (Podman runs no
    // healthchecks without systemd).
    t.manifest(
        r#"
[[step]]
name = "s"
run = "echo built > /built"

[services.web]
command = "sleep 0.5; touch /tmp/ok; exec sleep 1000"
ready = "test -f /tmp/ok"
"#,
    );
    let on_podman = |args: &[&str]| {
        t.cmd(args)
            .env("DOCKER_HOST", podman.host())
            .output()
            .unwrap()
    };
    let out = on_podman(&["up"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = on_podman(&["run", "--", "sh", "-c", "cat /built; exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert_eq!(stdout(&out), "built\n");
    // Podman reports pid 0 for every finished exec: a failure is still the command's.
    let out = on_podman(&["run", "--", "sh", "-c", "exit 1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "",
        "a failing command is not a runtime failure"
    );
    let out = on_podman(&["down", "--volumes"]);
    assert!(out.status.success(), "{}", stderr(&out));
}
