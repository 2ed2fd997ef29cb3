//! The registry cache and `push` against a remote engine, over tcp, TLS and ssh: the
//! registry lives in the engine's own network namespace, where the host cannot reach it,
//! which shows that devenv never talks to a registry itself (pulls, pushes and their
//! credentials all go through the engine's API).

use std::io::{Read, Write};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, RemoteEngine, RemoteProject};
use crate::common::{docker_lines, stderr};

/// A `docker-registry` in the test engine's network namespace on 127.0.0.1 (insecure by
/// default for the engine, as all of 127.0.0.0/8 is), its storage in a temp dir on the host.
/// Killed on drop; `setpriv --pdeathsig` kills it as well when the test thread that started
/// it dies without unwinding (the test binary killed).
struct NsRegistry {
    child: Child,
    addr: String,
    netns: String,
    port: u16,
    _storage: tempfile::TempDir,
}

impl NsRegistry {
    fn start(e: &RemoteEngine) -> NsRegistry {
        let pid = std::fs::read_to_string(e.dir.join("pid")).expect("the test engine's pid");
        let netns = format!("--net=/proc/{}/ns/net", pid.trim());
        let port = free_port();
        let storage = tempfile::tempdir().unwrap();
        let config = crate::cache::registry_config(&storage, port);
        let child = Command::new("setpriv")
            .args([
                "--pdeathsig",
                "KILL",
                "nsenter",
                &netns,
                "docker-registry",
                "serve",
            ])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("setpriv and nsenter (util-linux) must be installed");
        let mut registry = NsRegistry {
            child,
            addr: format!("127.0.0.1:{port}"),
            netns,
            port,
            _storage: storage,
        };
        registry.wait_until_listening();
        registry
    }

    /// Connect from inside the namespace until the registry answers (or has died).
    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let probe = Command::new("nsenter")
                .arg(&self.netns)
                .args([
                    "bash",
                    "-c",
                    &format!("exec 3<>/dev/tcp/127.0.0.1/{}", self.port),
                ])
                .stderr(Stdio::null())
                .status()
                .unwrap();
            if probe.success() {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("docker-registry exited ({status}); is it installed (apt-get install docker-registry)?");
            }
            assert!(Instant::now() < deadline, "the registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether something on the *host's* loopback answers as a registry on our port.
    fn answers_on_the_host(&self) -> bool {
        let Ok(mut s) = std::net::TcpStream::connect(&self.addr) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = write!(s, "GET /v2/ HTTP/1.0\r\n\r\n");
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer
            .to_ascii_lowercase()
            .contains("docker-distribution-api-version")
    }
}

impl Drop for NsRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Copy)]
enum Via {
    Tcp,
    Tls,
    Ssh,
}

fn devenv(p: &RemoteProject, via: Via, args: &[&str]) -> Output {
    let mut cmd = p.cmd(args);
    match via {
        Via::Tcp => {}
        Via::Tls => {
            cmd.env("DOCKER_HOST", p.e.tls_host())
                .env("DOCKER_TLS_VERIFY", "1")
                .env("DOCKER_CERT_PATH", p.e.certs());
        }
        Via::Ssh => {
            cmd.env("DOCKER_HOST", p.e.ssh_host())
                .env("PATH", p.e.ssh_path());
        }
    }
    cmd.output().unwrap()
}

/// Run and assert success; returns stderr (where devenv reports what it did).
fn ok(p: &RemoteProject, via: Via, args: &[&str]) -> String {
    let out = devenv(p, via, args);
    let err = stderr(&out);
    assert!(
        out.status.success(),
        "devenv {args:?} failed ({:?}):\n{err}",
        out.status.code()
    );
    err
}

/// Build a step with an input on the remote engine, push it, forget every image there, and
/// a fresh `up` pulls the environment from the registry instead of running the step.
fn pushed_environment_is_pulled_instead_of_built(via: Via) {
    let p = RemoteProject::new();
    let registry = NsRegistry::start(p.e);
    assert!(
        !registry.answers_on_the_host(),
        "the test registry must be out of the host's reach"
    );
    p.t.manifest(&format!(
        "[[step]]\nname = \"tool\"\ninputs = [\"scripts/*.sh\"]\n\
         run = \"sh scripts/setup.sh > /tool\"\n[cache]\nregistry = \"{}/devenv-it\"\n",
        registry.addr
    ));
    p.t.write("scripts/setup.sh", "echo built-from-input\n");
    let label = format!("label={}", p.t.label());

    let err = ok(&p, via, &["build"]);
    assert!(err.contains("1 step run"), "{err}");
    assert!(
        docker_lines(&["images", "-q", "--filter", &label]).is_empty(),
        "built on the host's engine"
    );
    let err = ok(&p, via, &["push"]);
    assert!(
        err.contains(&format!("pushed {}/devenv-it:", registry.addr)),
        "{err}"
    );

    // A fresh engine: none of the project's images left on it.
    for _ in 0..3 {
        for id in p.e.docker_lines(&["images", "-q", "--filter", &label]) {
            let _ = p.e.docker(&["rmi", "-f", &id]);
        }
    }
    assert!(p
        .e
        .docker_lines(&["images", "-q", "--filter", &label])
        .is_empty());

    let err = ok(&p, via, &["up"]);
    assert!(err.contains("pulled"), "{err}");
    assert!(!err.contains(": running"), "a step ran: {err}");
    let out = devenv(&p, via, &["run", "--", "cat", "/tool"]);
    assert_eq!(
        crate::common::stdout(&out),
        "built-from-input\n",
        "the pulled environment is the one built: {}",
        stderr(&out)
    );
    // The registry's name was only for the pull; the layer keeps devenv's own name.
    let repo = format!("{}/devenv-it", registry.addr);
    assert!(
        p.e.docker_lines(&["images", "-q", &repo]).is_empty(),
        "the registry name stayed"
    );
}

#[test]
fn registry_cache_and_push_over_tcp() {
    pushed_environment_is_pulled_instead_of_built(Via::Tcp);
}

#[test]
fn registry_cache_and_push_over_tls() {
    pushed_environment_is_pulled_instead_of_built(Via::Tls);
}

#[test]
fn registry_cache_and_push_over_ssh() {
    pushed_environment_is_pulled_instead_of_built(Via::Ssh);
}
