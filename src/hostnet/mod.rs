//! Where this machine is, as containers need to know it: the docker CLI's `proxies` (its
//! `config.json`) and, when the user asks for it, the host's CA bundle (a TLS-inspecting
//! proxy's certificate). Both belong to the user's network, not to the environment: they
//! reach build steps and containers, but never the image hash nor a committed layer.
//!
//! Proxies follow the docker CLI: the entry of `proxies` named like the engine's endpoint,
//! else `default`; each of `httpProxy`, `httpsProxy`, `noProxy`, `ftpProxy`, `allProxy`
//! becomes `HTTP_PROXY` and `http_proxy` (and so on), unless the container already sets
//! that variable. The CA bundle (`DEVENV_TRUST_HOST_CA`) is sent into the container by an
//! exec's stdin (so it works on remote engines, where no host path can be mounted), added
//! to the container's system bundle for the duration of a step and taken out again before
//! the commit ([`ca`]).

pub mod ca;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The variable that turns the host's CA bundle on: `1` (the host's system bundle), a
/// path of a PEM bundle, or `0`.
pub const TRUST_VAR: &str = "DEVENV_TRUST_HOST_CA";

/// Where the host's bundle is inside a container: a directory of devenv's own, outside
/// anything an image ships.
pub const CA_DIR: &str = "/run/devenv-ca";
/// The host's bundle inside a container (what the tools' variables point at).
pub const CA_PATH: &str = "/run/devenv-ca/host-ca.crt";

/// The variables that point tools at [`CA_PATH`]: OpenSSL (curl, Python's `ssl`, Ruby,
/// git with OpenSSL), requests, pip, Node.js (which adds it to its own roots).
const CA_VARS: &[&str] = &[
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "PIP_CERT",
    "NODE_EXTRA_CA_CERTS",
];

/// The host's system bundles, first found wins: Debian/Ubuntu/Alpine, Fedora/RHEL,
/// openSUSE, macOS/BSD.
const HOST_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

#[derive(Debug, thiserror::Error)]
pub enum HostNetError {
    #[error("{var}: `{value}` is not 1 (the host's CA bundle), 0, or the path of a PEM bundle")]
    BadSetting { var: String, value: String },
    #[error("{var}=1 but no CA bundle was found on this machine (looked at {looked})")]
    NoHostBundle { var: String, looked: String },
    #[error("cannot read the CA bundle {path} ({var}): {message}")]
    Unreadable {
        var: String,
        path: String,
        message: String,
    },
    #[error("{path} ({var}) holds no PEM certificate (no `-----BEGIN CERTIFICATE-----`)")]
    NotPem { var: String, path: String },
    #[error("cannot read the docker CLI's configuration {path}: {message}")]
    DockerConfig { path: String, message: String },
    #[error("{path}: {message}")]
    UserConfig { path: String, message: String },
}

impl HostNetError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            HostNetError::BadSetting { .. } => format!(
                "use 1 to give containers this machine's CA bundle (export {TRUST_VAR}=1), or \
                 the path of another PEM bundle"
            ),
            HostNetError::NoHostBundle { .. } => {
                format!("give the path of your PEM bundle: export {TRUST_VAR}=/path/to/bundle.pem")
            }
            HostNetError::Unreadable { var, .. } | HostNetError::NotPem { var, .. } => {
                format!("point {var} at a readable PEM file of CA certificates, or unset it")
            }
            HostNetError::DockerConfig { .. } => {
                "fix the JSON (the docker CLI refuses it too), or set DOCKER_CONFIG to another \
                 directory"
                    .into()
            }
            HostNetError::UserConfig { .. } => {
                "write `trust_host_ca = true` (or a path of a PEM bundle) there, or remove it"
                    .into()
            }
        })
    }
}

/// The host's CA bundle, read once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCa {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    /// What turned it on (for `doctor` and messages).
    pub source: String,
}

/// What the host's network asks of containers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostNetwork {
    /// `K=V`, upper- and lower-case, as the docker CLI passes them.
    pub proxy_env: Vec<String>,
    /// Which `proxies` entry of which file they came from.
    pub proxy_source: Option<String>,
    pub ca: Option<HostCa>,
}

impl HostNetwork {
    /// Read the settings for the engine at `endpoint` from this process's environment and
    /// the docker CLI's configuration directory.
    pub fn load(endpoint: &str) -> Result<HostNetwork, HostNetError> {
        let env = |k: &str| std::env::var(k).ok();
        let mut net = HostNetwork::default();
        if let Some(dir) = docker_config_dir(&env) {
            let path = dir.join("config.json");
            if let Some((proxy_env, key)) = proxies_from_file(&path, endpoint)? {
                net.proxy_source = Some(format!("{} (proxies.\"{key}\")", path.display()));
                net.proxy_env = proxy_env;
            }
        }
        net.ca = host_ca(&env)?;
        Ok(net)
    }

    /// Whether anything is in use.
    pub fn is_empty(&self) -> bool {
        self.proxy_env.is_empty() && self.ca.is_none()
    }

    /// The variables a container or a step gets, leaving out those `set` already has (the
    /// user's own setting wins, as with the docker CLI).
    pub fn env_for(&self, set: &[String]) -> Vec<String> {
        let has = |k: &str| set.iter().any(|kv| kv.split('=').next() == Some(k));
        let ca = self
            .ca
            .iter()
            .flat_map(|_| CA_VARS.iter())
            .map(|k| format!("{k}={CA_PATH}"));
        self.proxy_env
            .iter()
            .cloned()
            .chain(ca)
            .filter(|kv| !has(kv.split('=').next().unwrap_or_default()))
            .collect()
    }

    /// A digest of what the environment container was given (in its settings label), so a
    /// changed proxy or bundle recreates it. Empty when nothing is in use.
    pub fn fingerprint(&self) -> String {
        if self.is_empty() {
            return String::new();
        }
        let mut h = crate::fingerprint::Hasher::new("host-network");
        for kv in &self.proxy_env {
            h.field("proxy", kv.as_bytes());
        }
        if let Some(ca) = &self.ca {
            h.field("ca", &ca.bytes);
        }
        h.finish()
    }

    /// Lines saying what is in use, for `doctor`.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        match &self.proxy_source {
            Some(source) => {
                let names: Vec<&str> = self
                    .proxy_env
                    .iter()
                    .filter_map(|kv| kv.split('=').next())
                    .filter(|k| k.chars().all(|c| !c.is_ascii_lowercase()))
                    .collect();
                out.push(format!(
                    "proxies:         {} from {source}",
                    names.join(", ")
                ));
            }
            None => out.push(
                "proxies:         none (no `proxies` in the docker CLI's config.json)".into(),
            ),
        }
        match &self.ca {
            Some(ca) => out.push(format!(
                "host CA bundle:  {} ({}), given to steps and the environment at {CA_PATH}, \
                 not kept in images",
                ca.path.display(),
                ca.source
            )),
            None => out.push(format!(
                "host CA bundle:  not used (export {TRUST_VAR}=1 to use it)"
            )),
        }
        out
    }
}

/// The docker CLI's configuration directory: `$DOCKER_CONFIG`, else `~/.docker`.
fn docker_config_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("DOCKER_CONFIG")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".docker")))
}

/// The proxy variables of `config.json` at `path` for `endpoint`, with the key used.
fn proxies_from_file(
    path: &Path,
    endpoint: &str,
) -> Result<Option<(Vec<String>, String)>, HostNetError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(HostNetError::DockerConfig {
                path: path.display().to_string(),
                message: e.to_string(),
            })
        }
    };
    let config: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| HostNetError::DockerConfig {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
    Ok(proxies(&config, endpoint))
}

/// The docker CLI's rule: the `proxies` entry named like the endpoint, else `default`.
fn proxies(config: &serde_json::Value, endpoint: &str) -> Option<(Vec<String>, String)> {
    let all = config.get("proxies")?.as_object()?;
    let (key, entry) = all
        .get_key_value(endpoint)
        .or_else(|| all.get_key_value("default"))?;
    let fields = [
        ("httpProxy", "HTTP_PROXY"),
        ("httpsProxy", "HTTPS_PROXY"),
        ("noProxy", "NO_PROXY"),
        ("ftpProxy", "FTP_PROXY"),
        ("allProxy", "ALL_PROXY"),
    ];
    let mut vars = BTreeMap::new();
    for (field, var) in fields {
        let Some(value) = entry.get(field).and_then(serde_json::Value::as_str) else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        vars.insert(var.to_owned(), value.to_owned());
        vars.insert(var.to_ascii_lowercase(), value.to_owned());
    }
    if vars.is_empty() {
        return None;
    }
    let env = vars.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    Some((env, key.clone()))
}

/// The host's CA bundle when [`TRUST_VAR`] asks for it, else the user's
/// `trust_host_ca` setting (`~/.config/devenv/config.toml`).
fn host_ca(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<HostCa>, HostNetError> {
    let (value, var) = if let Some(value) = env(TRUST_VAR) {
        (value, TRUST_VAR.to_owned())
    } else {
        let Some(path) = crate::manifest::user::user_config_path(env) else {
            return Ok(None);
        };
        let setting = crate::manifest::user::trust_host_ca(&path).map_err(|message| {
            HostNetError::UserConfig {
                path: path.display().to_string(),
                message,
            }
        })?;
        let Some(value) = setting else {
            return Ok(None);
        };
        (value, format!("trust_host_ca in {}", path.display()))
    };
    let value = value.trim();
    let path = match value.to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "off" => return Ok(None),
        "1" | "true" | "yes" | "on" => host_bundle(env)?,
        _ if value.contains('/') => PathBuf::from(value),
        _ => {
            return Err(HostNetError::BadSetting {
                var,
                value: value.to_owned(),
            })
        }
    };
    let bytes = std::fs::read(&path).map_err(|e| HostNetError::Unreadable {
        var: var.clone(),
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    if !String::from_utf8_lossy(&bytes).contains("-----BEGIN CERTIFICATE-----") {
        return Err(HostNetError::NotPem {
            var,
            path: path.display().to_string(),
        });
    }
    Ok(Some(HostCa {
        path,
        bytes,
        source: if var == TRUST_VAR {
            format!("{TRUST_VAR}={value}")
        } else {
            var
        },
    }))
}

/// The bundle the host's own tools use: `SSL_CERT_FILE` when it names a file, else the
/// first system bundle found.
fn host_bundle(env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf, HostNetError> {
    let from_env = env("SSL_CERT_FILE")
        .map(PathBuf::from)
        .filter(|p| p.is_file());
    from_env
        .or_else(|| HOST_BUNDLES.iter().map(PathBuf::from).find(|p| p.is_file()))
        .ok_or_else(|| HostNetError::NoHostBundle {
            var: TRUST_VAR.into(),
            looked: format!("SSL_CERT_FILE, {}", HOST_BUNDLES.join(", ")),
        })
}

#[cfg(test)]
mod tests;
