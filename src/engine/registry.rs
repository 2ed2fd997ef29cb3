//! Registry access: credentials and push.
//!
//! Which credentials go where, since the engine hands them to whatever registry a reference
//! names (a merge request may change `base.image` to any host):
//! - `DEVENV_REGISTRY_USER`/`DEVENV_REGISTRY_PASSWORD` are the registry *cache's* credentials.
//!   They go only to the cache registry's host ([`Engine::for_cache`]); a reference on any
//!   other host never sees them.
//! - Everything else is looked up in the docker CLI's credential store, as the CLI does:
//!   `credHelpers[host]`, else `credsStore`, through a `docker-credential-<name>` helper; with
//!   neither, the `auths` entry of that host. Only the entry of the host being contacted is
//!   ever read.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::PushImageOptionsBuilder;
use futures_util::StreamExt;
use serde::Deserialize;

use super::{Engine, EngineError, Result};

/// The key Docker Hub's credentials are stored under (the CLI's `IndexServer`).
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// Registry host of a reference (`docker.io` when it names none).
pub fn registry_host(reference: &str) -> &str {
    match reference.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    }
}

/// A registry address (`ghcr.io`, `https://ghcr.io/v2/`, `Index.Docker.io`) reduced to the
/// host (with port) it names, Docker Hub's aliases to `docker.io`.
fn normalize_host(address: &str) -> String {
    let rest = address
        .strip_prefix("https://")
        .or_else(|| address.strip_prefix("http://"))
        .unwrap_or(address);
    let host = rest
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_owned()
        }
        _ => host,
    }
}

/// Whether two registry addresses name the same host (ports must match too).
pub fn same_host(a: &str, b: &str) -> bool {
    let (a, b) = (normalize_host(a), normalize_host(b));
    !a.is_empty() && a == b
}

/// Credentials for the registry of `reference`, if any are configured. `cache_host` is the
/// registry cache's host: the only one the `DEVENV_REGISTRY_*` credentials are sent to.
pub fn credentials(reference: &str, cache_host: Option<&str>) -> Option<DockerCredentials> {
    let host = normalize_host(registry_host(reference));
    let env = |k: &str| std::env::var(k).ok();
    cache_credentials(&host, cache_host, &env).or_else(|| {
        let config = DockerConfig::load(&docker_config_dir()?)?;
        config.lookup(&host, &|helper, server| run_helper(helper, server, None))
    })
}

/// The `DEVENV_REGISTRY_*` credentials (read through `env`) when `host` is the cache's.
fn cache_credentials(
    host: &str,
    cache_host: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<DockerCredentials> {
    if !cache_host.is_some_and(|c| same_host(c, host)) {
        return None;
    }
    let user = env("DEVENV_REGISTRY_USER")?;
    let password = env("DEVENV_REGISTRY_PASSWORD")?;
    Some(DockerCredentials {
        username: Some(user),
        password: Some(password),
        serveraddress: Some(host.to_owned()),
        ..DockerCredentials::default()
    })
}

/// The docker CLI's configuration directory: `$DOCKER_CONFIG`, else `~/.docker`.
pub(super) fn docker_config_dir() -> Option<PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".docker")))
}

/// The credential parts of the docker CLI's `config.json`.
#[derive(Debug, Default, Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(rename = "credsStore", default)]
    creds_store: Option<String>,
    #[serde(rename = "credHelpers", default)]
    cred_helpers: HashMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
}

/// What a `docker-credential-*` helper answers to `get`.
#[derive(Debug, Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// Runs helper `name` for `server`, returning its JSON answer.
type HelperRunner<'a> = &'a dyn Fn(&str, &str) -> Option<String>;

impl DockerConfig {
    fn load(dir: &Path) -> Option<DockerConfig> {
        let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
        match serde_json::from_str(&text) {
            Ok(config) => Some(config),
            Err(e) => {
                tracing::debug!("ignoring unreadable docker config.json: {e}");
                None
            }
        }
    }

    /// The credentials for `host` (normalized), as the docker CLI finds them.
    fn lookup(&self, host: &str, run: HelperRunner<'_>) -> Option<DockerCredentials> {
        let helper = self
            .cred_helpers
            .iter()
            .find(|(k, _)| same_host(k, host))
            .map(|(_, v)| v.as_str())
            .or(self.creds_store.as_deref())
            .filter(|h| !h.is_empty());
        if let Some(helper) = helper {
            // Helpers store Docker Hub under its index URL and everything else by host.
            let server = if host == "docker.io" {
                DOCKER_HUB_KEY
            } else {
                host
            };
            let answer: HelperAnswer = serde_json::from_str(&run(helper, server)?).ok()?;
            return Some(from_helper(answer, host));
        }
        let entry = self
            .auths
            .get(if host == "docker.io" {
                DOCKER_HUB_KEY
            } else {
                host
            })
            .or_else(|| {
                self.auths
                    .iter()
                    .find(|(k, _)| same_host(k, host))
                    .map(|(_, v)| v)
            })?;
        from_auth_entry(entry, host)
    }
}

fn from_helper(answer: HelperAnswer, host: &str) -> DockerCredentials {
    let mut c = DockerCredentials {
        serveraddress: Some(host.to_owned()),
        ..DockerCredentials::default()
    };
    // The helper protocol's way of saying "this is an identity token".
    if answer.username == "<token>" {
        c.identitytoken = Some(answer.secret);
    } else {
        c.username = Some(answer.username);
        c.password = Some(answer.secret);
    }
    c
}

fn from_auth_entry(entry: &AuthEntry, host: &str) -> Option<DockerCredentials> {
    let (username, password) = match entry.auth.as_deref().filter(|a| !a.is_empty()) {
        Some(encoded) => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()?;
            let (u, p) = String::from_utf8(decoded)
                .ok()?
                .split_once(':')
                .map(|(u, p)| (u.to_owned(), p.to_owned()))?;
            (Some(u), Some(p))
        }
        None => (entry.username.clone(), entry.password.clone()),
    };
    let identitytoken = entry.identitytoken.clone().filter(|t| !t.is_empty());
    if username.is_none() && identitytoken.is_none() {
        return None;
    }
    Some(DockerCredentials {
        username,
        password,
        identitytoken,
        serveraddress: Some(host.to_owned()),
        ..DockerCredentials::default()
    })
}

/// `docker-credential-<helper> get` with the server on stdin; its stdout on success. A
/// helper that is missing, fails or has nothing for the server yields `None`. `path`
/// replaces PATH for finding the helper (tests).
fn run_helper(helper: &str, server: &str, path: Option<&str>) -> Option<String> {
    if !helper
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        tracing::debug!("ignoring credential helper with an unusable name {helper:?}");
        return None;
    }
    let program = format!("docker-credential-{helper}");
    let mut cmd = Command::new(&program);
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    let mut child = cmd
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| tracing::debug!("cannot run {program}: {e}"))
        .ok()?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        // Its stdout says why ("credentials not found in native keychain"); no secret in it.
        tracing::debug!(
            "{program} has no credentials for {server}: {}",
            String::from_utf8_lossy(&out.stdout).trim()
        );
        return None;
    }
    String::from_utf8(out.stdout).ok()
}

impl Engine {
    /// This engine, with the `DEVENV_REGISTRY_*` credentials scoped to the host of the
    /// registry cache `registry` (`None`: sent nowhere).
    #[must_use]
    pub fn for_cache(&self, registry: Option<&str>) -> Engine {
        Engine {
            cache_host: registry.map(|r| normalize_host(registry_host(&format!("{r}/")))),
            ..self.clone()
        }
    }

    /// The credentials to send along with a pull or push of `reference`.
    pub(super) async fn credentials(&self, reference: &str) -> Option<DockerCredentials> {
        let reference = reference.to_owned();
        let cache_host = self.cache_host.clone();
        // A credential helper may take a moment (a keychain); keep it off the runtime.
        tokio::task::spawn_blocking(move || credentials(&reference, cache_host.as_deref()))
            .await
            .ok()
            .flatten()
    }

    /// Push `repo:tag` (which must exist locally) with the configured credentials.
    pub async fn push(&self, repo: &str, tag: &str) -> Result<()> {
        let opts = PushImageOptionsBuilder::new().tag(tag).build();
        let credentials = self.credentials(repo).await;
        let mut stream = self.docker.push_image(repo, Some(opts), credentials);
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| EngineError::api(format!("push {repo}:{tag}"), e))?;
            if let Some(err) = info.error_detail.and_then(|d| d.message) {
                return Err(EngineError::Api {
                    action: format!("push {repo}:{tag}"),
                    message: err,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(registry_host("ghcr.io/acme/env"), "ghcr.io");
        assert_eq!(registry_host("127.0.0.1:5000/x"), "127.0.0.1:5000");
        assert_eq!(registry_host("localhost/x"), "localhost");
        assert_eq!(registry_host("acme/env"), "docker.io");
        assert_eq!(registry_host("debian"), "docker.io");
    }

    #[test]
    fn host_matching_needs_the_same_host_and_port() {
        assert!(same_host("127.0.0.1:5000", "127.0.0.1:5000"));
        assert!(same_host("GHCR.io", "https://ghcr.io/v2/"));
        assert!(same_host("https://index.docker.io/v1/", "docker.io"));
        assert!(same_host("registry-1.docker.io", "docker.io"));
        assert!(!same_host("127.0.0.1:5000", "127.0.0.1:5001"));
        assert!(!same_host("127.0.0.1:5000", "127.0.0.1"));
        assert!(!same_host("ghcr.io", "ghcr.io.evil.example"));
        assert!(!same_host("", ""));
    }

    #[test]
    fn env_credentials_go_to_the_cache_host_only() {
        let env = |k: &str| match k {
            "DEVENV_REGISTRY_USER" => Some("ci".to_owned()),
            "DEVENV_REGISTRY_PASSWORD" => Some("hunter2".to_owned()),
            _ => None,
        };
        let cache = Some("127.0.0.1:5000");
        let host = |r: &str| normalize_host(registry_host(r));
        let to_cache = cache_credentials(&host("127.0.0.1:5000/cache:abc"), cache, &env).unwrap();
        assert_eq!(to_cache.password.as_deref(), Some("hunter2"));
        for other in [
            "127.0.0.1:5001/base:1",
            "ghcr.io/x/y:1",
            "debian:bookworm",
            "127.0.0.1/x",
        ] {
            assert!(
                cache_credentials(&host(other), cache, &env).is_none(),
                "{other}"
            );
        }
        assert!(cache_credentials(&host("127.0.0.1:5000/c:1"), None, &env).is_none());
        assert!(cache_credentials("127.0.0.1:5000", cache, &|_: &str| None).is_none());
    }

    fn parse(json: &str) -> DockerConfig {
        serde_json::from_str(json).unwrap()
    }

    fn no_helper(_: &str, _: &str) -> Option<String> {
        panic!("no helper may run")
    }

    #[test]
    fn auths_entries() {
        let auth = base64::engine::general_purpose::STANDARD.encode("ci:pa:ss");
        let config = parse(&format!(
            r#"{{"auths":{{"127.0.0.1:5000":{{"auth":"{auth}"}},
                "https://index.docker.io/v1/":{{"username":"hub","password":"pw"}},
                "https://ghcr.io":{{"identitytoken":"tok"}},
                "quay.io":{{}}}}}}"#
        ));
        let c = config.lookup("127.0.0.1:5000", &no_helper).unwrap();
        assert_eq!(c.username.as_deref(), Some("ci"));
        assert_eq!(c.password.as_deref(), Some("pa:ss"));
        let hub = config.lookup("docker.io", &no_helper).unwrap();
        assert_eq!(hub.username.as_deref(), Some("hub"));
        let ghcr = config.lookup("ghcr.io", &no_helper).unwrap();
        assert_eq!(ghcr.identitytoken.as_deref(), Some("tok"));
        // An empty placeholder entry, another port, another host: nothing.
        assert!(config.lookup("quay.io", &no_helper).is_none());
        assert!(config.lookup("127.0.0.1:5001", &no_helper).is_none());
        assert!(config.lookup("example.com", &no_helper).is_none());
    }

    #[test]
    fn helpers_as_the_docker_cli_picks_them() {
        // Docker Desktop: a store for everything, no usable `auths`.
        let config = parse(
            r#"{"auths":{"ghcr.io":{}},"credsStore":"desktop",
                "credHelpers":{"gcr.io":"gcloud"}}"#,
        );
        let asked = std::cell::RefCell::new(Vec::new());
        let run = |helper: &str, server: &str| {
            asked.borrow_mut().push(format!("{helper} {server}"));
            Some(r#"{"ServerURL":"x","Username":"u","Secret":"s"}"#.to_owned())
        };
        let c = config.lookup("ghcr.io", &run).unwrap();
        assert_eq!(c.username.as_deref(), Some("u"));
        assert_eq!(c.password.as_deref(), Some("s"));
        config.lookup("gcr.io", &run).unwrap();
        config.lookup("docker.io", &run).unwrap();
        assert_eq!(
            *asked.borrow(),
            [
                "desktop ghcr.io",
                "gcloud gcr.io",
                "desktop https://index.docker.io/v1/"
            ]
        );
        // A helper that has nothing: no credentials (and no fallback to `auths`).
        assert!(config.lookup("ghcr.io", &|_: &str, _: &str| None).is_none());
        // `<token>` marks an identity token.
        let token = |_: &str, _: &str| Some(r#"{"Username":"<token>","Secret":"t"}"#.to_owned());
        let c = config.lookup("ghcr.io", &token).unwrap();
        assert_eq!(c.identitytoken.as_deref(), Some("t"));
        assert!(c.username.is_none());
    }

    #[test]
    fn a_broken_config_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{not json").unwrap();
        assert!(DockerConfig::load(dir.path()).is_none());
        assert!(DockerConfig::load(&dir.path().join("missing")).is_none());
    }

    #[test]
    fn the_helper_protocol() {
        // A real helper program: `get` as its argument, the server on stdin, JSON out.
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("asked");
        let helper = dir.path().join("docker-credential-devenvtest");
        std::fs::write(
            &helper,
            format!(
                "#!/bin/sh\n[ \"$1\" = get ] || exit 3\nread -r server\necho \"$server\" > {}\n\
                 [ \"$server\" = ghcr.io ] || {{ echo 'credentials not found'; exit 1; }}\n\
                 echo '{{\"ServerURL\":\"ghcr.io\",\"Username\":\"helper-user\",\"Secret\":\"helper-secret\"}}'\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let run = |name: &str, server: &str| run_helper_at(dir.path(), name, server);
        let config = parse(r#"{"credsStore":"devenvtest"}"#);
        let c = config.lookup("ghcr.io", &run).unwrap();
        assert_eq!(c.username.as_deref(), Some("helper-user"));
        assert_eq!(c.password.as_deref(), Some("helper-secret"));
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "ghcr.io\n");
        assert!(config.lookup("quay.io", &run).is_none());
        assert!(run_helper_at(dir.path(), "../evil", "ghcr.io").is_none());
    }

    /// [`run_helper`] with `dir` first on PATH (for the child only).
    fn run_helper_at(dir: &Path, name: &str, server: &str) -> Option<String> {
        let path = format!(
            "{}:{}",
            dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        run_helper(name, server, Some(&path))
    }
}
