//! The user's network reaches steps and containers but not images: the docker CLI's
//! `proxies` (a tinyproxy started by the test) and the host's CA bundle
//! (`DEVENV_TRUST_HOST_CA`), neither in the image hash nor anywhere in the saved image.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{docker, stderr, stdout, TestContext};

/// A PEM "bundle" whose marker line shows where it went (text outside the PEM blocks is
/// ignored by the tools).
const MARKER: &str = "devenv-test-host-ca-marker";

fn fake_bundle(dir: &Path) -> PathBuf {
    let path = dir.join("bundle.pem");
    std::fs::write(
        &path,
        format!("# {MARKER}\n-----BEGIN CERTIFICATE-----\nTUFSS0VS\n-----END CERTIFICATE-----\n"),
    )
    .unwrap();
    path
}

/// How often `needle` occurs in `docker save IMAGE` (config, history and every layer).
fn occurrences_in_saved_image(image: &str, needle: &str) -> usize {
    let out = Command::new("docker")
        .args(["save", image])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .windows(needle.len())
        .filter(|w| *w == needle.as_bytes())
        .count()
}

#[test]
fn the_host_ca_reaches_steps_and_the_environment_but_no_layer() {
    let t = TestContext::new();
    let outside = tempfile::tempdir().unwrap();
    let bundle = fake_bundle(outside.path());
    // The step sees the bundle in the system location and through the tools' variables,
    // also as another user; the base (busybox) has no /etc/ssl and no /run at all.
    t.manifest(&format!(
        r#"
[[step]]
name = "sees the CA"
run = """
grep -q {MARKER} /etc/ssl/certs/ca-certificates.crt
for v in "$SSL_CERT_FILE" "$REQUESTS_CA_BUNDLE" "$PIP_CERT" "$NODE_EXTRA_CA_CERTS"; do grep -q {MARKER} "$v"; done
echo built > /built
"""

[[step]]
name = "as nobody"
user = "65534:65534"
run = "grep -q {MARKER} \"$SSL_CERT_FILE\" && grep -q {MARKER} /etc/ssl/certs/ca-certificates.crt"
"#
    ));
    let plain_hash = t.ok(&["hash"]);
    let trust = |args: &[&str]| {
        let out = t
            .cmd(args)
            .env("DEVENV_TRUST_HOST_CA", &bundle)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "devenv {args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    };
    trust(&["build"]);
    let hash = trust(&["hash"]);
    assert_eq!(
        hash, plain_hash,
        "the CA bundle must not enter the image hash"
    );
    let image = format!("devenv/{}:{}", t.name, hash.trim());
    assert_eq!(
        occurrences_in_saved_image(&image, MARKER),
        0,
        "the host's CA bundle was left in the image"
    );
    assert_eq!(occurrences_in_saved_image(&image, "SSL_CERT_FILE"), 0);
    // What the image has is what the steps made, nothing of devenv's.
    let left = docker(&[
        "run",
        "--rm",
        &image,
        "sh",
        "-c",
        "ls -d /built /etc/ssl /run 2>/dev/null; true",
    ]);
    assert_eq!(left, "/built\n");

    // The environment container gets it too, for as long as it lives.
    let seen = trust(&[
        "run",
        "--",
        "sh",
        "-c",
        &format!("grep -c {MARKER} /etc/ssl/certs/ca-certificates.crt \"$SSL_CERT_FILE\"; echo $PIP_CERT"),
    ]);
    assert_eq!(
        seen,
        "/etc/ssl/certs/ca-certificates.crt:1\n/run/devenv-ca/host-ca.crt:1\n/run/devenv-ca/host-ca.crt\n"
    );
    let doctor = trust(&["doctor"]);
    assert!(
        doctor.contains(&format!("host CA bundle:  {}", bundle.display())),
        "{doctor}"
    );

    // Without the setting the container is made again, without the bundle.
    let out = t.run(&[
        "run",
        "--",
        "sh",
        "-c",
        "echo ${SSL_CERT_FILE:-none}; ls /run 2>&1 | head -1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("none\n"), "{}", stdout(&out));
    assert!(stderr(&out).contains("host CA bundle"), "{}", stderr(&out));
}

#[test]
fn a_bad_trust_setting_names_the_setting_and_the_fix() {
    let t = TestContext::new();
    t.manifest("[[step]]\nname = \"s\"\nrun = \"true\"\n");
    let out = t
        .cmd(&["build"])
        .env("DEVENV_TRUST_HOST_CA", "/nonexistent/bundle.pem")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("/nonexistent/bundle.pem"), "{err}");
    assert!(err.contains("DEVENV_TRUST_HOST_CA"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

/// A tinyproxy of the test's own on the default bridge's gateway address (containers on a
/// bridge cannot reach the host's loopback; this address is on this machine too), stopped
/// by its pid when dropped.
struct Proxy {
    child: Child,
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Proxy {
    fn start() -> Proxy {
        let gateway = bridge_gateway();
        let port = std::net::TcpListener::bind((gateway.as_str(), 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("tinyproxy.log");
        let conf = dir.path().join("tinyproxy.conf");
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen {gateway}\nTimeout 30\nLogFile \"{}\"\nLogLevel Info\n\
                 MaxClients 20\nAllow 172.16.0.0/12\nAllow 10.0.0.0/8\nAllow 192.168.0.0/16\n\
                 StatHost \"tinyproxy.stats\"\n",
                log.display()
            ),
        )
        .unwrap();
        let child = Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "tinyproxy must be installed (apt-get install tinyproxy, see .ci/install-deps)",
            );
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect((gateway.as_str(), port)).is_err() {
            assert!(Instant::now() < deadline, "tinyproxy did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Proxy {
            child,
            url: format!("http://{gateway}:{port}"),
            log,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The default bridge's address on this machine: the network's gateway when the engine
/// records one, else the address of its interface (`docker0`).
fn bridge_gateway() -> String {
    let format = "{{range .IPAM.Config}}{{.Gateway}}{{end}}|\
                  {{index .Options \"com.docker.network.bridge.name\"}}";
    let out = docker(&["network", "inspect", "bridge", "--format", format]);
    let (gateway, interface) = out.trim().split_once('|').unwrap();
    if !gateway.is_empty() {
        return gateway.to_owned();
    }
    let ip = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "dev", interface])
        .output()
        .expect("ip (iproute2)");
    let text = String::from_utf8_lossy(&ip.stdout);
    let inet = text
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .unwrap_or_else(|| panic!("no IPv4 address on {interface}: {text}"));
    inet.split('/').next().unwrap().to_owned()
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn docker_config_proxies_reach_steps_and_containers_but_not_the_hash_or_image() {
    let t = TestContext::new();
    let proxy = Proxy::start();
    // `tinyproxy.stats` exists only inside the proxy: fetching it proves the request went
    // through it.
    t.manifest(
        r#"
[[step]]
name = "fetch through the proxy"
run = "wget -q -O /stats.html http://tinyproxy.stats/ && grep -qi tinyproxy /stats.html"

[services.web]
command = "exec sleep 1000"
"#,
    );
    let plain_hash = t.ok(&["hash"]);
    let config = t.home.path().join(".docker");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.json"),
        format!(
            r#"{{"proxies": {{"default": {{"httpProxy": "{0}", "httpsProxy": "{0}", "noProxy": "localhost"}}}}}}"#,
            proxy.url
        ),
    )
    .unwrap();
    t.ok(&["build"]);
    assert!(
        proxy.log().contains("tinyproxy.stats"),
        "the step's request did not reach the proxy:\n{}",
        proxy.log()
    );
    let hash = t.ok(&["hash"]);
    assert_eq!(
        hash, plain_hash,
        "the proxies must not enter the image hash"
    );
    let image = format!("devenv/{}:{}", t.name, hash.trim());
    assert_eq!(
        occurrences_in_saved_image(&image, &proxy.url),
        0,
        "the proxy was recorded in the image"
    );

    // The environment container has them as `docker run` would give them.
    let env = t.ok(&[
        "run",
        "--",
        "sh",
        "-c",
        "echo $HTTP_PROXY $http_proxy $NO_PROXY; wget -q -O- http://tinyproxy.stats/ | grep -qi tinyproxy && echo fetched",
    ]);
    assert_eq!(env, format!("{0} {0} localhost\nfetched\n", proxy.url));
    // Services too, as `docker run` gives them.
    let v: serde_json::Value = serde_json::from_str(&t.ok(&["status", "--json"])).unwrap();
    let web = v["services"]["web"]["id"].as_str().unwrap().to_owned();
    let env = docker(&["inspect", "--format", "{{json .Config.Env}}", &web]);
    assert!(
        env.contains(&format!("\"http_proxy={}\"", proxy.url)),
        "{env}"
    );
    let doctor = t.ok(&["doctor"]);
    assert!(
        doctor.contains("proxies:         HTTPS_PROXY, HTTP_PROXY, NO_PROXY from"),
        "{doctor}"
    );
}

/// A project on the cached Debian base (debootstrap, see `root_helpers`) whose second step
/// installs a package from the Python index with pip; `tag` makes that step's key the
/// project's own.
fn pip_project(tag: &str) -> TestContext {
    let t = TestContext::new();
    let src = crate::root_helpers::debian_rootfs();
    let dst = t.root().join("debian.tar.gz");
    if std::fs::hard_link(&src, &dst).is_err() {
        std::fs::copy(&src, &dst).unwrap();
    }
    t.write(
        "devenv.toml",
        &format!(
            r#"name = "{}"
[base]
rootfs = "debian.tar.gz"

[[step]]
name = "pip"
run = "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip >/dev/null"

[[step]]
name = "from the index"
run = "python3 -m pip install -q --break-system-packages --no-deps --no-cache-dir six && python3 -c 'import six' # {tag}"
"#,
            t.name
        ),
    );
    t
}

/// Containers here reach the Python index only through a TLS-inspecting proxy: with the
/// host's CA a pip step passes. Without it, it fails for that reason where the network
/// intercepts (and passes where it does not; then there is nothing to show).
#[test]
fn a_pip_step_reaches_the_index_through_an_inspecting_proxy_with_the_host_ca() {
    let with = pip_project("with the host CA");
    let out = with
        .cmd(&["build"])
        .env("DEVENV_TRUST_HOST_CA", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pip with the host's CA bundle failed:\n{}",
        stderr(&out)
    );
    let without = pip_project("without");
    let out = without.run(&["build"]);
    if out.status.success() {
        eprintln!("this network does not intercept TLS: pip passed without the host's CA");
    } else {
        let err = stderr(&out);
        assert!(
            err.contains("CERTIFICATE_VERIFY_FAILED") && err.contains("from the index"),
            "without the host's CA the pip step failed for another reason:\n{err}"
        );
        eprintln!("this network intercepts TLS: pip failed without the host's CA, as it should");
    }
}
