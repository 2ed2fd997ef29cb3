//! Credentials and secrets stay where they belong: registry credentials go only to the
//! registry they are for, and no log level prints a secret value.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;

use crate::common::{stderr, stdout, TestContext};

/// A loopback "registry" that answers every request with a Basic-auth challenge and
/// records the requests and the `Authorization` headers the engine sends it.
pub(crate) struct AuthRecorder {
    pub(crate) addr: String,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl AuthRecorder {
    pub(crate) fn start() -> AuthRecorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopped) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let seen = seen.clone();
                std::thread::spawn(move || answer(conn, &seen));
            }
        });
        AuthRecorder {
            addr,
            requests,
            stop,
        }
    }

    /// Every request head received so far.
    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// The `Authorization` header values received so far.
    fn authorizations(&self) -> Vec<String> {
        self.requests()
            .iter()
            .flat_map(|r| r.lines().map(str::to_owned).collect::<Vec<_>>())
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("authorization")
                    .then(|| v.trim().to_owned())
            })
            .collect()
    }
}

impl Drop for AuthRecorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

fn answer(mut conn: TcpStream, seen: &Mutex<Vec<String>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            // A TLS handshake (the engine tries https first): hang up so it falls back.
            Ok(_) if head.is_empty() && buf[0] == 0x16 => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    seen.lock()
        .unwrap()
        .push(String::from_utf8_lossy(&head).into_owned());
    let body = r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
    let _ = write!(
        conn,
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"devenv-it\"\r\n\
         Docker-Distribution-API-Version: registry/2.0\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// A docker config directory of the test's own (so the runner's `~/.docker` plays no part).
fn docker_config(t: &TestContext, json: &str) -> std::path::PathBuf {
    let dir = t.home.path().join("docker-config");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.json"), json).unwrap();
    dir
}

#[test]
fn cache_credentials_are_not_sent_to_a_base_registry_on_another_host() {
    let base_registry = AuthRecorder::start();
    let cache_registry = AuthRecorder::start();
    let t = TestContext::new();
    t.write(
        "devenv.toml",
        &format!(
            "name = \"{}\"\n[base]\nimage = \"{}/devenv-it/base:1\"\n\
             [cache]\nregistry = \"{}/devenv-it\"\n",
            t.name, base_registry.addr, cache_registry.addr
        ),
    );
    let password = "ci-password-3b9e1d";
    let out = t
        .cmd(&["build"])
        .env("DOCKER_CONFIG", docker_config(&t, "{}"))
        .env("DEVENV_REGISTRY_USER", "ci")
        .env("DEVENV_REGISTRY_PASSWORD", password)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the base cannot exist: {}",
        stderr(&out)
    );
    // The engine did try the base's registry (else this test would prove nothing)...
    assert!(
        !base_registry.requests().is_empty(),
        "the engine never contacted the base registry: {}",
        stderr(&out)
    );
    // ...and got nothing to authenticate with.
    let sent = base_registry.authorizations();
    assert!(
        sent.is_empty(),
        "credentials sent to the base's registry: {sent:?}"
    );
    assert!(!stderr(&out).contains(password));
}

#[test]
fn cache_credentials_are_sent_to_the_cache_registry() {
    let cache_registry = AuthRecorder::start();
    let t = TestContext::new();
    t.manifest(&format!(
        "[[step]]\nname = \"a\"\nrun = \"true\"\n[cache]\nregistry = \"{}/devenv-it\"\n",
        cache_registry.addr
    ));
    let out = t
        .cmd(&["build"])
        .env("DOCKER_CONFIG", docker_config(&t, "{}"))
        .env("DEVENV_REGISTRY_USER", "ci")
        .env("DEVENV_REGISTRY_PASSWORD", "ci-password-a71f")
        .output()
        .unwrap();
    // The cache refuses them, so the build warns and goes on locally.
    assert!(out.status.success(), "{}", stderr(&out));
    let sent = cache_registry.authorizations();
    assert!(
        sent.contains(&basic("ci", "ci-password-a71f")),
        "the cache registry got {sent:?}"
    );
}

#[test]
fn a_docker_credential_helper_supplies_the_credentials() {
    let cache_registry = AuthRecorder::start();
    let t = TestContext::new();
    t.manifest(&format!(
        "[[step]]\nname = \"a\"\nrun = \"true\"\n[cache]\nregistry = \"{}/devenv-it\"\n",
        cache_registry.addr
    ));
    // Docker Desktop style: no `auths`, a helper named per registry.
    let config = docker_config(
        &t,
        &format!(
            r#"{{"auths":{{}},"credHelpers":{{"{}":"devenvit"}}}}"#,
            cache_registry.addr
        ),
    );
    let bin = t.home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = t.home.path().join("helper.log");
    let helper = bin.join("docker-credential-devenvit");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread -r server\necho \"$1 $server\" >> {}\n\
             echo '{{\"ServerURL\":\"'\"$server\"'\",\"Username\":\"helper-user\",\"Secret\":\"helper-secret\"}}'\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = t
        .cmd(&["build"])
        .env("DOCKER_CONFIG", &config)
        .env("PATH", path)
        .env_remove("DEVENV_REGISTRY_USER")
        .env_remove("DEVENV_REGISTRY_PASSWORD")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let asked = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        asked
            .lines()
            .any(|l| l == format!("get {}", cache_registry.addr)),
        "helper was asked: {asked:?}"
    );
    let sent = cache_registry.authorizations();
    assert!(
        sent.contains(&basic("helper-user", "helper-secret")),
        "the cache registry got {sent:?}"
    );
    assert!(!stderr(&out).contains("helper-secret"));
    let _ = stdout(&out);
}

/// Every log level, through `DEVENV_LOG` or `-v`: no step secret, `env_file` value or
/// `[container] env` value is printed, neither by devenv nor by the HTTP layers beneath it.
#[test]
fn no_log_level_prints_a_secret_value() {
    let t = TestContext::new();
    let secret = "step-secret-5e0c2b";
    let env_file_value = "env-file-value-91d4aa";
    t.manifest(
        "[[step]]\nname = \"uses a secret\"\nsecrets = [\"IT_TOKEN\"]\n\
         run = \"test -n \\\"$IT_TOKEN\\\"\"\n[container]\nenv_file = \".env\"\n",
    );
    t.write(".env", &format!("IT_ENV_FILE={env_file_value}\n"));
    let runs: [(&[&str], Option<&str>); 4] = [
        (&["build"], Some("trace")),
        (&["-vv", "run", "--", "sh", "-c", "echo ok"], None),
        (&["run", "--", "true"], Some("trace")),
        (
            &["down"],
            Some("trace,devenv=trace,hyper=trace,bollard=trace"),
        ),
    ];
    for (args, log) in runs {
        let mut cmd = t.cmd(args);
        cmd.env("IT_TOKEN", secret);
        if let Some(log) = log {
            cmd.env("DEVENV_LOG", log);
        }
        let out = cmd.output().unwrap();
        let (o, e) = (stdout(&out), stderr(&out));
        assert!(out.status.success(), "{args:?}: {e}");
        for value in [secret, env_file_value] {
            assert!(
                !o.contains(value) && !e.contains(value),
                "{args:?} with DEVENV_LOG={log:?} printed {value}:\n{e}"
            );
        }
    }
}
