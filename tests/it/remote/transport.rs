//! Reaching a remote engine: tcp, TLS (environment and docker context), ssh on a custom
//! port, and fast, precise errors when it cannot be reached.

use std::time::{Duration, Instant};

use super::engine;
use crate::common::{stderr, stdout, TestContext};

/// `devenv doctor` with `env`, against whatever endpoint `env` names.
fn doctor(t: &TestContext, env: &[(&str, String)]) -> (std::process::Output, Duration) {
    let mut cmd = t.cmd(&["doctor"]);
    cmd.env_remove("DOCKER_HOST")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .env_remove("DOCKER_CONTEXT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let out = cmd.output().unwrap();
    (out, start.elapsed())
}

/// The test engine's data root: proves devenv talked to it, not to the host's engine.
fn remote_root() -> String {
    engine().dir.join("data").display().to_string()
}

#[test]
fn tls_endpoint_from_the_environment() {
    let e = engine();
    let t = TestContext::new();
    let (out, _) = doctor(
        &t,
        &[
            ("DOCKER_HOST", e.tls_host()),
            ("DOCKER_TLS_VERIFY", "1".into()),
            ("DOCKER_CERT_PATH", e.certs().display().to_string()),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&remote_root()), "{}", stdout(&out));
}

/// Write a docker context `name` for `host` under `t`'s HOME, as the docker CLI keeps it;
/// returns its TLS folder.
fn write_context(t: &TestContext, name: &str, host: &str) -> std::path::PathBuf {
    let config = t.home.path().join(".docker");
    let id = format!("{name}-id"); // the CLI names the folder by a digest of the name; any id works
    let meta = config.join("contexts/meta").join(&id);
    let tls = config.join("contexts/tls").join(&id).join("docker");
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::create_dir_all(&tls).unwrap();
    std::fs::write(
        meta.join("meta.json"),
        format!(
            r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#
        ),
    )
    .unwrap();
    tls
}

#[test]
fn tls_endpoint_from_a_docker_context() {
    let e = engine();
    let t = TestContext::new();
    let tls = write_context(&t, "big", &e.tls_host());
    for f in ["ca.pem", "cert.pem", "key.pem"] {
        std::fs::copy(e.certs().join(f), tls.join(f)).unwrap();
    }
    let config = t.home.path().join(".docker/config.json");
    std::fs::write(config, r#"{"currentContext":"big"}"#).unwrap();
    let (out, _) = doctor(&t, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&remote_root()), "{}", stdout(&out));
}

/// `SkipTLSVerify: true` is TLS that does not check the server (the docker CLI's meaning),
/// never plain HTTP: with a CA that did not sign the server's certificate, devenv still
/// reaches the engine over TLS, presenting the context's client certificate.
#[test]
fn skip_tls_verify_context_speaks_tls_without_verifying_the_server() {
    let e = engine();
    let t = TestContext::new();
    let tls = write_context(&t, "insecure", &e.tls_host());
    std::fs::copy(e.certs().join("wrong-ca.pem"), tls.join("ca.pem")).unwrap();
    for f in ["cert.pem", "key.pem"] {
        std::fs::copy(e.certs().join(f), tls.join(f)).unwrap();
    }
    let meta = t
        .home
        .path()
        .join(".docker/contexts/meta/insecure-id/meta.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    std::fs::write(
        &meta,
        text.replace("\"SkipTLSVerify\":false", "\"SkipTLSVerify\":true"),
    )
    .unwrap();
    let (out, _) = doctor(&t, &[("DOCKER_CONTEXT", "insecure".to_owned())]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&remote_root()), "{}", stdout(&out));
}

/// An ssh context (chosen with DOCKER_CONTEXT, over the config's current one), on a
/// custom port, through the system ssh.
#[test]
fn ssh_endpoint_from_a_docker_context() {
    let e = engine();
    let t = TestContext::new();
    write_context(&t, "builder", &e.ssh_host());
    write_context(&t, "elsewhere", "tcp://127.0.0.1:1");
    let config = t.home.path().join(".docker/config.json");
    std::fs::write(config, r#"{"currentContext":"elsewhere"}"#).unwrap();
    let env = [
        ("DOCKER_CONTEXT", "builder".to_owned()),
        ("PATH", e.ssh_path()),
    ];
    let (out, _) = doctor(&t, &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&remote_root()), "{}", stdout(&out));
}

#[test]
fn tls_with_a_wrong_ca_is_refused_fast_with_exit_3() {
    let e = engine();
    let t = TestContext::new();
    let certs = t.home.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(e.certs().join("wrong-ca.pem"), certs.join("ca.pem")).unwrap();
    for f in ["cert.pem", "key.pem"] {
        std::fs::copy(e.certs().join(f), certs.join(f)).unwrap();
    }
    let (out, took) = doctor(
        &t,
        &[
            ("DOCKER_HOST", e.tls_host()),
            ("DOCKER_TLS_VERIFY", "1".into()),
            ("DOCKER_CERT_PATH", certs.display().to_string()),
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(err.contains(&e.tls_host()), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert!(!err.contains("daemon running"), "{err}");
}

#[test]
fn refused_endpoint_is_reported_fast_with_exit_3() {
    let t = TestContext::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("tcp://127.0.0.1:{port}");
    let (out, took) = doctor(&t, &[("DOCKER_HOST", host.clone())]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(err.contains(&host) && err.contains("refused"), "{err}");
}

/// A web server (or proxy) on the port DOCKER_HOST names answers, but is no engine: said
/// so, fast, with exit 3, not relayed as an error of the engine's.
#[test]
fn an_endpoint_that_is_not_a_docker_engine_is_named_as_such() {
    let t = TestContext::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("tcp://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut conn = conn;
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut conn, &mut buf);
            let _ = std::io::Write::write_all(
                &mut conn,
                b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 22\r\n\
                  Connection: close\r\n\r\n<html>not here</html>\n",
            );
        }
    });
    let (out, took) = doctor(&t, &[("DOCKER_HOST", host.clone())]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(
        err.contains(&host) && err.contains("not a Docker engine (HTTP 404"),
        "{err}"
    );
    assert!(!err.contains("<html>"), "{err}");
}

/// The engine's TLS port without DOCKER_TLS_VERIFY: the answer says to turn TLS on.
#[test]
fn plain_http_to_a_tls_endpoint_says_to_use_tls() {
    let e = engine();
    let t = TestContext::new();
    let (out, took) = doctor(&t, &[("DOCKER_HOST", e.tls_host())]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(
        err.contains("it speaks TLS") && err.contains("DOCKER_TLS_VERIFY=1"),
        "{err}"
    );
}

#[test]
fn ssh_endpoint_on_a_custom_port() {
    let e = engine();
    let t = TestContext::new();
    let (out, _) = doctor(&t, &[("DOCKER_HOST", e.ssh_host()), ("PATH", e.ssh_path())]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&remote_root()), "{}", stdout(&out));
}

#[test]
fn ssh_refused_is_reported_with_exit_3() {
    let e = engine();
    let t = TestContext::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("ssh://root@127.0.0.1:{port}");
    let (out, took) = doctor(&t, &[("DOCKER_HOST", host.clone()), ("PATH", e.ssh_path())]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(err.contains(&host) && err.contains("refused"), "{err}");
}

/// Builds (inputs uploaded through the API), the environment, execs with stdin and the
/// remote workspace all work through ssh's stdio.
#[test]
fn build_up_and_run_over_ssh() {
    let p = super::RemoteProject::new();
    p.t.manifest(
        "[[step]]\nname = \"tool\"\ninputs = [\"scripts/*.sh\"]\nrun = \"sh scripts/setup.sh > /tool\"\n",
    );
    p.t.write("scripts/setup.sh", "echo built-from-input\n");
    p.t.write("app.txt", "app\n");
    let ssh = |args: &[&str], input: &[u8]| {
        use std::io::Write;
        let mut child = p
            .cmd(args)
            .env("DOCKER_HOST", p.e.ssh_host())
            .env("PATH", p.e.ssh_path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    ssh(&["up"], b"");
    let out = ssh(
        &["run", "--", "sh", "-c", "cat /tool app.txt; cat"],
        b"from stdin\n",
    );
    assert_eq!(out, "built-from-input\napp\nfrom stdin\n");
    // The same environment over tcp: one engine, whichever transport.
    let out = p.ok(&["run", "--", "cat", "/tool"]);
    assert_eq!(out, "built-from-input\n");
}

/// A second plain-tcp forwarder to the test engine with socat's default of ending a
/// connection 0.5 s after one side's end of input, like many proxies; killed on drop (and
/// by `--pdeathsig` if the test thread dies without unwinding).
struct StrictForwarder {
    child: std::process::Child,
    host: String,
}

impl StrictForwarder {
    fn start(e: &super::RemoteEngine) -> StrictForwarder {
        let port = super::free_port();
        let child = std::process::Command::new("setpriv")
            .args(["--pdeathsig", "KILL", "socat"])
            .arg(format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"))
            .arg(format!("UNIX-CONNECT:{}", e.dir.join("sock").display()))
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the forwarder did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        StrictForwarder {
            child,
            host: format!("tcp://127.0.0.1:{port}"),
        }
    }
}

impl Drop for StrictForwarder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// With nothing on stdin (CI, cron, `</dev/null`) no half-close reaches the connection, so
/// a forwarder that drops half-closed connections still gets a command's whole output and
/// status, however long it runs (it failed with 126 and no output after 0.5 s).
#[test]
fn runs_without_stdin_survive_a_forwarder_that_drops_half_closed_connections() {
    let p = super::RemoteProject::new();
    p.t.manifest("");
    p.ok(&["up"]);
    let strict = StrictForwarder::start(p.e);
    let out = p
        .cmd(&["run", "--", "sh", "-c", "sleep 1.5; cat; echo done; exit 7"])
        .env("DOCKER_HOST", &strict.host)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert_eq!(stdout(&out), "done\n", "{}", stderr(&out));
    // Piped input still reaches the command, and its end is end-of-file, through the
    // harness's forwarder (which keeps half-closed connections).
    let mut child = p
        .cmd(&["run", "--", "sh", "-c", "cat; sleep 1.5; echo after"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"piped\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "piped\nafter\n", "{}", stderr(&out));
}
